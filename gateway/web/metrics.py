"""`GET /metrics`: the gateway in Prometheus text format (prometheus-client).

Most figures are read from the live state when scraped (a custom collector over a
`MetricsSource`, which the gateway implements): registrations, agents by state, calls waiting
and the longest wait per group, SIP messages counted in plain ints by the stack, the
authentication throttles' counters, RTP streams and relayed packets. Only the ACD's call
outcomes per group are counted as they happen, by `CallCounters`, a listener on the ACD's
events. Each gateway has a registry of its own (never prometheus-client's global one), so
several gateways in one process do not collide.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from acdgate.acd.events import CallAbandoned, CallConnected, CallEntered, CallOverflowed, Event
from acdgate.acd.states import AgentState
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from twisted.web import resource, server

PREFIX = "acdgate"


@dataclass(frozen=True, slots=True)
class GroupSample:
    """One group's queue now."""

    number: str
    waiting: int  # calls in queue (CIQ)
    longest_wait: float  # seconds the oldest waiting call has waited (LQT), 0 with none


@dataclass(frozen=True, slots=True)
class AuthSample:
    """One authentication throttle's counters (`gateway.auth.throttle.AuthThrottle`)."""

    protocol: str  # "sip" (digest) | "h323" (H.235)
    failures: int  # since start
    blocks: int  # sources blocked, since start
    blocked_sources: int  # blocked now
    refused: int = 0  # attempts on accounts held after failures, refused unchecked, since start
    held_accounts: int = 0  # accounts held now
    refused_by_account: tuple[tuple[str, int], ...] = ()  # the most refused accounts (bounded)


@dataclass(frozen=True, slots=True)
class MetricsSample:
    """What the collector exposes, read from the live gateway when scraped."""

    registrations: Mapping[tuple[str, str], int]  # (kind "sip" | "h323", transport) -> count
    agents: Mapping[AgentState, int]  # logged-on agents per state
    groups: Sequence[GroupSample]
    sip_requests_in: Mapping[str, int]  # by method
    sip_requests_out: Mapping[str, int]
    sip_responses_in: Mapping[int, int]  # by status
    sip_responses_out: Mapping[int, int]
    auth: Sequence[AuthSample]
    rtp_streams: int
    rtp_packets_relayed: int
    uptime: float
    sip_connections_open: int = 0  # SIP over TCP/TLS
    sip_connections_refused: int = 0  # at accept, over the caps, since start
    sip_connections_idle_closed: int = 0  # since start


class CountingThrottle(Protocol):
    """An authentication throttle's counters (`gateway.auth.throttle.AuthThrottle`)."""

    @property
    def failures_total(self) -> int: ...

    @property
    def blocks_total(self) -> int: ...

    def blocked_sources(self, now: float) -> int: ...

    @property
    def refused_total(self) -> int: ...

    def held_accounts(self, now: float) -> int: ...

    def refused_by_account(self, limit: int = 20) -> list[tuple[str, int]]: ...


def auth_sample(protocol: str, throttle: CountingThrottle, now: float) -> AuthSample:
    """The sample of one throttle's counters at `now`."""
    return AuthSample(protocol, throttle.failures_total, throttle.blocks_total, throttle.blocked_sources(now),
                      throttle.refused_total, throttle.held_accounts(now), tuple(throttle.refused_by_account()))


class MetricsSource(Protocol):
    """What `/metrics` reads: the gateway's live state, sampled at once."""

    def metrics_sample(self) -> MetricsSample: ...


class CallCounters:
    """Calls offered, answered, abandoned and overflowed per group since start: a listener on
    the ACD service's committed events (`AcdService.listeners`). Counted as acd.reports
    counts them from the journal: offered = CallEntered (arrivals and overflows in)."""

    OUTCOMES = ("offered", "answered", "abandoned", "overflowed")

    def __init__(self, groups: Iterable[str]) -> None:
        self.counts: dict[str, dict[str, int]] = {g: dict.fromkeys(self.OUTCOMES, 0) for g in groups}

    def __call__(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, CallEntered):
                self._add(event.group, "offered")
            elif isinstance(event, CallConnected):
                self._add(event.group, "answered")
            elif isinstance(event, CallAbandoned):
                self._add(event.group, "abandoned")
            elif isinstance(event, CallOverflowed):
                self._add(event.from_group, "overflowed")

    def _add(self, group: str, outcome: str) -> None:
        row = self.counts.get(group)
        if row is None:
            row = self.counts[group] = dict.fromkeys(self.OUTCOMES, 0)
        row[outcome] += 1


