"""Issue 19, SIP: a running `acdgate run` on loopback against hand-made attackers.

Guessing spread over ten addresses, blind lock-out with forged nonces from a "victim" address
(127.0.0.2: loopback answers for all of 127/8), the stateless INVITE challenge, silence toward
a blocked source, the TCP idle timeout and connection caps, and 513 over TCP. Silence is
measured, never slept on: a control request from another source is answered first, and then
the silent socket is read with a bounded timeout.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from pathlib import Path

import pytest
from acdgate.gateway.sip.stack import _StreamProtocol
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from acdgate.lab.lab_site import write_site
from digest_phone import Phone
from inprocess_gateway import World
from sipwire import header, status_line
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher


@pytest.fixture
def phones(gateway: GatewayProcess) -> list[Phone]:
    made: list[Phone] = []
    yield made  # type: ignore[misc]
    for p in made:
        p.close()


def _phone(phones: list[Phone], gw: GatewayProcess, host: str, user: str = "2101") -> Phone:
    p = Phone(host, gw.sip, user)
    phones.append(p)
    return p


def test_ten_sources_by_five_guesses_do_not_find_the_password_and_the_phone_still_registers(
        gateway: GatewayProcess, phones: list[Phone]) -> None:
    real = _phone(phones, gateway, "127.0.0.1")
    assert real.register("pw2101") == 200
    guessers = [_phone(phones, gateway, f"127.0.1.{i}") for i in range(1, 11)]
    passwords = [f"guess{i}" for i in range(49)] + ["pw2101"]  # the right one is the 50th
    statuses = []
    for n, password in enumerate(passwords):
        g = guessers[n % 10]
        challenge = g.challenge()
        g.send(g.request(authorization=g.authorization(challenge, password)))
        statuses.append(status_line(g.receive())[0])
        if n == 25:  # meanwhile the real phone, from its usual address, registers at once
            assert real.register("pw2101") == 200
    assert statuses == [401] * 50  # the right guess too: the account was held
    assert real.register("pw2101") == 200
    # another station is not held
    assert _phone(phones, gateway, "127.0.1.1", "2102").register("pw2102") == 200
    gateway.wait_for_output(r"SIP authentication: \d+ failure\(s\), \d+ attempt\(s\) on held accounts refused")
    metrics = gateway.get_text("/metrics")
    refused = re.search(r'acdgate_auth_account_refused_total\{account="2101",protocol="sip"\} (\d+)', metrics)
    assert refused and int(float(refused[1])) >= 30, metrics[-3000:]


def test_forged_nonces_sent_as_a_victim_do_not_block_it(gateway: GatewayProcess, phones: list[Phone]) -> None:
    attacker = _phone(phones, gateway, "127.0.0.3")
    own = attacker.challenge()  # a real nonce, but issued to the attacker's address
    victim_addr = _phone(phones, gateway, "127.0.0.2")  # stands for the spoofed source
    for i in range(30):  # the 21 and more, answers never read
        nonce = "A" * 43 if i % 2 else None
        victim_addr.send(victim_addr.request(authorization=attacker.authorization(own, "guess", nonce=nonce)))
    victim = _phone(phones, gateway, "127.0.0.2")
    assert victim.register("pw2101") == 200


def test_an_unauthenticated_invite_gets_exactly_one_401_and_no_retransmission(
        gateway: GatewayProcess, phones: list[Phone]) -> None:
    caller = _phone(phones, gateway, "127.0.0.1")
    invite = caller.request("INVITE")
    caller.send(invite)
    answer = caller.receive()
    assert status_line(answer)[0] == 401, answer  # no 100 Trying before it either
    # a server transaction would retransmit at T1, 2*T1, 4*T1 (0.5, 1.5, 3.5 s) until an ACK
    assert caller.silent_for(2.0)


def test_a_blocked_source_gets_no_bytes_back(gateway: GatewayProcess, phones: list[Phone]) -> None:
    guesser = _phone(phones, gateway, "127.0.0.4")
    challenge = guesser.challenge()
    for _ in range(21):  # more than auth_failures_before_block (20): answers never waited for
        guesser.send(guesser.request(authorization=guesser.authorization(challenge, "wrong")))
    # sent on: an INVITE and a REGISTER; then a control INVITE from elsewhere is answered
    guesser.send(guesser.request("INVITE"))
    guesser.send(guesser.request("OPTIONS", uri=f"sip:{gateway.sip[0]}"))
    guesser.send(guesser.request())
    control = _phone(phones, gateway, "127.0.0.5")
    control.send(control.request("INVITE"))
    assert status_line(control.receive())[0] == 401
    received = []
    guesser.sock.settimeout(1.0)
    while True:  # the guesser's socket: whatever came (the first answers, before the block)
        try:
            received.append(guesser.sock.recvfrom(65535)[0])
        except TimeoutError:
            break
    last = {f"{guesser.cseq - 2} INVITE", f"{guesser.cseq - 1} OPTIONS", f"{guesser.cseq} REGISTER"}
    assert not any(header(r, "CSeq") in last for r in received), received
    assert not any(status_line(r)[0] in (100, 403) for r in received)


def _tcp(host: str, gw: GatewayProcess) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.connect(gw.sip)
    return s


def _closed_within(s: socket.socket, seconds: float) -> bool:
    """Whether the gateway closes `s` within `seconds` (reads until EOF or a reset)."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _refused(host: str, gw: GatewayProcess) -> bool:
    """Whether a new connection from `host` is dropped at once (the reset may even reach
    connect itself, before it returns)."""
    try:
        s = _tcp(host, gw)
    except ConnectionResetError:
        return True
    try:
        return _closed_within(s, 2.0)
    finally:
        s.close()


