"""`acdgate run` serves the H.323 RAS gatekeeper: a real gateway process on loopback, an
endpoint's RRQ built by our codec with an H.235 CAT, answers read back by pycrate, the
registration in `/api/stations`, kept across SIGKILL, refusals alike, throttling per source."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    RegistrationRequest,
    TransportAddress,
)
from acdgate.gateway.site_loader import demo_site_text
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from pycrate_asn1dir import H225
from sipp_scenarios import users_csv
from sipwire import free_port

SUPPORT = Path(__file__).parent.parent / "support"


class Endpoint:
    """An H.323 endpoint's RAS socket on loopback: sends RRQs, reads answers with a timeout."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._random = 0

    def rrq(self, seq: int, alias: str, password: str | None, *, ttl: int = 120) -> bytes:
        """A full RRQ for `alias` (dialledDigits), with a CAT when `password` is given."""
        self._random = (self._random + 1) % 256  # each CAT fresh: the gatekeeper refuses replays
        tokens = ((make_cat(alias, password, int(time.time()), self._random),)
                  if password is not None else ())
        return RasCodec().encode(RegistrationRequest(
            seq=seq, call_signal_addresses=(TransportAddress("127.0.0.1", 1720),),
            ras_addresses=(TransportAddress("127.0.0.1", self.port),),
            terminal_aliases=(Alias(AliasKind.DIALLED_DIGITS, alias),), vendor="acdgate-test 1.0",
            time_to_live=ttl, tokens=tokens))

    def send(self, data: bytes, gw: GatewayProcess) -> None:
        self.sock.sendto(data, ras_address(gw))

    def answer(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(65535)
        return data

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recvfrom(65535)
        except BlockingIOError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.close()


def ras_address(gw: GatewayProcess) -> tuple[str, int]:
    ras = gw.info["h323"]["ras"]
    return (ras["host"], int(ras["port"]))


def decoded(data: bytes) -> tuple[str, dict[str, Any]]:
    """A RAS message as pycrate reads it: (CHOICE name, value)."""
    message = H225.H323_MESSAGES.RasMessage
    message.from_aper(data)
    name, value = message.get_val()
    return str(name), value


def h323_rows(gw: GatewayProcess, extension: str) -> list[dict[str, Any]]:
    row = next(s for s in gw.get("/api/stations") if s["extension"] == extension)
    rows: list[dict[str, Any]] = row["h323"]
    return rows


def test_ready_line_reports_the_ras_and_call_signalling_ports(gateway: GatewayProcess) -> None:
    h323 = gateway.info["h323"]
    assert h323["ras"]["host"] == "127.0.0.1" and 0 < h323["ras"]["port"] < 65536
    assert 0 < h323["port"] < 65536 and h323["port"] != 1720  # --h323-port 0: a free port
    assert h323["serves"] == ["ras", "call-signalling"]


def test_registration_shows_in_the_api_and_survives_sigkill(
        start_gateway: StartGateway, endpoint: Endpoint, store_args: list[str]) -> None:
    """On SQLite and on PostgreSQL (`--store URL`: conftest's `store_url`)."""
    gw = start_gateway(extra=store_args)
    endpoint.send(endpoint.rrq(1, "2201", "pw2201"), gw)
    name, rcf = decoded(endpoint.answer())
    assert name == "registrationConfirm" and rcf["requestSeqNum"] == 1
    assert rcf["timeToLive"] == 120
    assert rcf["callSignalAddress"][0][1]["port"] == gw.info["h323"]["port"]  # ours: routed
    (row,) = h323_rows(gw, "2201")
    assert row["endpoint_identifier"] == rcf["endpointIdentifier"]
    assert row["aliases"] == [{"kind": "dialledDigits", "value": "2201"}]
    assert row["call_signal_address"] == "127.0.0.1:1720"
    assert row["source"] == f"127.0.0.1:{endpoint.port}"
    assert row["endpoint_type"] == "terminal" and row["vendor"] == "acdgate-test 1.0"
    assert 110 <= row["expires"] <= 120
    station = next(s for s in gw.get("/api/stations") if s["extension"] == "2201")
    assert station["registered"] and station["h323_alias"] == "2201"
    assert h323_rows(gw, "2202") == []
    gw.kill()  # as a crash would: no shutdown hooks run
    gw = start_gateway(extra=store_args)  # the same state directory (or database)
    (after,) = h323_rows(gw, "2201")
    assert after["endpoint_identifier"] == row["endpoint_identifier"]
    assert after["source"] == row["source"] and 0 < after["expires"] <= row["expires"]


def test_wrong_password_and_unknown_alias_get_the_same_rrj(
        gateway: GatewayProcess, endpoint: Endpoint) -> None:
    endpoint.send(endpoint.rrq(7, "2202", "not-the-password"), gateway)
    wrong = endpoint.answer()
    endpoint.send(endpoint.rrq(7, "2299", "pw2299"), gateway)
    unknown = endpoint.answer()
    endpoint.send(endpoint.rrq(7, "2203", None), gateway)
    missing = endpoint.answer()
    assert wrong == unknown == missing  # byte for byte: nothing tells which aliases exist
    name, rrj = decoded(wrong)
    assert name == "registrationReject" and rrj["rejectReason"][0] == "securityDenial"
    gateway.wait_for_output(r"RAS RRQ from .* refused: no station has these aliases")
    assert h323_rows(gateway, "2202") == [] and h323_rows(gateway, "2203") == []


def test_failures_from_one_source_are_delayed_then_blocked(
        start_gateway: StartGateway, endpoint: Endpoint, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text()
                    .replace("auth_failures_before_delay = 5", "auth_failures_before_delay = 2")
                    .replace("auth_failures_before_block = 20", "auth_failures_before_block = 3"))
    gw = start_gateway(config=site)
    for seq in (1, 2):  # answered at once
        endpoint.send(endpoint.rrq(seq, "2201", "wrong"), gw)
        assert decoded(endpoint.answer())[0] == "registrationReject"
    sent = time.monotonic()
    endpoint.send(endpoint.rrq(3, "2201", "wrong"), gw)
    assert decoded(endpoint.answer())[0] == "registrationReject"
    assert time.monotonic() - sent >= 0.9  # the third failure's answer is held a second
    mark = gw.mark()
    endpoint.send(endpoint.rrq(4, "2201", "wrong"), gw)  # the fourth blocks the source
    gw.wait_for_output(r"RAS datagram from 127\.0\.0\.1:\d+ dropped: RRQ refused .* source "
                       r"blocked after 4 authentication failures", since=mark)
    mark = gw.mark()
    endpoint.send(endpoint.rrq(5, "2201", "pw2201"), gw)  # even the right password, now
    gw.wait_for_output(r"RAS datagram from 127\.0\.0\.1:\d+ dropped: source blocked", since=mark)
    assert endpoint.nothing_waiting()
    assert h323_rows(gw, "2201") == []


def test_no_h323_leaves_the_ras_port_unanswered(start_gateway: StartGateway,
                                                endpoint: Endpoint) -> None:
    port = free_port()
    gw = start_gateway(extra=["--no-h323", "--h323-ras-port", str(port)])
    assert "h323" not in gw.info
    endpoint.sock.connect(("127.0.0.1", port))
    endpoint.sock.send(endpoint.rrq(1, "2201", "pw2201"))
    with pytest.raises(ConnectionRefusedError):  # ICMP port unreachable: no socket there
        endpoint.answer()


def _sipp_register_2101(tmp: Path, target: tuple[str, int]) -> None:
    users = users_csv(tmp / "users.csv", ["2101"])
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / "register_auth.xml"), "-inf", str(users),
            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "30s", "-nostdin",
            f"{target[0]}:{target[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1\b", out), out[-2000:]


def test_a_malformed_datagram_is_logged_and_both_protocols_keep_serving(
        gateway: GatewayProcess, endpoint: Endpoint, tmp_path: Path) -> None:
    # (an RRQ cut before its requestSeqNum: one cut after it gets an RRJ, test_h323_corpus)
    for junk in (b"", b"\xff\x00\x01garbage", endpoint.rrq(1, "2201", "pw2201")[:3]):
        mark = gateway.mark()
        endpoint.send(junk, gateway)
        gateway.wait_for_output(r"RAS datagram from 127\.0\.0\.1:\d+ dropped: ", since=mark)
    _sipp_register_2101(tmp_path, gateway.sip)
    row = next(s for s in gateway.get("/api/stations") if s["extension"] == "2101")
    assert row["registered"] and row["contacts"][0]["user_agent"] == "SIPp"
    endpoint.send(endpoint.rrq(2, "2201", "pw2201"), gateway)
    assert decoded(endpoint.answer())[0] == "registrationConfirm"
    assert endpoint.nothing_waiting()  # the junk was never answered
