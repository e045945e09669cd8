"""Issue 19, proof: sipvicious against `acdgate run` on loopback, as an attacker runs it.

svmap finds the gateway (a SIP server answers OPTIONS) and learns a generic User-Agent only;
svwar finds no extension with REGISTER, INVITE or OPTIONS over a range holding the demo site's
2101-2110; svcrack, with the real password deep in its list, is slowed then blocked and never
reaches it, while the real phone registers and logs an agent on meanwhile.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from acdgate.lab.gateway_process import GatewayProcess
from digest_phone import Phone
from sipp_scenarios import run_feature_call
from sipvicious_runs import PHONE, dictionary, run, svcrack_command, svwar
from sipwire import free_port

REAL = [str(n) for n in range(2101, 2111)]


def _metric(gw: GatewayProcess, name: str) -> float:
    found = re.search(rf'^{name}\{{protocol="sip"\}} (\S+)$', gw.get_text("/metrics"), re.M)
    assert found, name
    return float(found[1])


def test_svmap_finds_the_gateway_and_learns_only_a_generic_user_agent(gateway: GatewayProcess) -> None:
    host, port = gateway.sip
    result = run("svmap", host, f"-p{port}", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [r for r in result.stdout.splitlines() if f"{host}:{port}" in r]
    assert len(rows) == 1, result.stdout
    agent = rows[0].strip("| ").split("|")[-1].strip()
    assert re.fullmatch(r"acdgate/[0-9.]+", agent), rows  # a product and version, nothing of the site


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_finds_no_extension(gateway: GatewayProcess, method: str) -> None:
    result = svwar(gateway.sip, method)
    assert result.seconds < 60
    assert "found nothing" in result.stderr, result.stdout + result.stderr
    assert not any(re.search(rf"\b{ext}\b", result.stdout) for ext in REAL), result.stdout


def test_svcrack_is_blocked_before_the_password_while_the_phone_registers_and_logs_on(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    phone = Phone(PHONE, gateway.sip, "2101")
    try:
        assert phone.register("pw2101") == 200  # its usual address, before the attack
        words = dictionary(tmp_path / "passwords.txt", "pw2101", at=150, size=400)
        start = time.monotonic()
        cracker = subprocess.Popen(svcrack_command(gateway.sip, "2101", words),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            registrations = 0
            logged_on = False
            while True:
                try:
                    out, err = cracker.communicate(timeout=1.0)  # also what paces the phone
                    break
                except subprocess.TimeoutExpired:
                    pass
                assert time.monotonic() - start < 90, "svcrack ran on for more than 90 s"
                assert phone.register("pw2101") == 200
                registrations += 1
                if not logged_on:  # an agent logs on at the phone by short code meanwhile
                    call = run_feature_call(tmp_path, gateway.sip, "2101", "*35*3000*1234#", answered=True,
                                            rtp_port=free_port(), local_port=free_port(), ip=PHONE)
                    assert call.status == 200, call.output[-2000:]
                    logged_on = True
        finally:
            if cracker.poll() is None:
                cracker.kill()
                cracker.communicate()
        assert registrations >= 3 and logged_on
        assert "found nothing" in err and "pw2101" not in out, out + err
        assert _metric(gateway, "acdgate_auth_blocks_total") >= 1  # the source (ATTACKER) was blocked
        assert _metric(gateway, "acdgate_auth_failures_total") <= 25  # far short of guess 151
        agents = {str(a["user"]): a for a in gateway.get("/api/agents")}
        assert agents["3000"]["station"] == "2101", agents["3000"]
        assert phone.register("pw2101") == 200
    finally:
        phone.close()
