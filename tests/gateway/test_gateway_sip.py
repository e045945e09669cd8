"""A running `acdgate run` on loopback, exercised by SIPp, pyVoIP, raw sockets and tshark."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from sipp_scenarios import users_csv
from sipwire import UdpProbe, free_port, header, options, status_line, tshark_fields

SUPPORT = Path(__file__).parent.parent / "support"
HOSTILE = Path(__file__).parent / "data" / "hostile"
STATIONS = [str(n) for n in range(2101, 2111)]


def _sipp_register(tmp: Path, target: tuple[str, int], calls: int, rate: int, transport: str = "u1") -> str:
    """Run the REGISTER-with-digest scenario; returns SIPp's output (fails on any failed call)."""
    users = users_csv(tmp / "users.csv", STATIONS)
    stat = tmp / "sipp_stat.csv"
    args = [
        "sipp", "-sf", str(SUPPORT / "sipp" / "register_auth.xml"), "-inf", str(users),
        "-i", "127.0.0.1", "-p", str(free_port()), "-t", transport,
        "-m", str(calls), "-r", str(rate), "-timeout", "60s", "-nostdin",
        "-trace_stat", "-stf", str(stat), "-trace_err", "-error_file", str(tmp / "sipp_errors.log"),
        f"{target[0]}:{target[1]}",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp)
    out = proc.stdout + proc.stderr
    errors = (tmp / "sipp_errors.log").read_text() if (tmp / "sipp_errors.log").exists() else ""
    assert proc.returncode == 0, f"SIPp failed ({proc.returncode}):\n{out[-3000:]}\n{errors[-3000:]}"
    failed = re.search(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", out)
    ok = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", out)
    assert failed and ok, out[-2000:]
    assert int(failed.group(1)) == 0
    assert int(ok.group(1)) == calls
    return out


@pytest.fixture
def gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """The demo site with `--sip-trace`: test_sip_trace_decodes_in_tshark_... reads what every
    exchange here leaves in ``tmp_path / "trace.pcap"``."""
    return start_gateway(extra=["--sip-trace", str(tmp_path / "trace.pcap")])


def _registered(gw: GatewayProcess) -> dict[str, list[dict[str, object]]]:
    return {s["extension"]: s["contacts"] for s in gw.get("/api/stations") if s["registered"]}


def test_sipp_register_with_digest_at_300_per_second(gateway: GatewayProcess, tmp_path: Path) -> None:
    _sipp_register(tmp_path, gateway.sip, calls=1500, rate=300)
    registered = _registered(gateway)
    assert sorted(registered) == STATIONS
    contact = registered["2101"][0]
    assert contact["transport"] == "UDP"
    assert contact["user_agent"] == "SIPp"
    assert 3500 <= int(str(contact["expires"])) <= 3600


def test_sipp_register_over_tcp(gateway: GatewayProcess, tmp_path: Path) -> None:
    _sipp_register(tmp_path, gateway.sip, calls=20, rate=50, transport="t1")
    registered = _registered(gateway)
    assert sorted(registered) == STATIONS
    assert {c["transport"] for contacts in registered.values() for c in contacts} == {"TCP"}


def test_bindings_survive_restart_and_kill_9(start_gateway: StartGateway, tmp_path: Path,
                                             store_args: list[str]) -> None:
    """On SQLite and on PostgreSQL (`--store URL`: conftest's `store_url`)."""
    gw = start_gateway(extra=store_args)  # each start runs on the same state directory (or database)
    try:
        _sipp_register(tmp_path, gw.sip, calls=10, rate=50)
        before = _registered(gw)
    finally:
        gw.kill()  # as a crash would: no shutdown hooks run
    assert sorted(before) == STATIONS
    gw = start_gateway(extra=store_args)
    after = _registered(gw)
    assert {k: [c["contact"] for c in v] for k, v in after.items()} == {
        k: [c["contact"] for c in v] for k, v in before.items()
    }
    assert gw.stop() == 0
    gw = start_gateway(extra=store_args)  # and after an orderly stop
    assert sorted(_registered(gw)) == STATIONS


def test_options_to_the_gateway(gateway: GatewayProcess) -> None:
    probe = UdpProbe()
    try:
        probe.send(options(gateway.sip, probe.port, call_id="opt-1"), gateway.sip)
        answer, _ = probe.until_call_id("opt-1")
    finally:
        probe.close()
    assert status_line(answer)[0] == 200
    assert "REGISTER" in (header(answer, "Allow") or "")
    assert "application/sdp" in (header(answer, "Accept") or "")
    assert header(answer, "Supported") is not None
    via = header(answer, "Via") or ""
    assert f"rport={probe.port}" in via and "received=127.0.0.1" in via


def test_hostile_messages_get_400_or_silence_and_the_gateway_keeps_serving(gateway: GatewayProcess) -> None:
    probe = UdpProbe()
    verdicts: dict[str, list[tuple[int, str]]] = {}
    try:
        for i, path in enumerate(sorted(HOSTILE.glob("*.dat"))):
            data = path.read_bytes()[:65000]
            probe.send(data, gateway.sip)
            # UDP on loopback is in order and the gateway is one reactor thread: the OPTIONS
            # answer comes after whatever the hostile datagram provoked.
            call_id = f"after-{i}"
            probe.send(options(gateway.sip, probe.port, call_id=call_id), gateway.sip)
            answer, before = probe.until_call_id(call_id)
            assert status_line(answer)[0] == 200, path.name
            verdicts[path.name] = [status_line(b) for b in before if b.startswith(b"SIP/2.0 ")]
    finally:
        probe.close()
    for name, answers in verdicts.items():
        for status, _ in answers:
            if name.startswith("ok_"):
                assert status != 400, (name, answers)  # valid, if odd: answered on its merits
            else:
                assert status == 400, (name, answers)
    # specific defects are named in the reason phrase
    assert verdicts["duplicate_to.dat"] and "To" in verdicts["duplicate_to.dat"][0][1]
    assert verdicts["missing_cseq.dat"] == []  # cannot be answered without CSeq: dropped
    assert verdicts["binary_garbage.dat"] == []
    assert "Unknown Method" in verdicts["ok_unknown_method.dat"][0][1]
    assert "the gateway keeps answering" and gateway.proc is not None and gateway.proc.poll() is None


def test_sip_trace_decodes_in_tshark_without_malformed_packets(gateway: GatewayProcess, tmp_path: Path) -> None:
    _sipp_register(tmp_path, gateway.sip, calls=10, rate=50)
    _sipp_register(tmp_path, gateway.sip, calls=4, rate=50, transport="t1")
    gateway.stop()
    pcap = str(tmp_path / "trace.pcap")
    rows = tshark_fields(pcap, "sip.Method", "sip.Status-Code", "ip.proto")
    methods = [r[0] for r in rows if r[0]]
    statuses = [r[1] for r in rows if r[1]]
    assert methods.count("REGISTER") == 28  # 14 registrations, each challenged once
    assert statuses.count("401") == 14 and statuses.count("200") == 14
    assert {r[2] for r in rows} == {"17", "6"}
    malformed = subprocess.run(["tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    assert malformed.strip() == ""


def test_pyvoip_registers_with_digest(gateway: GatewayProcess) -> None:
    sip_port = free_port()
    worker = subprocess.Popen(
        [sys.executable, str(SUPPORT / "pyvoip_worker.py"), "--server", gateway.sip[0], "--port",
         str(gateway.sip[1]), "--user", "2105", "--password", "pw2105", "--sip-port", str(sip_port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert worker.stdout is not None
        started = json.loads(worker.stdout.readline() or "{}")
        assert started.get("registered") is True, (started, gateway.output()[-2000:])
        contacts = _registered(gateway)["2105"]
        assert contacts[0]["transport"] == "UDP"
        assert "pyVoIP" in str(contacts[0]["user_agent"])
    finally:
        worker.kill()  # pyVoIP's stop() can hang: the worker is simply killed
        worker.communicate(timeout=10)