class GatewayCollector(Collector):
    """Reads a `MetricsSource` (and the `CallCounters`) on every scrape."""

    def __init__(self, source: MetricsSource, calls: CallCounters) -> None:
        self._source = source
        self._calls = calls

    def collect(self) -> Iterator[Metric]:
        s = self._source.metrics_sample()
        yield _gauge("uptime_seconds", "Seconds since the gateway started", [], [((), s.uptime)])
        yield _gauge("registrations", "Registered endpoints (SIP bindings, H.323 RAS registrations)",
                     ["kind", "transport"], sorted(s.registrations.items()))
        yield _gauge("agents", "Logged-on agents by ACD state", ["state"],
                     [((state.name,), s.agents.get(state, 0)) for state in AgentState
                      if state is not AgentState.LOGGED_OUT])
        yield _gauge("group_calls_waiting", "Calls waiting in the group's queue (CIQ)", ["group"],
                     [((g.number,), g.waiting) for g in s.groups])
        yield _gauge("group_longest_wait_seconds", "How long the oldest waiting call has waited (LQT)",
                     ["group"], [((g.number,), g.longest_wait) for g in s.groups])
        for outcome in CallCounters.OUTCOMES:
            yield _counter(f"group_calls_{outcome}", f"Calls {outcome} per group since start", ["group"],
                           [((g,), row[outcome]) for g, row in sorted(self._calls.counts.items())])
        yield _counter("sip_requests", "SIP requests on the wire (retransmissions included)",
                       ["direction", "method"],
                       [(("in", m), n) for m, n in sorted(s.sip_requests_in.items())]
                       + [(("out", m), n) for m, n in sorted(s.sip_requests_out.items())])
        yield _counter("sip_responses", "SIP responses on the wire (retransmissions included)",
                       ["direction", "status"],
                       [(("in", str(c)), n) for c, n in sorted(s.sip_responses_in.items())]
                       + [(("out", str(c)), n) for c, n in sorted(s.sip_responses_out.items())])
        yield _counter("auth_failures", "Failed authentications (SIP digest, H.323 H.235)", ["protocol"],
                       [((a.protocol,), a.failures) for a in s.auth])
        yield _counter("auth_blocks", "Sources blocked after too many failed authentications",
                       ["protocol"], [((a.protocol,), a.blocks) for a in s.auth])
        yield _gauge("auth_blocked_sources", "Sources blocked now", ["protocol"],
                     [((a.protocol,), a.blocked_sources) for a in s.auth])
        yield _counter("auth_refused_held", "Attempts on accounts held after failures elsewhere, refused unchecked",
                       ["protocol"], [((a.protocol,), a.refused) for a in s.auth])
        yield _gauge("auth_held_accounts", "Accounts held now after failures (guessing spread over sources)",
                     ["protocol"], [((a.protocol,), a.held_accounts) for a in s.auth])
        yield _counter("auth_account_refused", "Attempts refused on a held account (the 20 most refused)",
                       ["protocol", "account"],
                       [((a.protocol, name), n) for a in s.auth for name, n in a.refused_by_account])
        yield _gauge("sip_connections_open", "SIP connections open (TCP and TLS)", [],
                     [((), s.sip_connections_open)])
        yield _counter("sip_connections_refused", "SIP connections refused at accept: over the caps", [],
                       [((), s.sip_connections_refused)])
        yield _counter("sip_connections_idle_closed", "SIP connections closed after the idle time", [],
                       [((), s.sip_connections_idle_closed)])
        yield _gauge("rtp_streams", "RTP streams open (call legs' media sockets)", [],
                     [((), s.rtp_streams)])
        yield _counter("rtp_packets_relayed", "RTP packets relayed from one call leg to another", [],
                       [((), s.rtp_packets_relayed)])


def _gauge(name: str, documentation: str, labels: list[str],
           samples: Iterable[tuple[tuple[str, ...], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _counter(name: str, documentation: str, labels: list[str],
             samples: Iterable[tuple[tuple[str, ...], float]]) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def make_registry(source: MetricsSource, calls: CallCounters) -> CollectorRegistry:
    """A registry of this gateway's own: its collector and the process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(source, calls))
    ProcessCollector(registry=registry)
    return registry


class MetricsResource(resource.Resource):
    """`GET /metrics`: the registry in the Prometheus text format (version 0.0.4)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        return generate_latest(self._registry)


__all__ = [
    "AuthSample", "CallCounters", "CountingThrottle", "GatewayCollector", "GroupSample", "MetricsResource", "MetricsSample",
    "MetricsSource", "auth_sample", "make_registry",
]
