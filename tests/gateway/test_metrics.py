"""`GET /metrics` (issue 17), read with prometheus-client's own parser: against a running gateway
as SIP and H.323 clients register, a SIP phone logs on by short code and a caller's call to a
group is answered by it; and the parts that count (the stack's SIP tables, the throttles, the
ACD's call outcomes, the RTP port pool) on their own."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from acdgate.acd.events import CallAbandoned, CallConnected, CallEntered, CallOverflowed
from acdgate.acd.states import AgentState
from acdgate.gateway.auth.throttle import AuthThrottle
from acdgate.gateway.h323.h235 import make_cat
from acdgate.gateway.h323.ras_codec import RasCodec
from acdgate.gateway.h323.ras_messages import (
    Alias,
    AliasKind,
    RegistrationRequest,
    TransportAddress,
)
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.sip.message_counts import MessageCounts
from acdgate.gateway.web.metrics import (
    CallCounters,
    GroupSample,
    MetricsSample,
    auth_sample,
    make_registry,
)
from acdgate.lab.gateway_process import GatewayProcess
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pyvoip_parties import answerer, answerer_result, call_through
from sipp_scenarios import run_feature_call
from sipwire import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value, through prometheus-client's parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(gw: GatewayProcess) -> Samples:
    return parse(gw.get_text("/metrics"))


def rrq(ras_port: int, seq: int, alias: str, password: str, random: int) -> bytes:
    """An H.323 RRQ for `alias` with an H.235 CAT made with `password`."""
    return RasCodec().encode(RegistrationRequest(
        seq=seq, call_signal_addresses=(TransportAddress("127.0.0.1", 1720),),
        ras_addresses=(TransportAddress("127.0.0.1", ras_port),),
        terminal_aliases=(Alias(AliasKind.DIALLED_DIGITS, alias),), vendor="acdgate-test 1.0",
        time_to_live=120, tokens=(make_cat(alias, password, int(time.time()), random),)))


def test_counters_move_as_phones_register_log_on_and_call_a_group(gateway: GatewayProcess, tmp_path: Path) -> None:
    before = scrape(gateway)
    assert value(before, "acdgate_registrations", kind="sip", transport="udp") == 0
    assert value(before, "acdgate_group_calls_offered_total", group="6000") == 0
    # an H.323 endpoint registers (right password), another source fails once (wrong password)
    ras = gateway.info["h323"]["ras"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as h323:
        h323.bind(("127.0.0.1", 0))
        h323.settimeout(5)
        port = h323.getsockname()[1]
        h323.sendto(rrq(port, 1, "2201", "pw2201", 1), (ras["host"], ras["port"]))
        h323.recvfrom(65535)
        h323.sendto(rrq(port, 2, "2202", "wrong", 2), (ras["host"], ras["port"]))
        h323.recvfrom(65535)
    # agent 3000 logs on at 2101 by short code and goes Ready (SIPp), then 2101's pyVoIP phone
    # registers and answers the call 2105's pyVoIP phone makes to group 6000
    assert run_feature_call(tmp_path, gateway.sip, "2101", "*35*3000*1234#", answered=True,
                            rtp_port=free_port(), local_port=free_port()).status == 200
    assert run_feature_call(tmp_path, gateway.sip, "2101", "*37", answered=True,
                            rtp_port=free_port(), local_port=free_port()).status == 200
    agent = answerer(gateway, "2101", 1000.0)
    try:
        during = scrape(gateway)
        result, _ = call_through(gateway, "2105", "6000", "--timeout", "30")
    finally:
        answerer_result(agent)
    after = scrape(gateway)

    assert value(during, "acdgate_registrations", kind="sip", transport="udp") == 1  # the agent's phone
    assert value(after, "acdgate_registrations", kind="sip", transport="udp") >= 1
    assert value(after, "acdgate_registrations", kind="h323", transport="ras") == 1
    assert value(during, "acdgate_agents", state="READY") == 1
    assert value(after, "acdgate_agents", state="READY") + value(after, "acdgate_agents", state="WORK_READY") == 1
    assert result["answered"], result
    assert value(after, "acdgate_group_calls_offered_total", group="6000") == 1
    assert value(after, "acdgate_group_calls_answered_total", group="6000") == 1
    assert value(after, "acdgate_group_calls_abandoned_total", group="6000") == 0
    assert value(after, "acdgate_group_calls_waiting", group="6000") == 0
    # SIP on the wire: the feature calls' and the caller's INVITEs came in, the agent's went out
    # and was answered; every INVITE and REGISTER was challenged first (401 out)
    grew = {key: v - before.get(key, 0.0) for key, v in after.items()}
    assert grew[("acdgate_sip_requests_total", (("direction", "in"), ("method", "INVITE")))] >= 6
    assert grew[("acdgate_sip_requests_total", (("direction", "in"), ("method", "REGISTER")))] >= 2
    assert grew[("acdgate_sip_requests_total", (("direction", "out"), ("method", "INVITE")))] >= 1
    assert grew[("acdgate_sip_requests_total", (("direction", "out"), ("method", "BYE")))] >= 2
    assert grew[("acdgate_sip_responses_total", (("direction", "in"), ("status", "200")))] >= 1
    assert grew[("acdgate_sip_responses_total", (("direction", "out"), ("status", "401")))] >= 4
    assert grew[("acdgate_sip_responses_total", (("direction", "out"), ("status", "200")))] >= 4
    assert value(after, "acdgate_auth_failures_total", protocol="h323") == 1
    assert value(after, "acdgate_auth_blocks_total", protocol="h323") == 0
    assert value(after, "acdgate_auth_failures_total", protocol="sip") == 0  # challenges are not failures
    # the call's media went through the gateway both ways, and its streams close (a socket's
    # port goes back to the pool a reactor turn after the BYE: look until it has)
    assert value(after, "acdgate_rtp_packets_relayed_total") > 50
    deadline = time.monotonic() + 5
    while value(scrape(gateway), "acdgate_rtp_streams") != 0:
        assert time.monotonic() < deadline, "RTP streams still open 5 s after the call"
        time.sleep(0.05)
    assert value(after, "process_cpu_seconds_total") > 0


def test_two_gateways_in_one_process_keep_their_own_registries() -> None:
    def sample(groups: list[GroupSample]) -> MetricsSample:
        return MetricsSample(registrations={("sip", "udp"): len(groups)}, agents={AgentState.READY: 2},
                             groups=groups, sip_requests_in={}, sip_requests_out={}, sip_responses_in={},
                             sip_responses_out={}, auth=[], rtp_streams=0, rtp_packets_relayed=0, uptime=1.0)

    class Source:
        def __init__(self, groups: list[GroupSample]) -> None:
            self.groups = groups

        def metrics_sample(self) -> MetricsSample:
            return sample(self.groups)

    one = make_registry(Source([GroupSample("6000", 3, 12.5)]), CallCounters(["6000"]))
    two = make_registry(Source([GroupSample("7000", 1, 2.0), GroupSample("7001", 0, 0.0)]), CallCounters([]))
    first, second = parse(generate_latest(one).decode()), parse(generate_latest(two).decode())
    assert value(first, "acdgate_group_calls_waiting", group="6000") == 3
    assert value(first, "acdgate_group_longest_wait_seconds", group="6000") == 12.5
    assert ("acdgate_group_calls_waiting", (("group", "7000"),)) not in first
    assert value(second, "acdgate_registrations", kind="sip", transport="udp") == 2
    assert value(second, "acdgate_agents", state="READY") == 2


def test_call_outcomes_are_counted_per_group_as_the_reports_count_them() -> None:
    counters = CallCounters(["6000", "6001"])
    counters([CallEntered(at=1, call_id="a", group="6000"), CallEntered(at=1, call_id="b", group="6000")])
    counters([CallConnected(at=2, call_id="a", user_id="3000", station="2101", group="6000", waited=1.0)])
    counters([CallOverflowed(at=3, call_id="b", from_group="6000", to_group="6001"),
              CallEntered(at=3, call_id="b", group="6001")])
    counters([CallAbandoned(at=4, call_id="b", group="6001", waited=3.0)])
    assert counters.counts["6000"] == {"offered": 2, "answered": 1, "abandoned": 0, "overflowed": 1}
    assert counters.counts["6001"] == {"offered": 1, "answered": 0, "abandoned": 1, "overflowed": 0}


def test_sip_messages_are_counted_by_method_and_status() -> None:
    counts = MessageCounts()
    counts.request_received("REGISTER")
    counts.request_received("INVITE")
    counts.request_received("FOO")  # not a method we know: "other", so the tables stay bounded
    counts.response_received(180)
    counts.sent(b"SIP/2.0 401 Unauthorized\r\nVia: x\r\n\r\n")
    counts.sent(b"SIP/2.0 401 Unauthorized\r\nVia: y\r\n\r\n")
    counts.sent(b"BYE sip:2101@127.0.0.1:5062 SIP/2.0\r\n\r\n")
    counts.sent(b"ACK sip:2101@127.0.0.1 SIP/2.0\r\n\r\n")
    assert counts.requests_in == {"REGISTER": 1, "INVITE": 1, "other": 1}
    assert counts.responses_in == {180: 1}
    assert counts.sent_responses() == {401: 2}
    assert counts.sent_requests() == {"BYE": 1, "ACK": 1}


def test_throttle_counts_failures_and_blocks() -> None:
    throttle = AuthThrottle(failures_before_delay=1, failures_before_block=2, block_seconds=10)
    for _ in range(3):
        throttle.failure("192.0.2.7", 100.0)
    throttle.failure("192.0.2.7", 101.0)  # dropped while blocked: not a new block
    throttle.failure("192.0.2.8", 101.0)
    sample = auth_sample("sip", throttle, 102.0)
    assert (sample.failures, sample.blocks, sample.blocked_sources) == (4, 1, 1)
    assert auth_sample("sip", throttle, 111.0).blocked_sources == 0  # the block is over


def test_rtp_pool_counts_streams_and_relayed_packets_of_closed_sessions_too() -> None:
    class Session:
        packets_forwarded = 0

    pool = RtpPortPool(20000, 20010)
    a, b = Session(), Session()
    pa, pb = pool.acquire(), pool.acquire()
    pool.bound(pa, a)
    pool.bound(pb, b)
    a.packets_forwarded, b.packets_forwarded = 10, 7
    assert (pool.streams, pool.packets_forwarded()) == (2, 17)
    pool.release(pa)
    a.packets_forwarded = 99  # a closed session no longer counts twice
    assert (pool.streams, pool.packets_forwarded()) == (1, 17)
