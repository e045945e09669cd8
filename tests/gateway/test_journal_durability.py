"""An acknowledged ACD event is never lost, even when the process is killed with SIGKILL: on
SQLite and on PostgreSQL (conftest's `store_url`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import load_site
from acdgate.gateway.storage.location import open_store
from twisted.internet import task

WRITER = Path(__file__).parent.parent / "support" / "acd_journal_writer.py"


def test_kill_9_mid_stream_loses_no_acknowledged_event(tmp_path: Path, store_url: str | None) -> None:
    state = tmp_path / "state"
    writer = subprocess.Popen([sys.executable, str(WRITER), str(state), *([store_url] if store_url else [])],
                              stdout=subprocess.PIPE, text=True)
    acked: list[dict[str, object]] = []
    try:
        assert writer.stdout is not None
        while len(acked) < 400:
            line = writer.stdout.readline()
            assert line, "writer stopped early"
            acked.extend(json.loads(line))
    finally:
        writer.kill()  # SIGKILL, mid-stream: it is still writing
        # read through the same text stream readline used (communicate(timeout=...) reads the
        # pipe's fd directly and would skip what the stream had already buffered)
        assert writer.stdout is not None
        rest = writer.stdout.read()
        writer.wait(timeout=10)
    assert writer.returncode == -9
    # acknowledgements it printed before the kill that we had not read yet count too (the last
    # line may be cut off by the kill: it was never a whole acknowledgement)
    for line in rest.split("\n")[:-1]:
        acked.extend(json.loads(line))

    store = open_store(store_url, state)
    journal = [{k: v for k, v in r.items() if k != "seq"} for r in store.journal()]
    # every acknowledged event is there, in order, as one contiguous run after the logins
    first = journal.index(acked[0])
    assert journal[first : first + len(acked)] == acked
    in_flight = journal[first + len(acked) :]  # committed, killed before it was printed
    assert len(in_flight) <= 2, in_flight
    last_acked: dict[str, str] = {}
    for record in acked + in_flight:
        if record["type"] == "StateChanged":
            last_acked[str(record["user_id"])] = str(record["new"])

    clock = task.Clock()
    clock.advance(1_900_000_000)
    restored = AcdService(clock, load_site(None), store)
    assert len(last_acked) == 10
    for user, state_value in last_acked.items():
        agent = restored.acd.agent(user)
        assert agent is not None and agent.station is not None
        assert agent.state is AgentState(state_value)
    restored.stop()
    store.close()
