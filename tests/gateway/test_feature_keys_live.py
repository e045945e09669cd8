"""A phone's feature keys follow a state change made elsewhere: SIPp subscribes to
as-feature-event for station 2101, then a short code dialled from 2101's other device (SIPp
again) makes the agent Ready, and the subscription gets the AgentReadyEvent NOTIFY."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from acdgate.lab.gateway_process import StartGateway
from loopback_phone import registered
from sipp_scenarios import run_feature_call
from sipwire import free_port

SUPPORT = Path(__file__).parent.parent / "support"


def test_short_code_from_another_device_is_notified_to_the_feature_keys(
        start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = start_gateway()
    watcher: subprocess.Popen[str] | None = None
    try:
        with registered(gw.sip, "2101"):  # the phone, from 127.0.0.1 (issue 19)
            assert "Not Ready" in gw.get_text("/xml/login?ext=2101&id=3000&pin=1234")
        users = tmp_path / "watch.csv"
        users.write_text("SEQUENTIAL\n2101;[authentication username=2101 password=pw2101];3000;1234\n")
        watcher = subprocess.Popen(
            ["sipp", "-sf", str(SUPPORT / "sipp" / "feature_event_watch.xml"), "-inf", str(users),
             "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "40s", "-nostdin",
             "-trace_err", "-error_file", str(tmp_path / "watch_errors.log"), f"{gw.sip[0]}:{gw.sip[1]}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        )
        gw.wait_for_output("2101 subscribed to as-feature-event of 2101")
        result = run_feature_call(tmp_path, gw.sip, "2101", "*37", answered=True, rtp_port=free_port(),
                                  local_port=free_port())
        assert result.status == 200
        out, _ = watcher.communicate(timeout=30)
        errors = tmp_path / "watch_errors.log"
        assert watcher.returncode == 0, out[-2000:] + (errors.read_text() if errors.exists() else "")
        assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1", out)
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.wait()
