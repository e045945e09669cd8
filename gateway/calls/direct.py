"""Direct calls through the gateway: station to station and to a user's number (non-routed).

The gateway is a back-to-back user agent: the caller's leg (UAS) rings while an outgoing leg
(UAC) rings the target station at the address it registered from; when it answers, the
caller's leg is answered and the two RTP sessions are bridged. Either side hanging up ends
the other. The ACD follows along as the guide's Table 2 says for non-routed calls: it is told
of the call at both stations (ringing at the target, placed at the caller's), so the agent
at either goes RESERVED, then TALKING, then back to the state it had, and is offered no
routed call meanwhile.

A user number whose user is logged off, or a station with no user when a user number was
dialled, is refused as the IP Office tip describes ("No User"); a station's own outgoing
calls still work when it has no user, and its calls then show "No User" as the caller name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acdgate.acd import commands as cmd
from acdgate.acd.events import CommandRejected
from acdgate.acd.station_calls import CallDirection
from acdgate.gateway.calls.context import CallContext, CallContextUser
from acdgate.gateway.legs.h323_uac import OutgoingH323Leg
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.legs.registry import (
    AgentLeg,
    CallerLeg,
    Handover,
    LegOwner,
    RegisteredLeg,
    SipLegs,
)
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.relay import Bridge
from acdgate.gateway.presence.dialog_info import DialogState, Direction
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

NO_USER = "No User"
RING_SECONDS = 60.0  # a direct call rings this long before the caller hears 480


@dataclass(slots=True)
class DirectCall:
    """One bridged call in progress."""

    call_id: str
    caller: CallerLeg
    targets: list[AgentLeg] = field(default_factory=list)
    answered_by: AgentLeg | None = None
    bridge: Bridge | None = None
    acd_tracked: bool = False
    ended: bool = False
    target_station: str | None = None
    timer: Any = None


class CallController(CallContextUser, LegOwner):
    """Places and bridges direct calls; refuses numbers that cannot be reached."""

    def __init__(self, context: CallContext) -> None:
        super().__init__(context)
        self.calls: dict[str, DirectCall] = {}
        self._stations = {s.extension: s for s in self.site.stations}
        self._users = {u.user_id: u for u in self.site.users}
        # rings a station registered by H.323 only (set by the app with H.323 served):
        # (station, caller number, caller name) -> a leg not started, or None
        self.ring_h323: Callable[[str, str, str], OutgoingH323Leg | None] | None = None

    def knows(self, dialled: str) -> bool:
        """Whether `dialled` is a station extension or a user number of this site."""
        return dialled in self._stations or dialled in self._users

    def place(self, caller: CallerLeg, dialled: str) -> None:
        """Ring what `dialled` names for `caller` (a leg not answered yet)."""
        target = self._target_station(dialled)
        if isinstance(target, Refusal):
            self._refuse(caller, dialled, target)
            return
        if target == caller.station:
            self._refuse(caller, dialled, Refusal(486, "Busy Here (calling yourself)"))
            return
        if not caller.has_media:
            self._refuse(caller, dialled, Refusal(488, caller.media_problem[:100] or "No usable media"))
            return
        station = self._stations[target]
        bindings = self.registrar.bindings(station.sip_username, self.reactor.seconds())
        caller_number, caller_name = self._caller_identity(caller.station)
        legs: list[AgentLeg] = []
        if bindings:
            headers = [("P-Asserted-Identity", f'"{caller_name}" <sip:{caller_number}@{self.stack.local_address[0]}>')]
            legs = [OutgoingSipLeg(self.reactor, self.stack, binding, station=target,
                                   caller_number=caller_number, caller_name=caller_name,
                                   headers=headers, ports=self.ports, bind_ip=self.bind_ip)
                    for binding in bindings]
        elif self.ring_h323 is not None:  # an H.323 desk: caller data in calling number, Display
            h323 = self.ring_h323(target, caller_number, caller_name)
            legs = [h323] if h323 is not None else []
        if not legs:
            self._refuse(caller, dialled, Refusal(480, f"Station {target} Not Registered"))
            return
        call = DirectCall(call_id=caller.call_id, caller=caller, target_station=target)
        self.calls[call.call_id] = call
        self._blf(call, DialogState.EARLY)
        for leg in legs:
            leg.on_ringing = lambda: self._ringing(call)
            leg.on_answered = lambda leg=leg: self._answered(call, leg)  # type: ignore[misc]
            leg.on_ended = lambda reason, leg=leg: self._target_ended(call, leg, reason)  # type: ignore[misc]
            call.targets.append(leg)
            self.legs.add(leg, self)
            leg.start()
        caller.on_ended = lambda reason: self._caller_ended(call, reason)
        # the ACD tracks every call of a station, someone logged on there or not (Table 2)
        starts = [cmd.DirectCallStarted(call.call_id, target, ani=caller_number, dnis=dialled)]
        if caller.station is not None:
            starts.append(cmd.DirectCallStarted(call.call_id, caller.station, ani=caller_number,
                                                dnis=dialled, direction=CallDirection.OUTGOING))
        for start in starts:
            events = self.acd.execute(start)
            call.acd_tracked |= not any(isinstance(e, CommandRejected) for e in events)
        call.timer = self.reactor.callLater(RING_SECONDS, self._ring_timeout, call)

    def release(self, call_id: str) -> Bridge | None:
        """Hand a connected call over (a blind transfer takes it): it ends for the ACD at the
        target station (the caller's part goes on with the transfer) and for the busy lamps,
        its legs stay up; returns its bridge, still joining them."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return None
        bridge, call.bridge = call.bridge, None
        call.ended = True
        if call.timer is not None and call.timer.active():
            call.timer.cancel()
        self._blf(call, DialogState.TERMINATED)
        if call.acd_tracked and call.target_station is not None:
            self.acd.execute(cmd.DirectCallEnded(call.call_id, station=call.target_station))
        self.calls.pop(call.call_id, None)
        return bridge

    def handover(self, leg: SipLegs) -> Handover | None:
        """The caller that `leg`, the target that answered, is bridged to (a REFER from it)."""
        call = next((c for c in self.calls.values()
                     if c.answered_by is leg and not c.ended and c.bridge is not None), None)
        if call is None or not isinstance(call.caller, SipLeg):  # no REFER for an H.323 caller yet
            return None
        call_id = call.call_id
        return Handover(call.caller, lambda: self.release(call_id))

    def partners(self, leg: RegisteredLeg) -> list[tuple[str, RegisteredLeg]]:
        """The target that answered the call whose caller leg is `leg`."""
        call = self.calls.get(leg.call_id) if not isinstance(leg, OutgoingSipLeg) else None
        if call is None or call.answered_by is None:
            return []
        return [("callee", call.answered_by)]

    # -- targets ----------------------------------------------------------------------------

    def target_station(self, dialled: str) -> str | Refusal:
        """The station `dialled` (an extension or a logged-on user's number) rings, or why not."""
        return self._target_station(dialled)

    def sip_username(self, extension: str) -> str | None:
        """The SIP username a station registers with."""
        station = self._stations.get(extension)
        return station.sip_username if station is not None else None

    def _target_station(self, dialled: str) -> str | Refusal:
        if dialled in self._stations:
            return dialled
        user = self._users.get(dialled)
        if user is None:
            return Refusal(404, f"No Such Number {dialled}")
        agent = self.acd.acd.agent(user.user_id)
        if agent is None or agent.station is None:
            # IP Office: a force-login user who logged off cannot be reached at any station
            return Refusal(480, f"{NO_USER}: user {dialled} is not logged on")
        return agent.station

    def _caller_identity(self, station: str | None) -> tuple[str, str]:
        """(number, display name) of calls from `station`: its user, or "No User"."""
        if station is None:
            return ("anonymous", "Anonymous")
        agent = self.acd.acd.agent_at_station(station)
        if agent is None:
            return (station, NO_USER)
        user = self._users.get(agent.user_id)
        return (agent.user_id, user.name if user is not None else agent.user_id)

    # -- progress ---------------------------------------------------------------------------

    def _ringing(self, call: DirectCall) -> None:
        if not call.ended and call.answered_by is None:
            call.caller.ringing()

    def _answered(self, call: DirectCall, leg: AgentLeg) -> None:
        if call.ended or call.answered_by is not None:
            leg.hangup()  # a second contact answered too late
            return
        call.answered_by = leg
        for other in call.targets:
            if other is not leg:
                other.cancel()
        if call.acd_tracked:
            self.acd.execute(cmd.DirectCallAnswered(call.call_id))
        self._blf(call, DialogState.CONFIRMED)
        d = call.caller.answer()
        call.bridge = Bridge(self.reactor, call.caller.media, leg.media)

        def confirmed_failed(failure: Any) -> None:
            self._finish(call, hang_up=True)

        d.addErrback(confirmed_failed)

    def _target_ended(self, call: DirectCall, leg: AgentLeg, reason: EndReason) -> None:
        self.legs.remove(leg)
        if call.ended:
            return
        if call.answered_by is leg:
            self._finish(call, hang_up=True)
            return
        if call.answered_by is None and all(t.ended for t in call.targets):
            status = leg.final_status or 480
            refusal = Refusal(status if 400 <= status < 700 and status != 487 else 480,
                              "Busy Here" if status == 486 else "Temporarily Unavailable")
            call.caller.refuse(refusal)
            self._finish(call, hang_up=False)

    def _caller_ended(self, call: DirectCall, reason: EndReason) -> None:
        self._finish(call, hang_up=True)

    def _ring_timeout(self, call: DirectCall) -> None:
        if not call.ended and call.answered_by is None:
            call.caller.refuse(Refusal(480, "No Answer"))
            self._finish(call, hang_up=True)

    def _finish(self, call: DirectCall, *, hang_up: bool) -> None:
        if call.ended:
            return
        call.ended = True
        if call.timer is not None and call.timer.active():
            call.timer.cancel()
        self._blf(call, DialogState.TERMINATED)
        if call.bridge is not None:
            call.bridge.close()
        if hang_up:
            call.caller.hangup()
            for leg in call.targets:
                leg.hangup()
        if call.acd_tracked:
            self.acd.execute(cmd.DirectCallEnded(call.call_id))
        self.calls.pop(call.call_id, None)

    def _blf(self, call: DirectCall, state: DialogState) -> None:
        """Busy lamp fields: both stations' dialog state (RFC 4235), for supervisors' keys."""
        if self.dialog_states is None:
            return
        if call.caller.station is not None:
            self.dialog_states.set(call.caller.station, state, call.call_id, Direction.INITIATOR,
                                   call.target_station)
        if call.target_station is not None:
            self.dialog_states.set(call.target_station, state, call.call_id, Direction.RECIPIENT,
                                   call.caller.station)

    def _refuse(self, caller: CallerLeg, dialled: str, refusal: Refusal) -> None:
        log.info("call from {station} to {dialled} refused: {status} {reason}", station=caller.station,
                 dialled=dialled, status=refusal.status, reason=refusal.reason)
        caller.refuse(refusal)

    def stop(self) -> None:
        for call in list(self.calls.values()):
            self._finish(call, hang_up=True)
