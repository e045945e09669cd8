"""One supervisor's intervention on one routed call (guide "Supervisor Intervention"): the
mode, the supervisor's leg and, once it is up, the Conference that mixes it into the call.

Its own module so that a routed call can hold one without the supervision controller, which
drives routed calls, being imported back.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from acdgate.codecs.recorder import CallRecorder
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.conference import Conference


class SupervisorMode(StrEnum):
    """What a supervisor does to an agent's call (guide "Supervisor Intervention")."""

    MONITOR = "monitor"
    WHISPER = "whisper"
    BARGE = "barge"
    INTERCEPT = "intercept"


class Intervention:
    """One supervisor on one call: the supervisor's leg and, once it is up, the Conference."""

    def __init__(self, supervisor: str, station: str | None, mode: SupervisorMode,
                 leg: SipLeg | OutgoingSipLeg) -> None:
        self.supervisor = supervisor
        self.station = station
        self.mode = mode
        self.leg = leg
        self.conference: Conference | None = None
        self._recorder: CallRecorder | None = None
        self.on_closed: Callable[[], None] | None = None  # told when `close` hangs the leg up

    @property
    def connected(self) -> bool:
        return self.conference is not None

    @property
    def recorder(self) -> CallRecorder | None:
        return self._recorder

    @recorder.setter
    def recorder(self, recorder: CallRecorder | None) -> None:
        self._recorder = recorder
        if self.conference is not None:
            self.conference.recorder = recorder

    def close(self) -> None:
        """Stop mixing and hang up the supervisor's leg (the call goes on, or has ended)."""
        if self.conference is not None:
            self.conference.close()
        self.leg.on_ended = None
        self.leg.hangup()
        if self.on_closed is not None:
            self.on_closed()
