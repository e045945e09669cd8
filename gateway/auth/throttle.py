"""Authentication failure counting per source address: slow down, then block, guessers.

Failures are counted per source host (not port: a NAT rebinds ports). The answers to the first
`failures_before_delay` failures go out at once; later failure answers are delayed (the delay
doubles per failure up to a cap, the transport defers the send); once a source has more than
`failures_before_block` failures it is blocked and everything it sends is dropped for
`block_seconds`. A success clears the count; a count with no new failure for `forget_seconds`
is forgotten. Sans-IO: time is `now`. The SIP registrar (digest) and the H.323 gatekeeper
(H.235 passwords) each keep one, with the site's `[sip]` thresholds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from acdgate.acd.site import SipSettings


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """One refused authentication, for the gateway's log (the peer never sees the reason)."""

    source: tuple[str, int]
    username: str
    reason: str
    call_id: str
    method: str = ""
    at: float = 0.0


class ThrottleAction(Enum):
    """What to do with the answer to a failure."""

    ANSWER = "answer"  # send now
    DELAY = "delay"  # send after `delay` seconds
    BLOCK = "block"  # drop; the source is blocked


@dataclass(frozen=True, slots=True)
class ThrottleVerdict:
    """The verdict on one failure."""

    action: ThrottleAction
    delay: float = 0.0
    failures: int = 0


@dataclass(slots=True)
class _Source:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float | None = None


class AuthThrottle:
    """Per-source failure counts with delay and block thresholds; bounded (LRU) table."""

    def __init__(
        self,
        failures_before_delay: int,
        failures_before_block: int,
        block_seconds: float,
        *,
        delay_seconds: float = 1.0,
        max_delay_seconds: float = 8.0,
        forget_seconds: float | None = None,
        max_sources: int = 10_000,
    ) -> None:
        self._before_delay = failures_before_delay
        self._before_block = failures_before_block
        self._block_seconds = block_seconds
        self._delay = delay_seconds
        self._max_delay = max_delay_seconds
        self._forget = block_seconds if forget_seconds is None else forget_seconds
        self._max_sources = max_sources
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        # since start, for /metrics: failures counted, and sources blocked (each block once)
        self.failures_total = 0
        self.blocks_total = 0

    @classmethod
    def from_settings(cls, settings: SipSettings) -> AuthThrottle:
        """A throttle with the site's thresholds."""
        return cls(
            settings.auth_failures_before_delay,
            settings.auth_failures_before_block,
            settings.auth_block_seconds,
        )

    def blocked(self, host: str, now: float) -> bool:
        """Whether everything from `host` is to be dropped at `now`."""
        entry = self._sources.get(host)
        if entry is None or entry.blocked_until is None:
            return False
        if now < entry.blocked_until:
            return True
        del self._sources[host]  # the block is over: start from a clean count
        return False

    def failure(self, host: str, now: float) -> ThrottleVerdict:
        """Count one failure from `host`; how to treat the answer to it."""
        entry = self._sources.get(host)
        if entry is None or self._lapsed(entry, now):
            entry = _Source()
            self._sources[host] = entry
        self._sources.move_to_end(host)
        while len(self._sources) > self._max_sources:
            self._sources.popitem(last=False)
        if entry.blocked_until is not None and now < entry.blocked_until:
            return ThrottleVerdict(ThrottleAction.BLOCK, 0.0, entry.failures)
        entry.failures += 1
        entry.last_failure = now
        self.failures_total += 1
        n = entry.failures
        if n > self._before_block:
            entry.blocked_until = now + self._block_seconds
            self.blocks_total += 1
            return ThrottleVerdict(ThrottleAction.BLOCK, 0.0, n)
        if n > self._before_delay:
            delay = min(self._delay * 2 ** (n - self._before_delay - 1), self._max_delay)
            return ThrottleVerdict(ThrottleAction.DELAY, delay, n)
        return ThrottleVerdict(ThrottleAction.ANSWER, 0.0, n)

    def _lapsed(self, entry: _Source, now: float) -> bool:
        # a block that is over, or a count with no failure for `forget_seconds`, starts afresh
        if entry.blocked_until is not None:
            return now >= entry.blocked_until
        return now - entry.last_failure > self._forget

    def success(self, host: str) -> None:
        """A source that authenticated is no longer counted (a block stands until it ends)."""
        entry = self._sources.get(host)
        if entry is not None and entry.blocked_until is None:
            del self._sources[host]

    def failures(self, host: str) -> int:
        """The current failure count of `host`."""
        entry = self._sources.get(host)
        return 0 if entry is None else entry.failures

    def blocked_sources(self, now: float) -> int:
        """How many sources are blocked at `now` (a scan of the table: for /metrics, not per packet)."""
        return sum(1 for e in self._sources.values() if e.blocked_until is not None and now < e.blocked_until)

    def __len__(self) -> int:
        return len(self._sources)
