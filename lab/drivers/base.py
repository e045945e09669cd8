"""The one small interface every endpoint driver implements, and what an endpoint observed.

Scenarios talk to `Endpoint` only: register, dial, send DTMF by a chosen method, answer,
hang up, play a tone into the call, press a feature key, and wait (with a timeout) for an
`Observation`: registered, a call answered / refused / ended (with a WAV of the audio it
received), an incoming call with its caller data, a tone heard, an agent state NOTIFYed. Drivers append observations from their own reader threads; `wait_for`
blocks on a condition variable (an event, never a sleep).
"""

from __future__ import annotations

import enum
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from acdgate.lab.inventory import EndpointSpec


class DtmfMethod(enum.Enum):
    RFC4733 = "rfc4733"  # RTP telephone-event packets
    SIP_INFO = "info"  # SIP INFO application/dtmf-relay
    INBAND = "inband"  # DTMF tones in the audio


class KeyKind(enum.Enum):
    PROGRAMMED = "programmed"  # a programmable key that dials a short code (speed dial)
    FEATURE_EVENT = "as-feature-event"  # BroadSoft feature key synchronisation (SUBSCRIBE)
    MENU = "menu"  # the phone's XML menu service


@dataclass(frozen=True, slots=True)
class FeatureKey:
    """A key press: a programmed key's short code (`*37`), a feature-event action, a menu item."""

    kind: KeyKind
    value: str


class ObservationKind(enum.Enum):
    REGISTERED = "registered"
    REGISTER_FAILED = "register-failed"
    CALL_ANSWERED = "call-answered"  # our outgoing call was answered
    CALL_REFUSED = "call-refused"  # our outgoing call got a final error status
    CALL_ENDED = "call-ended"  # a call ended (data: by = who hung up; audio = WAV path, 8 kHz mono)
    CALL_INCOMING = "call-incoming"  # data: caller, display, headers of interest
    TONE = "tone"  # data: name (confirmation, error, dial, forced-login)
    AGENT_STATE = "agent-state"  # a NOTIFYed agent state (as-feature-event / dialog-info)


@dataclass(frozen=True, slots=True)
class Observation:
    """Something an endpoint saw, when (monotonic seconds) and its details."""

    kind: ObservationKind
    at: float
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.data.items())
        return f"{self.kind.value} {extra}".strip()


class EndpointError(AssertionError):
    """The endpoint could not do what was asked (fails the scenario, with the driver's output)."""


class Unsupported(EndpointError):
    """The endpoint kind cannot do this at all (e.g. pyVoIP sending SIP INFO)."""


class Endpoint(ABC):
    """A phone of the lab, whatever drives it."""

    #: DTMF methods this endpoint can send.
    dtmf_methods: frozenset[DtmfMethod] = frozenset()
    #: Key kinds this endpoint can press.
    key_kinds: frozenset[KeyKind] = frozenset({KeyKind.PROGRAMMED})

    def __init__(self, spec: EndpointSpec) -> None:
        self.spec = spec
        self.observed: list[Observation] = []
        self._cursor = 0
        self._cond = threading.Condition()

    # -- what drivers call -----------------------------------------------------------------

    def observe(self, kind: ObservationKind, **data: str) -> Observation:
        """Record an observation (from any thread) and wake waiters."""
        obs = Observation(kind, time.monotonic(), data)
        with self._cond:
            self.observed.append(obs)
            self._cond.notify_all()
        return obs

    # -- what scenarios call ---------------------------------------------------------------

    def wait_for(self, kind: ObservationKind | set[ObservationKind], timeout: float = 15.0,
                 where: Callable[[Observation], bool] | None = None) -> Observation:
        """The first observation of `kind` (one kind or a set; matching `where`) after the last
        one waited for. Raises `EndpointError` listing what was observed when none comes in
        `timeout` seconds."""
        kinds = kind if isinstance(kind, set) else {kind}
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(self._cursor, len(self.observed)):
                    obs = self.observed[i]
                    if obs.kind in kinds and (where is None or where(obs)):
                        self._cursor = i + 1
                        return obs
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "; ".join(str(o) for o in self.observed[self._cursor:]) or "nothing"
                    names = "/".join(sorted(k.value for k in kinds))
                    raise EndpointError(
                        f"{self.spec.name} ({self.spec.kind.value}): no {names} in {timeout:g} s; "
                        f"observed since: {seen}\n{self.diagnostics()[-3000:]}")
                self._cond.wait(remaining)

    def stays_in_call(self, seconds: float) -> None:
        """Wait `seconds` while the current call goes on: raises `EndpointError` as soon as the
        endpoint observes the call ending (a scenario's talking time, checked, not slept)."""
        started = time.monotonic()
        deadline = started + seconds
        with self._cond:
            while True:
                for obs in self.observed[self._cursor:]:
                    if obs.kind is ObservationKind.CALL_ENDED and obs.at >= started:
                        raise EndpointError(
                            f"{self.spec.name} ({self.spec.kind.value}): the call ended "
                            f"{obs.at - started:.1f} s into {seconds:g} s of talking: {obs}\n"
                            f"{self.diagnostics()[-3000:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def tones(self) -> list[str]:
        """Names of the tones heard so far."""
        return [o.data["name"] for o in self.observed if o.kind is ObservationKind.TONE]

    def call(self, digits: str, timeout: float = 15.0) -> Observation:
        """Dial `digits` and wait until the call is answered or refused."""
        self.dial(digits)
        return self.wait_for({ObservationKind.CALL_ANSWERED, ObservationKind.CALL_REFUSED}, timeout)

    @abstractmethod
    def start(self) -> Endpoint:
        """Start whatever runs the endpoint (process, twin, connection)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop it; never hangs (kills when it must)."""

    @abstractmethod
    def register(self, timeout: float = 15.0) -> Observation:
        """Register the station's credentials; returns the REGISTERED observation."""

    @abstractmethod
    def dial(self, digits: str) -> None:
        """Start a call to `digits` (a short code or an extension)."""

    def send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        """Send digits in the current call by `method` (Unsupported when the kind cannot)."""
        if method not in self.dtmf_methods:
            raise Unsupported(f"{self.spec.kind.value} cannot send DTMF by {method.value}")
        self._send_dtmf(digits, method)

    def _send_dtmf(self, digits: str, method: DtmfMethod) -> None:
        raise Unsupported(f"{self.spec.kind.value} sends no DTMF")

    @abstractmethod
    def answer(self) -> None:
        """Answer the ringing incoming call."""

    @abstractmethod
    def hangup(self) -> None:
        """Hang up the current call."""

    def play_tone(self, freq: float, seconds: float) -> None:
        """Send a steady `freq` Hz tone into the current (answered) call for `seconds`, then
        silence: scenarios tell who hears whom by frequency."""
        raise Unsupported(f"{self.spec.kind.value} cannot play audio")

    def press_key(self, key: FeatureKey) -> None:
        """Press a feature key; a programmed key dials its short code."""
        if key.kind not in self.key_kinds:
            raise Unsupported(f"{self.spec.kind.value} has no {key.kind.value} keys")
        if key.kind is KeyKind.PROGRAMMED:
            self.dial(key.value)
            return
        self._press(key)

    def _press(self, key: FeatureKey) -> None:
        raise Unsupported(f"{self.spec.kind.value} has no {key.kind.value} keys")

    def diagnostics(self) -> str:
        """The driver's own output (process logs), for failure messages and reports."""
        return ""

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
