"""Session timers (RFC 4028) for one dialog, sans-IO: header negotiation and the refresh clock.

Theory of operation: a UA that offers `Supported: timer` or `Session-Expires` in an INVITE asks
for a session interval. The answering side (`negotiate`) refuses an interval below its
Min-SE with 422 (RFC 4028 8.1.1), otherwise picks the refresher (the request's `refresher=`
if given, else the UAC: "prefer uac", RFC 4028 9) and answers `Session-Expires` with
`Require: timer`. The `SessionTimer` then runs on `(now)` arguments: the refresher sends a
refresh at half the interval (RFC 4028 10); the other side, when nothing arrives, sends BYE
at interval - min(32, interval/3) (RFC 4028 10). Every accepted refresh (re-INVITE or
UPDATE, either way) restarts the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MIN_SE = 90  # RFC 4028 4: the minimum Session-Expires anyone may ask for, and ours
DEFAULT_SE = 1800  # RFC 4028 4: the recommended interval when only `Supported: timer` is offered


class Refresher(Enum):
    """Which end of the dialog refreshes (the `refresher` parameter)."""

    UAC = "uac"
    UAS = "uas"


class TimerAction(Enum):
    """What the owner of a `SessionTimer` must do now."""

    REFRESH = "refresh"  # send a re-INVITE or UPDATE
    EXPIRE = "expire"  # the session expired: BYE


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """A parsed `Session-Expires: 1800;refresher=uac` header."""

    seconds: int
    refresher: Refresher | None

    def header(self) -> str:
        return f"{self.seconds}" + (f";refresher={self.refresher.value}" if self.refresher else "")


@dataclass(frozen=True, slots=True)
class TooSmall:
    """Answer 422 Session Interval Too Small with `Min-SE: min_se`."""

    min_se: int


class TimerSyntaxError(ValueError):
    """A malformed Session-Expires or Min-SE (remote fault: 400)."""


def parse_session_expires(value: str) -> SessionExpires:
    """`Session-Expires` (RFC 4028 4: delta-seconds *(;se-params)); TimerSyntaxError when bad."""
    head, *params = [p.strip() for p in value.split(";")]
    if not head.isdigit():
        raise TimerSyntaxError(f"Session-Expires {value!r} is not delta-seconds")
    refresher: Refresher | None = None
    for param in params:
        name, _, arg = param.partition("=")
        if name.strip().lower() == "refresher":
            try:
                refresher = Refresher(arg.strip().lower())
            except ValueError:
                raise TimerSyntaxError(f"refresher={arg.strip()!r} is neither uac nor uas") from None
    return SessionExpires(int(head), refresher)


def parse_min_se(value: str | None) -> int:
    """`Min-SE` (RFC 4028 5), MIN_SE when absent; TimerSyntaxError when bad."""
    if value is None:
        return MIN_SE
    head = value.split(";", 1)[0].strip()
    if not head.isdigit():
        raise TimerSyntaxError(f"Min-SE {value!r} is not delta-seconds")
    return int(head)


def offers_timer(supported: str | None, session_expires: str | None) -> bool:
    """Whether a request asks for session timers (RFC 4028 7.1: Supported: timer or Session-Expires)."""
    tokens = {t.strip().lower() for t in (supported or "").split(",")}
    return "timer" in tokens or session_expires is not None


def negotiate(supported: str | None, session_expires: str | None, min_se: str | None, *,
              our_min_se: int = MIN_SE) -> SessionExpires | TooSmall | None:
    """The UAS side of an INVITE (RFC 4028 9): the interval and refresher to answer with,
    TooSmall for a 422, or None when the request does not use session timers.
    Raises TimerSyntaxError for malformed headers."""
    if not offers_timer(supported, session_expires):
        return None
    floor = max(our_min_se, parse_min_se(min_se))
    if session_expires is None:
        # RFC 4028 9: the UAS may add one; the UAC supports it, so it refreshes ("prefer uac")
        return SessionExpires(max(DEFAULT_SE, floor), Refresher.UAC)
    asked = parse_session_expires(session_expires)
    if asked.seconds < our_min_se:
        return TooSmall(our_min_se)  # RFC 4028 8.1.1
    uac_supports = "timer" in {t.strip().lower() for t in (supported or "").split(",")}
    refresher = asked.refresher
    if refresher is None:
        # RFC 4028 9: UAS chooses; uac when the UAC supports timers, else ourselves
        refresher = Refresher.UAC if uac_supports else Refresher.UAS
    return SessionExpires(asked.seconds, refresher)


class SessionTimer:
    """The running clock of one negotiated session interval.

    `we_refresh` is True when our end is the refresher (we are the UAS and refresher=uas,
    or the UAC and refresher=uac).
    """

    def __init__(self, interval: int, we_refresh: bool, now: float) -> None:
        self.interval = interval
        self.we_refresh = we_refresh
        self.last_refresh = now
        self.expired = False
        self.refresh_pending = False  # we sent a refresh, no 2xx yet

    @classmethod
    def for_uas(cls, negotiated: SessionExpires, now: float) -> SessionTimer:
        return cls(negotiated.seconds, negotiated.refresher is Refresher.UAS, now)

    @classmethod
    def for_uac(cls, negotiated: SessionExpires, now: float) -> SessionTimer:
        return cls(negotiated.seconds, negotiated.refresher is not Refresher.UAS, now)

    def refreshed(self, now: float, interval: int | None = None) -> None:
        """A refresh succeeded (either way): restart the clock, maybe with a new interval."""
        if interval is not None:
            self.interval = interval
        self.last_refresh = now
        self.refresh_pending = False

    def deadline(self) -> float | None:
        """When `handle_timer` has something to do next (None once expired)."""
        if self.expired:
            return None
        if self.we_refresh and not self.refresh_pending:
            return self.last_refresh + self.interval / 2  # RFC 4028 10
        # RFC 4028 10: BYE at interval - min(32, interval/3) without a refresh
        return self.last_refresh + self.interval - min(32.0, self.interval / 3)

    def handle_timer(self, now: float) -> TimerAction | None:
        """The action due at `now`, if any (a refresh re-arms from `now` until `refreshed`)."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        if self.we_refresh and not self.refresh_pending:
            # until the refresh's 2xx restarts the clock, expire like a non-refresher would
            self.refresh_pending = True
            return TimerAction.REFRESH
        self.expired = True
        return TimerAction.EXPIRE

    def refresh_failed(self) -> TimerAction:
        """RFC 4028 10: a refresh answered 408 or 481 (or not at all) ends the session."""
        self.expired = True
        return TimerAction.EXPIRE


__all__ = [
    "DEFAULT_SE", "MIN_SE", "Refresher", "SessionExpires", "SessionTimer", "TimerAction",
    "TimerSyntaxError", "TooSmall", "negotiate", "offers_timer", "parse_min_se",
    "parse_session_expires",
]
