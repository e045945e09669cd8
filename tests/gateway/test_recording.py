"""Call recording on routed calls with pyVoIP phones: the agent's `*43` (a second call from the
agent's phone during the call), a supervisor's recording over HTTP that the agent's `*44`
cannot stop; stereo WAV files (caller left, agent right) listed by /api/recordings."""

from __future__ import annotations

import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
from acdgate.codecs.tone_detector import detect_tone
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.lab.gateway_process import GatewayProcess
from loopback_phone import register
from pyvoip_parties import (
    answerer,
    answerer_result,
    caller,
    caller_result,
    logon,
    post,
    wait_logged,
    wait_state,
)

CALLER_TONE = 600.0
AGENT_TONE = 1000.0


def _finished_recordings(gw: GatewayProcess) -> list[dict[str, Any]]:
    """The finished recordings once the agent's call has completed: the gateway closes the
    call's recording before it tells the ACD the call ended, so after the ACD's log line one
    read of /api/recordings has them."""
    wait_logged(gw, r"\bCallCompleted\([^\n]*\buser_id='3000'", "the agent's call completed")
    return [r for r in gw.get("/api/recordings") if r["ended"] is not None]


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return stereo[:, 0], stereo[:, 1]


def test_agent_records_a_call_with_star43(gateway: GatewayProcess) -> None:
    logon(gateway, "2101", "3000")
    agent = answerer(gateway, "2101", AGENT_TONE, talk_seconds=5.0, dial_during=["1.0:*43"])
    call = caller(gateway, "2105", "6000", tone=CALLER_TONE)
    events, agent_heard = answerer_result(agent)
    result, caller_heard = caller_result(call)
    assert result["answered"] and result["ended_by_far_end"], result
    assert {"event": "dialled", "code": "*43", "ended": True} in events
    assert detect_tone(caller_heard, (AGENT_TONE,)) and detect_tone(agent_heard, (CALLER_TONE,))

    rows = _finished_recordings(gateway)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["agent"], row["group"], row["by"], row["supervisor"]) == ("3000", "6000", "3000", False)
    path = Path(row["path"])
    assert path.parent == gateway.state_dir / "recordings"
    assert re.fullmatch(r"\d{8}-\d{6}-.+-3000\.wav", path.name), path.name
    assert row["size"] == path.stat().st_size > 44
    assert 2.0 < row["duration"] < 6.0 and row["ended"] > row["started"]
    left, right = _channels(path)
    assert detect_tone(left, (CALLER_TONE,)) and not detect_tone(left, (AGENT_TONE,))
    assert detect_tone(right, (AGENT_TONE,)) and not detect_tone(right, (CALLER_TONE,))
    assert abs(len(left) / 8000 - row["duration"]) < 0.01
    # journaled for the reports' recordings per agent (issue 17)
    started = list(read_journal(gateway.state_dir / "acdgate.sqlite3", kinds=["RecordingStarted"]))
    assert [(r["user_id"], r["group"], r["by"], r["supervisor"]) for r in started] == [("3000", "6000", "3000", False)]


def test_supervisor_recording_cannot_be_stopped_by_the_agent(gateway: GatewayProcess) -> None:
    logon(gateway, "2110", "3900", pin="9999", ready=False)
    logon(gateway, "2101", "3000")
    agent = answerer(gateway, "2101", AGENT_TONE, talk_seconds=6.0, dial_during=["2.5:*44"])
    call = caller(gateway, "2105", "6000", tone=CALLER_TONE)
    wait_state(gateway, "3000", "TALKING")
    status, answer = post(gateway, "/api/agents/3000/record", {"user": "3000"})
    assert status == 403, answer  # an agent without supervisor rights
    register(gateway.sip, "2110")  # the supervisor's phone, from 127.0.0.1 (issue 19)
    status, answer = post(gateway, "/api/agents/3000/record", {"user": "3900"})
    assert status == 200, answer
    # guide "Monitoring/Recording Notification": the agent's status line says so
    assert "Talking : Rec" in gateway.get_text("/xml/stats?ext=2101")
    events, _ = answerer_result(agent)
    caller_result(call)
    assert {"event": "dialled", "code": "*44", "ended": True} in events
    assert "You cannot stop a supervisor-initiated recording" in gateway.output()

    rows = _finished_recordings(gateway)
    assert [(r["by"], r["supervisor"]) for r in rows] == [("3900", True)]
    assert rows[0]["duration"] > 4.0  # it went on to the end of the call, past the agent's *44
    left, right = _channels(Path(rows[0]["path"]))
    assert detect_tone(left, (CALLER_TONE,)) and detect_tone(right, (AGENT_TONE,))