@pytest.fixture
def tcp_gateway(start_gateway: StartGateway, tmp_path: Path) -> GatewayProcess:
    """Short idle time, small caps: what the TCP tests measure."""
    return start_gateway(config=write_site(tmp_path / "site.toml", tcp_idle_seconds=2,
                                           tcp_max_connections=6, tcp_max_connections_per_source=3))


def test_an_idle_tcp_connection_is_closed_after_the_idle_time_and_keepalives_count(
        tcp_gateway: GatewayProcess) -> None:
    idle = _tcp("127.0.0.1", tcp_gateway)
    alive = _tcp("127.0.0.2", tcp_gateway)
    try:
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < 3.5:  # RFC 5626 pings on `alive` about every 0.5 s
            alive.sendall(b"\r\n\r\n")
            alive.settimeout(2.0)
            assert alive.recv(16) == b"\r\n"  # the pong
            if closed_after is None:
                if _closed_within(idle, 0.5):  # (this bounded wait paces the pings)
                    closed_after = time.monotonic() - start
            else:
                assert not _closed_within(alive, 0.5)
        assert closed_after is not None and 1.5 <= closed_after <= 3.0, closed_after
        assert _closed_within(alive, 4.0)  # once quiet, it goes too
    finally:
        idle.close()
        alive.close()


def test_tcp_connections_over_the_caps_are_refused(tcp_gateway: GatewayProcess) -> None:
    held = [_tcp("127.0.0.1", tcp_gateway) for _ in range(3)]
    try:
        assert _refused("127.0.0.1", tcp_gateway)  # the 4th from one source
        others = [_tcp(f"127.0.0.{i}", tcp_gateway) for i in (2, 3, 4)]  # 6 in all: the cap
        held += others
        assert _refused("127.0.0.5", tcp_gateway)
        for s in held:  # the accepted ones still serve
            s.sendall(b"\r\n\r\n")
            s.settimeout(2.0)
            assert s.recv(16) == b"\r\n"
        tcp_gateway.wait_for_output(r"refused \d+ TCP connection\(s\), the last from 127\.0\.0\.1")
        metrics = tcp_gateway.get_text("/metrics")
        assert re.search(r"acdgate_sip_connections_refused_total 2\.0", metrics), metrics[-2000:]
        assert re.search(r"acdgate_sip_connections_open 6\.0", metrics), metrics[-2000:]
    finally:
        for s in held:
            s.close()


def test_an_oversized_message_over_tcp_gets_513_then_the_connection_closes(gateway: GatewayProcess) -> None:
    s = _tcp("127.0.0.1", gateway)
    try:
        port = s.getsockname()[1]
        head = (f"INVITE sip:300@127.0.0.1 SIP/2.0\r\n"
                f"Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:2101@127.0.0.1>;tag=big\r\nTo: <sip:300@127.0.0.1>\r\n"
                "Call-ID: too-big\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
                "Content-Length: 100000\r\n\r\n").encode()
        s.sendall(head + b"v=0\r\n" * 100)
        s.settimeout(5.0)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        assert status_line(data) == (513, "Message Too Large"), data
        assert header(data, "Call-ID") == "too-big"
        assert _closed_within(s, 5.0)
    finally:
        s.close()


def test_a_tcp_connection_a_registration_flows_over_outlives_the_idle_time(local_gateway: World) -> None:
    stack = local_gateway.gateway.stack
    idle = stack.limits.idle_seconds
    registered, quiet = StringTransport(), StringTransport()
    for transport, port in ((registered, 40002), (quiet, 40003)):
        transport.getPeer = lambda port=port: IPv4Address("TCP", "127.0.0.1", port)  # type: ignore[method-assign]
    phone, other = _StreamProtocol(stack, "TCP"), _StreamProtocol(stack, "TCP")
    phone.makeConnection(registered)
    other.makeConnection(quiet)
    assert stack.open_streams == 2

    def over_tcp(data: bytes) -> bytes:
        return data.replace(f"SIP/2.0/UDP 127.0.0.1:{local_gateway.phone_port}".encode(), b"SIP/2.0/TCP 127.0.0.1:5060")

    phone.dataReceived(over_tcp(local_gateway.request("2101", 1)))
    challenge = registered.value().decode()
    assert challenge.startswith("SIP/2.0 401 "), challenge
    registered.clear()
    phone.dataReceived(over_tcp(local_gateway.request("2101", 2, local_gateway.authorization("2101", challenge))))
    assert registered.value().startswith(b"SIP/2.0 200 "), registered.value()
    local_gateway.clock.advance(idle + 1)
    assert quiet.disconnecting and not registered.disconnecting  # the binding lasts 600 s
    local_gateway.clock.advance(600)
    assert registered.disconnecting  # the binding is over and nothing came since
    assert stack.idle_closed == 2


def test_the_tail_of_an_attack_is_reported_when_its_interval_ends(local_gateway: World) -> None:
    lines: list[str] = []

    def observer(event: dict[str, object]) -> None:
        if str(event.get("log_format", "")).startswith("SIP authentication:"):
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    try:
        for cseq in (2, 3, 4):
            wrong = re.sub(r'response="\w+"', 'response="' + "0" * 32 + '"', local_gateway.challenged("2101"))
            local_gateway.send(local_gateway.request("2101", cseq, wrong))
            local_gateway.read_one()
            assert local_gateway.answer().startswith("SIP/2.0 401 ")
        assert len(lines) == 1 and "1 failure(s)" in lines[0]  # the first at once, then quiet
        local_gateway.clock.advance(60)
        assert len(lines) == 2 and "2 failure(s)" in lines[1], lines  # the rest when the minute ends
        local_gateway.clock.advance(600)
        assert len(lines) == 2  # nothing more to say, no timer left running
    finally:
        globalLogPublisher.removeObserver(observer)
