"""A hostile RAS corpus (tests/gateway/data/h323_ras_corpus/, its README says what each file
is): every file decodes without an exception and gets the answer H.225.0 allows (a reject with
undefinedReason when its first octets still name the request and its requestSeqNum, else
nothing); hypothesis fuzzes `RasCodec.decode` from random bytes and from mutations of the
corpus and of valid requests; the edge logs drops at a bounded rate; and a running gateway
takes the corpus and a bounded flood from many sources while it still answers a SIP REGISTER
and an H.323 RRQ."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_events import Dropped, Refused, SendDatagram
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    DisengageRequest,
    GatekeeperRequest,
    RasDecodeError,
    RegistrationRequest,
    TransportAddress,
    UnknownMessageResponse,
)
from acdgate.gateway.h323.ras_protocol import LogBudget, RasProtocol
from acdgate.lab.gateway_process import GatewayProcess
from h323_ras_support import NOW, PHONE, digits, encode, make_gatekeeper, rrq
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1dir import H225
from sipp_scenarios import users_csv
from sipwire import free_port
from twisted.internet import task
from twisted.logger import LogEvent, globalLogPublisher

CORPUS = Path(__file__).parent / "data" / "h323_ras_corpus"
SUPPORT = Path(__file__).parent.parent / "support"
# what the gatekeeper answers to each file: the message and its reason, or None (dropped)
EXPECTED: dict[str, str | None] = {
    "all_ones.per": None,
    "all_zeros.per": "GatekeeperConfirm",  # the shortest valid GRQ there is: seq 1, no options
    "fuzz_arq_bad_dialled_digits.per": "AdmissionReject undefinedReason",
    "fuzz_rrj_open_type_padding.per": None,
    "huge_alias_list_grq.per": "GatekeeperReject undefinedReason",
    "huge_alias_list_rrq.per": "RegistrationReject undefinedReason",
    "huge_h323_ids_rrq.per": "RegistrationReject undefinedReason",
    "impossible_alias_count_rrq.per": "RegistrationReject undefinedReason",
    "impossible_lengths_rrq.per": "RegistrationReject undefinedReason",
    "known_extension_without_seq.per": None,
    "length_beyond_datagram_grq.per": "GatekeeperReject undefinedReason",
    "oversized_rrq_repeated_60000.bin": "RegistrationReject undefinedReason",
    "random_1200.bin": None,
    "truncated_arq_010.per": "AdmissionReject undefinedReason",
    "truncated_grq_005.per": "GatekeeperReject undefinedReason",
    "truncated_lrq_006.per": "LocationReject undefinedReason",
    "truncated_rrq_001.per": None,
    "truncated_rrq_002.per": None,
    "truncated_rrq_003.per": None,
    "truncated_rrq_004.per": "RegistrationReject undefinedReason",
    "truncated_rrq_009.per": "RegistrationReject undefinedReason",
    "truncated_rrq_020.per": "RegistrationReject undefinedReason",
    "truncated_rrq_040.per": "RegistrationReject undefinedReason",
    "truncated_rrq_120.per": "RegistrationReject undefinedReason",
    "unknown_rasmessage_extension.per": None,
    "unknown_rasmessage_extension_long.per": None,
}


def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".per", ".bin"))


def test_the_corpus_is_the_one_described() -> None:
    assert [p.name for p in corpus()] == sorted(EXPECTED)
    readme = (CORPUS / "README.md").read_text()
    assert all(name in readme for name in EXPECTED)


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_each_corpus_file_gets_the_answer_h225_allows(path: Path) -> None:
    data = path.read_bytes()
    RasCodec().decode(data)  # never raises (an exception fails the test)
    actions = make_gatekeeper().receive(data, PHONE, NOW)
    sent = [a for a in actions if isinstance(a, SendDatagram)]
    logged = [a for a in actions if isinstance(a, Dropped | Refused)]
    want = EXPECTED[path.name]
    if want is None:
        assert sent == [] and len(logged) == 1 and isinstance(logged[0], Dropped)
        assert logged[0].defect  # one line naming the defect
        return
    (answer,) = sent
    reason = getattr(answer.message, "reason", None)
    assert f"{type(answer.message).__name__} {reason or ''}".strip() == want
    if reason is not None:
        (refused,) = logged
        assert isinstance(refused, Refused) and refused.reason.startswith("malformed: ")
    H225.H323_MESSAGES.RasMessage.from_aper(answer.data)  # the answer itself decodes


VALID = [encode(rrq(1, digits("2201"), "pw2201")),
         encode(GatekeeperRequest(5, TransportAddress("192.0.2.10", 1719), (digits("2201"),)))]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_never_raises_on_random_bytes(data: bytes) -> None:
    result = RasCodec().decode(data)
    assert not isinstance(result, RasDecodeError) or result.defect


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([p.read_bytes()[:600] for p in corpus()] + VALID),
       st.lists(st.tuples(st.integers(0, 599), st.integers(0, 255)), max_size=8),
       st.integers(1, 600), st.binary(max_size=8))
def test_decode_never_raises_on_mutations(seed: bytes, edits: list[tuple[int, int]], cut: int,
                                          tail: bytes) -> None:
    data = bytearray(seed)
    for at, value in edits:
        data[at % len(data)] = value
    result = RasCodec().decode(bytes(data[:cut]) + tail)
    assert not isinstance(result, RasDecodeError) or result.defect


# ------------------------------------------------------------------------- the log's budget


def test_the_log_budget_allows_a_burst_then_its_rate() -> None:
    budget = LogBudget(per_second=10, burst=20)
    assert sum(budget.allow(100.0) for _ in range(50)) == 20 and budget.held_back == 30
    assert sum(budget.allow(100.5) for _ in range(50)) == 5  # half a second: 5 more


class MemoryTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


def test_a_flood_of_junk_logs_a_bounded_number_of_lines_then_says_how_many_it_held() -> None:
    clock = task.Clock()
    clock.advance(NOW)
    protocol = RasProtocol(make_gatekeeper(), clock)
    protocol.makeConnection(MemoryTransport())  # type: ignore[arg-type]
    lines: list[str] = []

    def observe(event: LogEvent) -> None:
        if event.get("log_namespace") == "acdgate.h323":
            lines.append(str(event.get("log_format", "")))
    globalLogPublisher.addObserver(observe)
    try:
        for n in range(1000):
            protocol.datagramReceived(b"\xff" * (1 + n % 7), (f"192.0.2.{n % 200}", 1719))
        assert len(lines) == 20
        clock.advance(10)
        protocol.datagramReceived(b"\xff", PHONE)
    finally:
        globalLogPublisher.removeObserver(observe)
        protocol.doStop()
    assert lines[20] == "{n} RAS drop/refusal log lines held back (a flood?)"
    assert lines[21].startswith("RAS datagram from {addr} dropped")


# ------------------------------------------------------------------- a running gateway


def _register_2101_with_sipp(tmp: Path, target: tuple[str, int]) -> None:
    users = users_csv(tmp / "users.csv", ["2101"])
    args = ["sipp", "-sf", str(SUPPORT / "sipp" / "register_auth.xml"), "-inf", str(users),
            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-timeout", "30s", "-nostdin",
            f"{target[0]}:{target[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"Successful call\s+\|\s+\d+\s+\|\s+1\b", out), out[-2000:]


FLOOD_SOURCES = 40  # 127.0.0.2 ... 127.0.0.41: loopback answers all of 127/8
FLOOD_MAX_DATAGRAMS = 4000
FLOOD_MAX_SECONDS = 4.0


def _flood(target: tuple[str, int], flooding: threading.Event, stop: threading.Event,
           sent: list[int]) -> None:
    """GRQs, RRQs for an unknown alias and corpus files from many sources, round robin, until
    `stop` or the count or the time bound; answers are not read (the sockets drop them).
    The sources' unknown-alias RRQs get them blocked by the throttle as the flood goes on."""
    codec = RasCodec()
    socks = []
    for n in range(FLOOD_SOURCES):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.0.0.{2 + n}", 0))
        socks.append(s)
    try:
        payloads = [p.read_bytes() for p in corpus() if p.stat().st_size <= 4096]
        for n, s in enumerate(socks):
            me = TransportAddress(s.getsockname()[0], s.getsockname()[1])
            payloads.append(codec.encode(GatekeeperRequest(n + 1, me, (digits("2201"),))))
            payloads.append(codec.encode(RegistrationRequest(
                n + 1, (me,), (me,), (Alias(AliasKind.DIALLED_DIGITS, f"99{n:02d}"),))))
        deadline = time.monotonic() + FLOOD_MAX_SECONDS
        count = 0
        while count < FLOOD_MAX_DATAGRAMS and not stop.is_set() and time.monotonic() < deadline:
            socks[count % len(socks)].sendto(payloads[count % len(payloads)], target)
            count += 1
            if count == 200:
                flooding.set()
            if count % 20 == 0:  # paced near 1000/s, so the flood lasts while SIP and RAS are asked
                stop.wait(0.02)
        sent.append(count)
    finally:
        flooding.set()  # (a flood that ended early lets the test go on and fail on `sent`)
        for s in socks:
            s.close()


