"""Authentication failure counting per source address: slow down, then block, guessers.

Failures are counted per source host (not port: a NAT rebinds ports). The answers to the first
`failures_before_delay` failures go out at once; later failure answers are delayed (the delay
doubles per failure up to a cap, the transport defers the send); once a source has more than
`failures_before_block` failures it is blocked and everything it sends is dropped for
`block_seconds`. A success clears the count; a count with no new failure for `forget_seconds`
is forgotten. Sans-IO: time is `now`. The SIP registrar (digest) and the H.323 gatekeeper
(H.235 passwords) each keep one, with the site's `[sip]` thresholds.

Guessing spread over many addresses is counted per account too (a SIP username, an H.323
alias): after `account_failures_before_delay` failures on one account it is *held* for a delay
that doubles per further failure up to `account_max_delay_seconds`. While it is held, attempts
on it from anywhere but its usual addresses (where it authenticated lately, or where its
bindings are: the caller knows those) are refused without looking at the credentials, so a
right guess is refused like a wrong one; the phone itself, from its usual address, is never
held, so the hold cannot be turned into a lock-out. A success does not clear an account's
count (the phone's own registrations would then reopen the guessing every few minutes); the
count is forgotten after `account_forget_seconds` without a failure. `report` sums up what
happened once per `report_seconds`, for one log line instead of one per guess.
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


@dataclass(frozen=True, slots=True)
class ThrottleReport:
    """What the throttle saw during one reporting interval (one log line)."""

    since: float
    failures: int  # failures counted
    refused: int  # attempts on held accounts refused unchecked
    blocks: int  # sources blocked
    sources: int  # distinct sources that failed or were refused (capped at `_REPORT_CAP`)
    accounts: tuple[str, ...]  # accounts that failed, the most failed first (at most 5)


_REPORT_CAP = 10_000  # distinct sources/accounts remembered per interval
_USUAL_PER_ACCOUNT = 4  # addresses remembered per account


@dataclass(slots=True)
class _Account:
    failures: int = 0
    last_failure: float = 0.0
    held_until: float = 0.0
    refused: int = 0  # attempts refused while held, since the account entered the table


@dataclass(slots=True)
class _Source:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float | None = None
    unauthenticated: int = 0  # requests challenged for want of credentials, since a success


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
        account_failures_before_delay: int | None = None,
        account_delay_seconds: float = 1.0,
        account_max_delay_seconds: float | None = None,
        account_forget_seconds: float = 3600.0,
        usual_seconds: float = 86400.0,
        report_seconds: float = 60.0,
        max_accounts: int = 10_000,
        unauthenticated_per_failure: int = 10,
    ) -> None:
        self._before_delay = failures_before_delay
        self._before_block = failures_before_block
        self._block_seconds = block_seconds
        self._delay = delay_seconds
        self._max_delay = max_delay_seconds
        self._forget = block_seconds if forget_seconds is None else forget_seconds
        self._max_sources = max_sources
        self._unauthenticated_per_failure = unauthenticated_per_failure
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        # per account: by default the per-source thresholds, held up to the block time
        self._account_before_delay = (failures_before_delay if account_failures_before_delay is None
                                      else account_failures_before_delay)
        self._account_delay = account_delay_seconds
        self._account_max_delay = (max(block_seconds, account_delay_seconds)
                                   if account_max_delay_seconds is None else account_max_delay_seconds)
        self._account_forget = account_forget_seconds
        self._max_accounts = max_accounts
        self._accounts: OrderedDict[str, _Account] = OrderedDict()
        self._held_until = 0.0  # the latest hold of any account: none is held after it
        # account -> {host: last success}; only accounts that authenticated, so bounded by them
        self._usual: dict[str, dict[str, float]] = {}
        self._usual_seconds = usual_seconds
        self._report_seconds = report_seconds
        self._report_since: float | None = None  # the interval's first event
        self._last_report = float("-inf")
        self._window_failures = 0
        self._window_refused = 0
        self._window_blocks = 0
        self._window_sources: set[str] = set()
        self._window_accounts: dict[str, int] = {}
        # since start, for /metrics: failures counted, and sources blocked (each block once)
        self.failures_total = 0
        self.blocks_total = 0
        self.refused_total = 0  # attempts on held accounts refused unchecked

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

    def failure(self, host: str, now: float, account: str | None = None) -> ThrottleVerdict:
        """Count one failure from `host` (on `account`, when the credentials named one); how to
        treat the answer to it."""
        if account is not None:
            self._account_failure(account, now)
        self._note(host, now)
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
        self._window_failures += 1
        n = entry.failures
        if n > self._before_block:
            entry.blocked_until = now + self._block_seconds
            self.blocks_total += 1
            self._window_blocks += 1
            return ThrottleVerdict(ThrottleAction.BLOCK, 0.0, n)
        if n > self._before_delay:
            delay = min(self._delay * 2 ** (n - self._before_delay - 1), self._max_delay)
            return ThrottleVerdict(ThrottleAction.DELAY, delay, n)
        return ThrottleVerdict(ThrottleAction.ANSWER, 0.0, n)

    def unauthenticated(self, host: str, now: float) -> ThrottleVerdict:
        """Count one request from `host` challenged for want of credentials (an INVITE: each
        costs a challenge). A phone's next request authenticates and clears the count; every
        `unauthenticated_per_failure`-th one with no success between counts as a failure, so a
        flood is slowed and blocked like guessing while a NAT's phones calling at once are not."""
        entry = self._sources.get(host)
        if entry is None or self._lapsed(entry, now):
            entry = _Source(last_failure=now)
            self._sources[host] = entry
            while len(self._sources) > self._max_sources:
                self._sources.popitem(last=False)
        if entry.blocked_until is not None and now < entry.blocked_until:
            return ThrottleVerdict(ThrottleAction.BLOCK, 0.0, entry.failures)
        entry.unauthenticated += 1
        if entry.unauthenticated % self._unauthenticated_per_failure == 0:
            return self.failure(host, now)
        return ThrottleVerdict(ThrottleAction.ANSWER, 0.0, entry.failures)

    def _lapsed(self, entry: _Source, now: float) -> bool:
        # a block that is over, or a count with no failure for `forget_seconds`, starts afresh
        if entry.blocked_until is not None:
            return now >= entry.blocked_until
        return now - entry.last_failure > self._forget

    def success(self, host: str, account: str | None = None, now: float = 0.0) -> None:
        """A source that authenticated is no longer counted (a block stands until it ends); with
        `account`, `host` becomes one of the account's usual addresses (its count stays)."""
        entry = self._sources.get(host)
        if entry is not None and entry.blocked_until is None:
            del self._sources[host]
        if account is not None:
            usual = self._usual.get(account)
            if usual is None:
                self._usual[account] = {host: now}
                return
            usual[host] = now
            if len(usual) > _USUAL_PER_ACCOUNT:
                del usual[min(usual, key=usual.__getitem__)]

    # -- per account -------------------------------------------------------------------

    def _account_failure(self, account: str, now: float) -> None:
        entry = self._accounts.get(account)
        if entry is None or now - entry.last_failure > self._account_forget:
            entry = _Account()
            self._accounts[account] = entry
        self._accounts.move_to_end(account)
        while len(self._accounts) > self._max_accounts:
            self._accounts.popitem(last=False)
        entry.failures += 1
        entry.last_failure = now
        self._window_accounts[account] = self._window_accounts.get(account, 0) + 1
        if len(self._window_accounts) > _REPORT_CAP:
            self._window_accounts.pop(next(iter(self._window_accounts)))
        over = entry.failures - self._account_before_delay
        if over > 0:
            # the delay doubles per failure (2 ** over without an overflow past the cap)
            delay = min(self._account_delay * 2.0 ** min(over - 1, 64), self._account_max_delay)
            entry.held_until = max(entry.held_until, now + delay)
            self._held_until = max(self._held_until, entry.held_until)

    def usual(self, account: str, host: str, now: float) -> bool:
        """Whether `account` authenticated from `host` within `usual_seconds`."""
        usual = self._usual.get(account)
        if usual is None:
            return False
        at = usual.get(host)
        return at is not None and now - at <= self._usual_seconds

    def holding(self, now: float) -> bool:
        """Whether any account may be held at `now` (one comparison: for the hot path)."""
        return now < self._held_until

    def account_held(self, account: str, host: str, now: float, *, usual: bool = False) -> bool:
        """Whether an attempt on `account` from `host` is to be refused unchecked: the account
        is held after failures and `host` is none of its usual addresses (`usual`: the caller
        knows it is, e.g. the account's bindings are there). A refusal is counted."""
        if now >= self._held_until:
            return False
        entry = self._accounts.get(account)
        if entry is None or now >= entry.held_until or usual or self.usual(account, host, now):
            return False
        entry.refused += 1
        self.refused_total += 1
        self._window_refused += 1
        self._note(host, now)
        return True

    def held_accounts(self, now: float) -> int:
        """How many accounts are held at `now` (a scan: for /metrics, not per packet)."""
        if now >= self._held_until:
            return 0
        return sum(1 for e in self._accounts.values() if now < e.held_until)

    def refused_by_account(self, limit: int = 20) -> list[tuple[str, int]]:
        """(account, attempts refused while held) for the `limit` most refused accounts."""
        counted = [(name, e.refused) for name, e in self._accounts.items() if e.refused]
        counted.sort(key=lambda item: (-item[1], item[0]))
        return counted[:limit]

    def account_failures(self, account: str) -> int:
        """The current failure count of `account`."""
        entry = self._accounts.get(account)
        return 0 if entry is None else entry.failures

    # -- reporting ---------------------------------------------------------------------

    def _note(self, host: str, now: float) -> None:
        if self._report_since is None:
            self._report_since = now
        if len(self._window_sources) < _REPORT_CAP:
            self._window_sources.add(host)

    def next_report(self) -> float | None:
        """When `report` will give the events not reported yet, None when there are none."""
        return None if self._report_since is None else self._last_report + self._report_seconds

    def report(self, now: float) -> ThrottleReport | None:
        """A summary of what happened since the last report, at most one per `report_seconds`
        (the first event after a quiet interval is reported at once); None otherwise."""
        since = self._report_since
        if since is None or now - self._last_report < self._report_seconds:
            return None
        self._last_report = now
        ranked = sorted(self._window_accounts.items(), key=lambda item: (-item[1], item[0]))
        summary = ThrottleReport(since, self._window_failures, self._window_refused,
                                 self._window_blocks, len(self._window_sources),
                                 tuple(name for name, _ in ranked[:5]))
        self._report_since = None
        self._window_failures = self._window_refused = self._window_blocks = 0
        self._window_sources = set()
        self._window_accounts = {}
        return summary

    def failures(self, host: str) -> int:
        """The current failure count of `host`."""
        entry = self._sources.get(host)
        return 0 if entry is None else entry.failures

    def blocked_sources(self, now: float) -> int:
        """How many sources are blocked at `now` (a scan of the table: for /metrics, not per packet)."""
        return sum(1 for e in self._sources.values() if e.blocked_until is not None and now < e.blocked_until)

    def __len__(self) -> int:
        return len(self._sources)
