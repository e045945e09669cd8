"""H.323 stations call into a running gateway: `acdgate run` on loopback, the lab's H.323
endpoint (`lab/drivers/h323_endpoint.py`) registers by RAS and places calls on the call
signalling port; short codes log on as from a SIP phone (journal, /api/agents, the tones
heard over RTP), a group number reaches a SIP agent through the relay, unknown numbers and
unregistered callers get their Release Complete causes, garbage on the port does not stop SIP,
and every H.323 message of a test, written by --h323-trace, is read by tshark's own Q.931,
H.225.0 and H.245 dissectors without a malformed-packet or expert warning."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acdgate.gateway.h323.cs_messages import (
    Cause,
    Facility,
    ReleaseComplete,
    ReleaseCompleteReason,
    SetupAcknowledge,
)
from acdgate.gateway.storage.journal_reader import read_journal
from acdgate.lab.drivers.h323_endpoint import H323Call, H323Endpoint
from acdgate.lab.drivers.heard import sine, tone_seconds, tones_in
from acdgate.lab.gateway_process import GatewayProcess, StartGateway
from pyvoip_parties import answerer, answerer_result, caller, caller_result, logon, wait_heard
from sipp_scenarios import users_csv
from sipwire import free_port

SUPPORT = Path(__file__).parent.parent / "support"
TSHARK = shutil.which("tshark")
WAIT = 10.0


@pytest.fixture
def traced(start_gateway: StartGateway, tmp_path: Path) -> tuple[GatewayProcess, Path]:
    pcap = tmp_path / "h323.pcap"
    return start_gateway(extra=["--h323-trace", str(pcap)]), pcap


@pytest.fixture
def endpoints(traced: tuple[GatewayProcess, Path]) -> Iterator[Callable[[str], H323Endpoint]]:
    gw, _ = traced
    made: list[H323Endpoint] = []

    def make(extension: str, password: str | None = None) -> H323Endpoint:
        h323 = gw.info["h323"]
        ep = H323Endpoint(extension, password if password is not None else f"pw{extension}",
                          ras=(h323["ras"]["host"], int(h323["ras"]["port"])),
                          call_signalling=(h323["host"], int(h323["port"])))
        made.append(ep)
        return ep

    yield make
    for ep in made:
        ep.close()


def until(condition: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    """Poll `condition` (a state the gateway or the endpoint reaches) for at most `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def released(call: H323Call, timeout: float = WAIT) -> ReleaseComplete:
    message = call.wait_for(ReleaseComplete, timeout)
    assert isinstance(message, ReleaseComplete)
    return message


def features_used(gw: GatewayProcess) -> list[tuple[str | None, str, str]]:
    return [(r["station"], r["dialled"], r["reason"])
            for r in read_journal(gw.state_dir / "acdgate.sqlite3", kinds=["FeatureUsed"])]


def agent(gw: GatewayProcess, user: str) -> dict[str, Any] | None:
    """The user's row in /api/agents (logged-on agents), None when not logged on."""
    found: dict[str, Any] | None = {a["user"]: a for a in gw.get("/api/agents")}.get(user)
    return found


def logged_on_at(gw: GatewayProcess, user: str) -> str | None:
    row = agent(gw, user)
    return None if row is None else str(row["station"])


def tshark_rows(pcap: Path, *decode_as: str) -> list[dict[str, str]]:
    assert TSHARK is not None
    fields = ("frame.number", "tcp.srcport", "tcp.dstport", "q931.message_type",
              "q931.cause_value", "h225.h323_message_body", "h225.fastStart", "h225.guid",
              "h245.pdu_type", "h245.alphanumeric", "h245.signalType", "_ws.malformed",
              "_ws.expert")
    command = [TSHARK, "-r", str(pcap), "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
               "-E", "aggregator=,", "-Y", "tcp"]
    for rule in decode_as:
        command += ["-d", rule]
    for f in fields:
        command += ["-e", f]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    return [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]


def assert_tshark_reads_every_message(gw: GatewayProcess, pcap: Path, *,
                                      h245_port: int | None = None) -> list[dict[str, str]]:
    """Every call signalling segment of the trace read by tshark as Q.931 with its H.225.0
    UUIE (and tunnelled H.245), every segment of a separate H.245 connection (`h245_port`,
    decoded as `-d tcp.port==N,h245`) as H.245; no malformed packet, no expert info. The
    call signalling rows (and the H.245 connection's after them)."""
    gw.stop()  # flushed at each frame; stopping makes sure nothing is pending
    rows = tshark_rows(pcap, *([f"tcp.port=={h245_port},h245"] if h245_port else []))
    assert rows, "no call signalling in the trace"
    assert all(r["_ws.malformed"] == "" and r["_ws.expert"] == "" for r in rows), rows
    ports = {str(h245_port)}
    separate = [r for r in rows if {r["tcp.srcport"], r["tcp.dstport"]} & ports]
    signalling = [r for r in rows if r not in separate]
    for r in signalling:  # each segment whole Q.931 messages, each with its H.225.0 body
        assert r["q931.message_type"] and r["h225.h323_message_body"], rows
        assert len(r["q931.message_type"].split(",")) == len(r["h225.h323_message_body"].split(","))
    assert all(r["h245.pdu_type"] and not r["q931.message_type"] for r in separate), separate
    return signalling + separate


def values(rows: list[dict[str, str]], field: str) -> list[str]:
    """Every value of `field` in the trace, in order."""
    return [v for r in rows if r[field] for v in r[field].split(",")]


# -- short codes --------------------------------------------------------------------------


def test_logon_en_bloc_hears_the_confirmation_and_is_journaled(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    ep = endpoints("2201")
    ep.register()
    call = ep.call("*35*3000*1234#")
    call.connected()
    assert call.media is not None  # fastStart accepted: media without H.245
    end = released(call)  # the feature hangs up after its tone
    assert end.cause == Cause.NORMAL_CALL_CLEARING
    assert "confirmation" in tones_in(call.heard()) and "error" not in tones_in(call.heard())
    call.close()
    row = agent(gw, "3000")
    assert row is not None and row["station"] == "2201" and row["state"] == "NOT_READY"
    assert features_used(gw) == [("2201", "*35*3000*xxxx#", "Done")]
    states = list(read_journal(gw.state_dir / "acdgate.sqlite3", kinds=["StateChanged"]))
    assert any(r.get("user_id") == "3000" for r in states), states
    rows = assert_tshark_reads_every_message(gw, pcap)
    # Setup (fastStart proposals), Call Proceeding, Connect (fastStart answer), Release Complete
    assert values(rows, "q931.message_type") == ["0x05", "0x02", "0x07", "0x5a"]
    assert [bool(r["h225.fastStart"]) for r in rows] == [True, False, True, False]
    assert values(rows, "q931.cause_value") == ["16"]
    assert len(set(values(rows, "h225.guid"))) == 1  # one callIdentifier throughout


def test_hash_code_then_the_pin_by_user_input_indication(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    ep = endpoints("2202")
    ep.register()
    call = ep.call("#3001")
    call.connected()
    call.send_uii("123")
    call.send_uii("4#", signal=True)
    released(call)
    assert "confirmation" in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3001") == "2202"
    assert features_used(gw) == [("2202", "#3001", "Done")]
    rows = assert_tshark_reads_every_message(gw, pcap)
    assert values(rows, "h245.alphanumeric") == ["1", "2", "3"]  # tunnelled userInputIndication
    assert values(rows, "h245.signalType") == ["4", "#"]


def test_wrong_pin_gets_the_error_tone_and_a_journal_entry(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    ep = endpoints("2203")
    ep.register()
    call = ep.call("*35*3002*4321#")
    call.connected()
    released(call)
    assert "error" in tones_in(call.heard()) and "confirmation" not in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3002") is None
    assert features_used(gw) == [("2203", "*35*3002*xxxx#", "Wrong pin")]
    assert_tshark_reads_every_message(gw, pcap)


def test_the_pin_as_rfc4733_events_once_the_capability_set_offers_them(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """fastStart media, then the caller's tunnelled TerminalCapabilitySet offering RFC 2833
    events (payload type 101): the gateway reads the PIN from RFC 4733 packets."""
    gw, pcap = traced
    ep = endpoints("2203")
    ep.register()
    call = ep.call("#3002")
    call.connected()
    call.send_capabilities()
    ack = call.wait_for(Facility)  # its TerminalCapabilitySetAck, tunnelled
    assert isinstance(ack, Facility) and ack.h245.control
    call.send_rfc4733("1234#")
    released(call)
    assert "confirmation" in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3002") == "2203"
    assert features_used(gw) == [("2203", "#3002", "Done")]
    assert_tshark_reads_every_message(gw, pcap)


def test_the_rest_of_a_code_by_keypad_after_connect(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """A code begun in the Setup (the called party number IE, canOverlapSend said) is served
    at once, as from SIP: the feature answers and takes the rest from Keypad IEs."""
    gw, pcap = traced
    ep = endpoints("2204")
    ep.register()
    call = ep.call("*35*30", overlap=True, called_number=True)
    call.connected()
    call.send_keypad("03*12")
    call.send_keypad("34#")
    released(call)
    assert "confirmation" in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3003") == "2204"
    assert features_used(gw) == [("2204", "*35*30", "Done")]  # as SIP: what the Setup dialled
    assert_tshark_reads_every_message(gw, pcap)


def test_overlap_dialling_completes_a_group_number(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """A number that reaches nothing yet gets Setup Acknowledge (canOverlapSend); Information
    messages complete it (Q.931 5.2.4), and the group answers."""
    gw, pcap = traced
    ep = endpoints("2203")
    ep.register()
    call = ep.call("60", overlap=True, called_number=True)
    call.wait_for(SetupAcknowledge)
    call.send_keypad("0")
    call.send_keypad("0")
    call.connected()  # a routed call is answered at once: ringback while it waits
    until(lambda: tone_seconds(call.heard(), 440.0) > 0.3, what="ringback heard")
    call.release()
    rows = assert_tshark_reads_every_message(gw, pcap)
    # Setup, Setup Acknowledge, Information x2, Call Proceeding, Connect, Release Complete
    assert values(rows, "q931.message_type") == ["0x05", "0x0d", "0x7b", "0x7b", "0x02", "0x07",
                                                 "0x5a"]


def test_state_codes_from_an_h323_desk(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """*37 Ready, *38*R# Not Ready with a reason, *36 logoff: the same outcomes and journal
    entries as from a SIP phone."""
    gw, pcap = traced
    ep = endpoints("2201")
    ep.register()

    def dial(code: str) -> list[str]:
        call = ep.call(code)
        call.connected()
        released(call)
        call.close()
        return tones_in(call.heard())

    assert "confirmation" in dial("*35*3000*1234#")
    assert "confirmation" in dial("*37")
    row = agent(gw, "3000")
    assert row is not None and row["state"] == "READY"
    assert "confirmation" in dial("*38*3#")
    row = agent(gw, "3000")
    assert row is not None and row["state"] == "NOT_READY" and row["reason_code"] == 3
    assert "confirmation" in dial("*36")
    assert agent(gw, "3000") is None
    assert features_used(gw) == [("2201", "*35*3000*xxxx#", "Done"), ("2201", "*37", "Done"),
                                 ("2201", "*38*3#", "Done"), ("2201", "*36", "Done")]
    assert_tshark_reads_every_message(gw, pcap)


def test_without_fast_start_media_comes_from_tunnelled_h245(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """No fastStart: capabilities, master/slave and both logical channels go tunnelled in
    Facility messages (the endpoint runs the product's H245Session), the tone follows."""
    gw, pcap = traced
    ep = endpoints("2201")
    ep.register()
    call = ep.call("*35*3000*1234#", fast_start=False)
    call.connected()
    media = call.media_ready()
    assert media.remote_rtp.port > 0
    released(call)
    assert "confirmation" in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3000") == "2201"
    rows = assert_tshark_reads_every_message(gw, pcap)
    # request (0), response (1), command (2): TCS, MSD, OLC, their Acks, endSessionCommand
    assert {"0", "1", "2"} <= set(values(rows, "h245.pdu_type")), rows
    assert not any(r["h225.fastStart"] for r in rows)


def test_a_separate_h245_connection_carries_media_setup_and_digits(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """No tunnelling, an h245Address in the Setup: the gateway connects there (H.323 8.2) and
    runs H.245 on it, TPKT-framed; the PIN comes as userInputIndication on that connection."""
    gw, pcap = traced
    ep = endpoints("2202")
    ep.register()
    call = ep.call("#3001", fast_start=False, separate_h245=True)
    call.connected()
    call.media_ready()
    assert call.h245_listener is not None
    h245_port = call.h245_listener.getsockname()[1]
    call.send_uii("1234#")
    released(call)
    assert "confirmation" in tones_in(call.heard())
    call.close()
    assert logged_on_at(gw, "3001") == "2202"
    rows = assert_tshark_reads_every_message(gw, pcap, h245_port=h245_port)
    h245 = [r for r in rows if str(h245_port) in (r["tcp.srcport"], r["tcp.dstport"])]
    assert values(h245, "h245.alphanumeric") == ["1", "2", "3", "4", "#"]
    assert {"0", "1", "2"} <= set(values(h245, "h245.pdu_type"))


def test_an_h323_agent_answers_a_routed_call_from_a_sip_caller(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """The agent logs on and goes Ready from its H.323 desk; a pyVoIP customer dials the
    group; the gateway places an H.323 call to the desk (Setup with fastStart proposals, the
    caller's number and the group in the Display), the desk answers, audio flows both ways
    through the relay, and the desk's Release Complete ends the customer's call."""
    gw, pcap = traced
    ep = endpoints("2201")
    ep.listen()
    ep.register()
    for code in ("*35*3000*1234#", "*37"):
        login = ep.call(code)
        login.connected()
        released(login)
        login.close()
    row = agent(gw, "3000")
    assert row is not None and row["state"] == "READY"
    customer = caller(gw, "2105", "6000", tone=1000.0, timeout=40.0)
    try:
        offered = ep.incoming(timeout=20)
        assert offered.setup is not None and offered.setup.calling_number == "2105"
        assert offered.setup.display == "2105 via Sales" and offered.setup.fast_start
        offered.answer()
        gw.wait_for_output(r"StateChanged\(.*user_id='3000'.*new=<AgentState\.TALKING", timeout=20)
        offered.send_audio(sine(440.0, 2.0))
        until(lambda: tone_seconds(offered.heard(), 1000.0) > 0.5, what="the customer heard")
        offered.release()
    finally:
        result, heard = caller_result(customer)
    assert result["answered"] and result["ended_by_far_end"], result
    assert tone_seconds(heard, 440.0) > 0.5, "the customer did not hear the H.323 agent"
    stats = {r["leg"]: r for r in read_journal(gw.state_dir / "acdgate.sqlite3",
                                               kinds=["CallMediaStats"])}
    assert stats["agent"]["station"] == "2201" and stats["agent"]["packets_received"] > 50
    rows = assert_tshark_reads_every_message(gw, pcap)
    assert "0x01" in values(rows, "q931.message_type")  # the desk's Alerting


def test_ring_no_answer_at_an_h323_agent_releases_the_offer(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """The desk rings and nobody answers: after the group's no-answer time (15 s) the gateway
    releases the offer (cause 16) and the agent goes Not Ready, as for a SIP agent."""
    gw, pcap = traced
    ep = endpoints("2203")
    ep.listen()
    ep.register()
    for code in ("*35*3002*1234#", "*37"):
        login = ep.call(code)
        login.connected()
        released(login)
        login.close()
    since = gw.wait_for_output(r"StateChanged\(.*user_id='3002'.*new=<AgentState\.READY").end()
    customer = caller(gw, "2106", "6002", timeout=40.0)  # Service: 3002 is its only agent here
    try:
        offered = ep.incoming(timeout=20)
        offered.ring()
        assert released(offered, timeout=30).cause == Cause.NORMAL_CALL_CLEARING
        offered.close()
        gw.wait_for_output(r"StateChanged\(.*user_id='3002'.*new=<AgentState\.NOT_READY",
                           timeout=10, since=since)
    finally:
        customer.kill()
        customer.communicate(timeout=10)
    assert_tshark_reads_every_message(gw, pcap)


# -- a direct call to a SIP station ----------------------------------------------------------


def test_h323_desk_calls_a_sip_station_directly(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """Station to station through the B2BUA: Alerting while the SIP phone rings, Connect when
    it answers, audio both ways through the relay, the SIP phone's hang-up ends the call."""
    gw, pcap = traced
    phone = answerer(gw, "2102", 1000.0, talk_seconds=4.0, announce=(440.0,))
    try:
        ep = endpoints("2203")
        ep.register()
        call = ep.call("2102")
        call.connected(timeout=15)
        since = time.monotonic()
        call.send_audio(sine(440.0, 2.0))
        wait_heard(phone, 440.0, since)
        until(lambda: tone_seconds(call.heard(), 1000.0) > 0.5, what="the SIP phone's 1 kHz heard")
        assert released(call, timeout=20).cause == Cause.NORMAL_CALL_CLEARING
        call.close()
    finally:
        events, _ = answerer_result(phone)
    offered = next(e for e in events if e["event"] == "call")
    assert offered["number"] == "2203"
    rows = assert_tshark_reads_every_message(gw, pcap)
    kinds = values(rows, "q931.message_type")
    assert kinds[:2] == ["0x05", "0x02"] and "0x01" in kinds and "0x07" in kinds  # Alerting, Connect


def test_a_sip_phone_calls_an_h323_desk_directly(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """A pyVoIP station dials an H.323 station's extension: the gateway places the H.323 call
    (Display "No User": nobody is logged on at the caller's station), the desk rings and
    answers, audio both ways, the desk hangs up."""
    gw, pcap = traced
    ep = endpoints("2202")
    ep.listen()
    ep.register()
    customer = caller(gw, "2105", "2202", tone=1000.0, timeout=40.0)
    try:
        offered = ep.incoming(timeout=20)
        assert offered.setup is not None and offered.setup.calling_number == "2105"
        assert offered.setup.display == "No User"
        offered.answer()
        offered.send_audio(sine(440.0, 2.0))
        until(lambda: tone_seconds(offered.heard(), 1000.0) > 0.5, what="the caller heard")
        offered.release()
    finally:
        result, heard = caller_result(customer)
    assert result["answered"] and result["ended_by_far_end"], result
    assert tone_seconds(heard, 440.0) > 0.5, "the SIP caller did not hear the H.323 desk"
    assert_tshark_reads_every_message(gw, pcap)


def test_stopping_the_gateway_releases_h323_calls(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """SIGTERM with an H.323 caller waiting in a queue: Release Complete (16), then the
    listener is closed and the process ends."""
    gw, _ = traced
    ep = endpoints("2204")
    ep.register()
    call = ep.call("6001")
    call.connected()
    assert gw.stop() == 0
    assert released(call).cause == Cause.NORMAL_CALL_CLEARING
    call.close()
    with pytest.raises(OSError):
        socket.create_connection((gw.info["h323"]["host"], int(gw.info["h323"]["port"])), timeout=2)


# -- refusals -------------------------------------------------------------------------------


def test_a_broken_tpkt_mid_call_releases_it_with_cause_95(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    """RFC 1006 6: a TPKT stream cannot be resynchronised: the call on it gets Release
    Complete (invalid message) and the connection closes; the caller left the queue."""
    gw, _ = traced
    ep = endpoints("2201")
    ep.register()
    call = ep.call("6000")
    call.connected()
    call.sock.sendall(b"\x09\x00\x00\x10" + bytes(12))  # TPKT version 9
    assert released(call).cause == Cause.INVALID_MESSAGE
    call.close()
    gw.wait_for_output(r"bad version: version 9, not 3; the connection is closed")


def test_unknown_number_gets_cause_1(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    ep = endpoints("2201")
    ep.register()
    call = ep.call("98765")
    end = released(call)
    assert end.cause == Cause.UNALLOCATED_NUMBER
    assert end.reason is ReleaseCompleteReason.UNREACHABLE_DESTINATION
    call.close()
    rows = assert_tshark_reads_every_message(gw, pcap)
    assert values(rows, "q931.message_type") == ["0x05", "0x5a"]
    assert values(rows, "q931.cause_value") == ["1"]


def test_unregistered_caller_gets_caller_not_registered(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    ep = endpoints("2202")  # never registers
    call = ep.call("*35*3001*1234#")
    end = released(call)
    assert end.cause == Cause.CALL_REJECTED
    assert end.reason is ReleaseCompleteReason.CALLER_NOT_REGISTERED
    call.close()
    assert logged_on_at(gw, "3001") is None
    rows = assert_tshark_reads_every_message(gw, pcap)
    assert values(rows, "q931.message_type") == ["0x05", "0x5a"]
    assert values(rows, "q931.cause_value") == ["21"]


def register_with_sipp(tmp: Path, target: tuple[str, int], station: str) -> None:
    users = users_csv(tmp / "users.csv", [station])
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / "register_auth.xml"), "-inf", str(users),
            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "30s", "-nostdin",
            f"{target[0]}:{target[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1\b", out), out[-2000:]


def test_garbage_and_a_setup_flood_leave_sip_and_h323_serving(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint],
        tmp_path: Path) -> None:
    gw, _ = traced
    h323 = gw.info["h323"]
    target = (h323["host"], int(h323["port"]))
    socks = []
    for n in range(50):
        s = socket.create_connection(target, timeout=5)
        # a broken TPKT (version 9), a TPKT whose length is absurd, half a TPKT, a non-Q.931 body
        s.sendall([b"\x09\x00\x00\x10" + bytes(12), b"\x03\x00\xff\xff" + bytes(60),
                   b"\x03\x00\x00\x40\x08", b"\x03\x00\x00\x08\x01\x02\x03\x04"][n % 4])
        socks.append(s)
    ep = endpoints("2201")
    ep.register()
    flood = [ep.call("98765") for _ in range(20)]  # registered Setups, each refused
    for call in flood:
        assert released(call).cause == Cause.UNALLOCATED_NUMBER
        call.close()
    register_with_sipp(tmp_path, gw.sip, "2101")  # SIP REGISTER (with digest) still served
    call = ep.call("*35*3000*1234#")
    call.connected()
    released(call)
    call.close()
    assert logged_on_at(gw, "3000") == "2201"
    for s in socks:
        s.close()


# -- a routed call to a SIP agent -----------------------------------------------------------


def test_h323_caller_reaches_a_sip_agent_through_the_relay(
        traced: tuple[GatewayProcess, Path], endpoints: Callable[[str], H323Endpoint]) -> None:
    gw, pcap = traced
    logon(gw, "2101", "3000")  # the SIP agent's phone, logged on and Ready
    phone = answerer(gw, "2101", 1000.0, talk_seconds=4.0, announce=(440.0,))
    try:
        ep = endpoints("2202")
        ep.register()
        call = ep.call("6000")  # the demo site's group Sales: answered at once, ringback
        call.connected()
        gw.wait_for_output(r"StateChanged\(.*user_id='3000'.*new=<AgentState\.TALKING", timeout=20)
        since = time.monotonic()
        call.send_audio(sine(440.0, 2.0))
        wait_heard(phone, 440.0, since)  # the caller's audio reached the agent
        until(lambda: tone_seconds(call.heard(), 1000.0) > 0.5, what="the agent's 1 kHz heard")
        released(call, timeout=20)  # the agent hangs up: so does the caller's leg
        call.close()
    finally:
        events, _ = answerer_result(phone)
    offered = next(e for e in events if e["event"] == "call")
    assert offered["number"] == "2202"  # ANI: the H.323 station
    stats = {r["leg"]: r for r in read_journal(gw.state_dir / "acdgate.sqlite3",
                                               kinds=["CallMediaStats"])}
    caller_stats = stats["caller"]  # the H.323 caller's leg, keyed by its callIdentifier
    assert caller_stats["station"] == "2202" and caller_stats["packets_received"] > 50
    assert caller_stats["leg_call_id"] == call.call_identifier.hex()
    assert_tshark_reads_every_message(gw, pcap)
