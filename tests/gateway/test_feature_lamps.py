"""Short code calls light the busy lamps (issue 16): a SIPp BLF key at 2110 watches 2101
(tests/support/sipp/blf_feature_call.xml) while 2101 dials `*37` with SIPp; the key sees the
station's dialog early, confirmed and terminated (RFC 4235 3.7.1), as the initiator."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from acdgate.lab.gateway_process import GatewayProcess
from pyvoip_parties import logon, wait_logged, wait_state
from sipp_scenarios import run_feature_call
from sipwire import free_port

SUPPORT = Path(__file__).parent.parent / "support"


def _watcher(tmp: Path, gw: GatewayProcess) -> subprocess.Popen[str]:
    users = tmp / "users_watcher.csv"
    users.write_text("SEQUENTIAL\n2110;[authentication username=2110 password=pw2110];2101\n")
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / "blf_feature_call.xml"), "-inf", str(users),
            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "60s", "-nostdin",
            "-trace_err", "-error_file", str(tmp / "errors_watcher.log"), f"{gw.sip[0]}:{gw.sip[1]}"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp)


def test_a_station_dialling_a_short_code_is_on_a_call_for_its_watchers(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    logon(gateway, "2101", "3000", ready=False)
    watcher = _watcher(tmp_path, gateway)
    try:
        wait_logged(gateway, r"2110 subscribed to dialog of 2101", "the busy lamp key's subscription")
        result = run_feature_call(tmp_path, gateway.sip, "2101", "*37", answered=True)
        assert result.status == 200
        wait_state(gateway, "3000", "READY")
        out, _ = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    errors = tmp_path / "errors_watcher.log"
    text = errors.read_text() if errors.exists() else ""
    assert watcher.returncode == 0, f"the BLF key failed ({watcher.returncode}):\n{out[-3000:]}\n{text[-3000:]}"
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1", out), out[-2000:]
