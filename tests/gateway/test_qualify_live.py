"""OPTIONS qualify against a running gateway: a station that stops answering is marked
unreachable, and reachable again once it answers (short timers from the site file)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from acdgate.lab.lab_site import write_site
from sipp_scenarios import users_csv
from sipwire import free_port, header

SUPPORT = Path(__file__).parent.parent / "support"


def _station(gw: GatewayProcess, ext: str) -> dict[str, object]:
    return next(s for s in gw.get("/api/stations") if s["extension"] == ext)


def _wait_for(gw: GatewayProcess, ext: str, reachable: bool, timeout: float) -> None:
    """The gateway logs each reachability change as the qualifier makes it: wait for that."""
    gw.wait_for_output(f"station {ext} is {'reachable again' if reachable else 'unreachable'}", timeout)
    assert _station(gw, ext)["reachable"] is reachable


def test_a_silent_station_becomes_unreachable_and_comes_back(start_gateway: StartGateway, tmp_path: Path) -> None:
    site = write_site(tmp_path / "site.toml", qualify_seconds=1, timer_t1_ms=50, timer_t2_ms=400)
    gw = start_gateway(config=site)
    port = free_port()
    users = users_csv(tmp_path / "users.csv", ["2109"])
    done = subprocess.run(
        ["sipp", "-sf", str(SUPPORT / "sipp" / "register_auth.xml"), "-inf", str(users), "-i", "127.0.0.1",
         "-p", str(port), "-m", "1", "-nostdin", "-timeout", "20s", f"{gw.sip[0]}:{gw.sip[1]}"],
        capture_output=True, text=True, timeout=40, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-1500:]
    # SIPp is gone: its contact answers nothing; F = 64 T1 = 3.2 s after the first OPTIONS
    _wait_for(gw, "2109", reachable=False, timeout=15)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", port))
        phone.settimeout(10)
        data, addr = phone.recvfrom(65535)
        assert data.startswith(b"OPTIONS sip:2109@127.0.0.1:")
        answer = b"SIP/2.0 200 OK\r\n"
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            answer += f"{name}: {header(data, name)}\r\n".encode()
        phone.sendto(answer + b"Content-Length: 0\r\n\r\n", addr)
        _wait_for(gw, "2109", reachable=True, timeout=10)