def test_the_gateway_takes_the_corpus_and_a_flood_and_keeps_serving(
        gateway: GatewayProcess, tmp_path: Path) -> None:
    ras = gateway.info["h323"]["ras"]
    target = (ras["host"], int(ras["port"]))
    mark = gateway.mark()
    started = time.monotonic()
    flooding, stop, sent = threading.Event(), threading.Event(), []
    flood = threading.Thread(target=_flood, args=(target, flooding, stop, sent))
    flood.start()
    try:
        assert flooding.wait(30)
        _register_2101_with_sipp(tmp_path, gateway.sip)  # SIP is answered during the flood
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            phone.settimeout(10.0)
            me = TransportAddress("127.0.0.1", phone.getsockname()[1])
            phone.sendto(RasCodec().encode(RegistrationRequest(
                1, (me,), (me,), (digits("2202"),), time_to_live=60,
                tokens=(make_cat("2202", "pw2202", int(time.time()), 9),))), target)
            answer, _ = phone.recvfrom(65535)  # and H.323 too
    finally:
        stop.set()
        flood.join(timeout=30)
    assert not flood.is_alive() and sent and sent[0] > 200
    message = H225.H323_MESSAGES.RasMessage
    message.from_aper(answer)
    assert message.get_val()[0] == "registrationConfirm"
    row = next(s for s in gateway.get("/api/stations") if s["extension"] == "2101")
    assert row["registered"]
    # the gateway logged the flood within its budget, and says how much it held back with the
    # next line it may write: junk until then (the budget refills a line per 0.1 s)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        for attempt in range(50):
            junk.sendto(b"\xff", target)
            try:
                gateway.wait_for_output(r"\d+ RAS drop/refusal log lines held back", 0.25,
                                        since=mark)
                break
            except AssertionError:
                assert attempt < 49, "the gateway never said how many lines it held back"
    elapsed = time.monotonic() - started
    out = gateway.output()[mark:]
    drops = len(re.findall(r"RAS (?:datagram|\w+) from \S+ (?:dropped|refused): ", out))
    assert 0 < drops < sent[0]
    assert drops <= 20 + 10 * elapsed + 1  # the budget: a burst of 20, then 10 a second


def test_a_malformed_drq_gets_xrs_echoing_it_unless_it_is_large() -> None:
    """DisengageRejectReason has no undefinedReason: XRS (H.225.0 7.13), the DRQ echoed; a large
    one is dropped rather than reflected back."""
    drq = encode(DisengageRequest(21, "ep1", bytes(16), 77, bytes(16)))
    cut = drq[:12]
    (answer, _) = make_gatekeeper().receive(cut, PHONE, NOW)
    assert isinstance(answer, SendDatagram)
    assert answer.message == UnknownMessageResponse(21, cut)
    large = drq[:6] + b"\xff" * 600
    (dropped,) = make_gatekeeper().receive(large, PHONE, NOW)
    assert isinstance(dropped, Dropped)
