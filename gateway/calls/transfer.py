"""Blind transfer by REFER (RFC 3515): an agent hands the party it talks to over to a number.

The agent's phone sends REFER with `Refer-To: <sip:2105@gw>` inside its dialog. We check the
target (a station or a logged-on user's number, as direct calls do), answer 202 and NOTIFY
`SIP/2.0 100 Trying` (message/sipfrag, RFC 3515 2.4.4), then ring the target from the gateway.
From the 202 on the call belongs to the transfer: the ACD is told the agent's call ended (its
owner releases it), the agent may hang up at once (blind) and the other party then hears
ringback. When the target answers: NOTIFY `SIP/2.0 200 OK`, the other party is bridged to the
target, and the agent's leg gets BYE once the NOTIFY is answered. When the target fails:
NOTIFY with its status; the agent, if still there, keeps the call, else the other party is
released. The ACD follows the transferred call at the target station as a direct call
(ringing, talking, ended), so an agent there is not offered a queued call meanwhile and its
state shows the call; the transferred party's own part of the call (a station that called)
goes on with the transfer and ends with it. The target station's busy lamps (RFC 4235) show
the transferred call ringing, answered and ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from acdgate.acd import commands as cmd
from acdgate.acd.events import CommandRejected
from acdgate.codecs.tones import RINGBACK
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import CallTransferred
from acdgate.gateway.legs.leg import EndReason, Refusal
from acdgate.gateway.legs.registry import (
    Handover,
    LegOwner,
    LegRegistry,
    RegisteredLeg,
    SipLegs,
    leg_call_id,
)
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.ports import RtpPortPool
from acdgate.gateway.media.relay import Bridge
from acdgate.gateway.presence.dialog_info import DialogState, DialogStates, Direction
from acdgate.gateway.sip.message import Request
from acdgate.gateway.sip.registrar import Registrar
from acdgate.gateway.sip.stack import SipStack, TransactionFailed
from twisted.logger import Logger

log = Logger(namespace="acdgate.call")

RING_SECONDS = 60.0
_REFER_TO_USER = re.compile(r"<?\s*sips?:([^@;>?\s]+)@", re.IGNORECASE)

TargetLookup = Callable[[str], "str | Refusal"]  # dialled number -> station, or why not


@dataclass(slots=True)
class TransferredCall:
    """A party handed over by REFER: the referrer until the target answers, then the target."""

    call_id: str  # the other party's (caller's) Call-ID
    caller: SipLeg | OutgoingSipLeg
    referrer: SipLeg | OutgoingSipLeg
    refer_cseq: int
    target_station: str
    bridge: Bridge | None = None
    target: OutgoingSipLeg | None = None
    connected: bool = False
    ended: bool = False
    timer: Any = None
    legs: list[tuple[str, SipLeg | OutgoingSipLeg]] = field(default_factory=list)  # for statistics
    acd_call: str | None = None  # the direct call the ACD follows at the target (its leg's Call-ID)


def refer_to_user(value: str | None) -> str | None:
    """The (decoded) user part of a Refer-To header's SIP URI."""
    if not value:
        return None
    match = _REFER_TO_USER.search(value)
    return unquote(match.group(1)) if match else None


def _ignore_transaction_failure(failure: Any) -> None:
    failure.trap(TransactionFailed)  # a NOTIFY nobody answers changes nothing here


def sipfrag(status: int, reason: str) -> bytes:
    return f"SIP/2.0 {status} {reason}\r\n".encode()


class Transfers(LegOwner):
    """Serves REFER for blind transfer and runs the transferred calls."""

    def __init__(self, reactor: Any, stack: SipStack, registrar: Registrar, ports: RtpPortPool, bind_ip: str,
                 target_lookup: TargetLookup, sip_username: Callable[[str], str | None],
                 legs: LegRegistry, acd: AcdService | None = None,
                 dialog_states: DialogStates | None = None) -> None:
        self.reactor = reactor
        self.acd = acd
        self.dialog_states = dialog_states
        self.stack = stack
        self.registrar = registrar
        self.ports = ports
        self.bind_ip = bind_ip
        self.target_lookup = target_lookup
        self.sip_username = sip_username
        self.legs = legs
        self.calls: dict[str, TransferredCall] = {}  # the caller's Call-ID -> call
        self.on_ended: Callable[[TransferredCall], None] | None = None

    def refer(self, request: Request, referrer: SipLegs, handover: Handover) -> None:
        """A REFER from `referrer`, who talks to `handover.party`; `handover.release` takes the
        call from its owner, and the transfer then owns the party's leg."""
        caller = handover.party
        dialled = refer_to_user(request.headers.get("Refer-To"))
        if dialled is None:
            self.stack.respond(request, 400, "Missing Or Unusable Refer-To")
            return
        if request.headers.get("Replaces") or "replaces=" in (request.headers.get("Refer-To") or "").lower():
            self.stack.respond(request, 501, "Attended Transfer Not Supported")
            return
        target = self.target_lookup(dialled)
        if isinstance(target, Refusal):
            self.stack.respond(request, 403 if target.status == 480 else target.status, target.reason[:80])
            return
        if target == referrer.station:
            self.stack.respond(request, 403, "Cannot Transfer To Yourself")
            return
        username = self.sip_username(target)
        bindings = self.registrar.bindings(username, self.reactor.seconds()) if username else []
        if not bindings:
            self.stack.respond(request, 480, f"Station {target} Not Registered")
            return
        cseq = request.cseq
        self.stack.respond(request, 202)
        call = TransferredCall(leg_call_id(caller), caller, referrer, cseq[0] if cseq is not None else 0, target)
        call.legs = [("agent", referrer)]
        self.calls[call.call_id] = call
        call.bridge = handover.release()
        self.legs.reown(caller, self)
        self._notify(call, 100, "Trying", final=False)
        log.info("blind transfer of {call_id} by {station} to {target}", call_id=call.call_id,
                 station=referrer.station, target=target)
        if self.acd is not None:  # the reports count transfers per agent (issue 17)
            self.acd.journal([CallTransferred(at=self.reactor.seconds(), call_id=call.call_id,
                                              station=referrer.station or "", target=target, dialled=dialled)])
        binding = max(bindings, key=lambda b: b.expires_at)
        number = caller.station or "anonymous"
        leg = OutgoingSipLeg(self.reactor, self.stack, binding, station=target, caller_number=number,
                             caller_name=f"{number} transferred by {referrer.station or 'agent'}",
                             headers=[("Referred-By", f"<sip:{referrer.station}@{self.stack.local_address[0]}>")],
                             ports=self.ports, bind_ip=self.bind_ip)
        call.target = leg
        self._blf(call, leg, DialogState.EARLY)
        call.legs.append(("transfer-target", leg))
        self.legs.add(leg, self)
        leg.on_answered = lambda: self._target_answered(call)
        leg.on_ended = lambda reason: self._target_ended(call, reason)
        referrer_previous = referrer.on_ended  # its old owner's bookkeeping (BLF), call already released

        def referrer_ended(reason: EndReason) -> None:
            if referrer_previous is not None:
                referrer_previous(reason)
            self._referrer_ended(call)

        referrer.on_ended = referrer_ended
        caller_previous = caller.on_ended

        def caller_ended(reason: EndReason) -> None:
            if caller_previous is not None:
                caller_previous(reason)
            self._caller_ended(call)

        caller.on_ended = caller_ended
        call.timer = self.reactor.callLater(RING_SECONDS, self._ring_timeout, call)
        self._acd_follow(call, leg, number, dialled)
        leg.start()

    # -- the ACD's view of the target ---------------------------------------------------------

    def _acd_follow(self, call: TransferredCall, leg: OutgoingSipLeg, ani: str, dnis: str) -> None:
        """The ACD tracks the transfer as a direct call at the target station."""
        if self.acd is None:
            return
        events = self.acd.execute(cmd.DirectCallStarted(leg.call_id, call.target_station, ani=ani, dnis=dnis))
        if not any(isinstance(e, CommandRejected) for e in events):
            call.acd_call = leg.call_id

    def _acd_answered(self, call: TransferredCall) -> None:
        if self.acd is not None and call.acd_call is not None:
            self.acd.execute(cmd.DirectCallAnswered(call.acd_call))

    def _acd_ended(self, call: TransferredCall) -> None:
        if self.acd is not None and call.acd_call is not None:
            acd_call, call.acd_call = call.acd_call, None
            self.acd.execute(cmd.DirectCallEnded(acd_call))

    def _acd_party_ended(self, call: TransferredCall) -> None:
        """The transferred party's station, if it has the call as its own (it dialled), is
        free again: its part was left running when the call was handed over."""
        station = call.caller.station
        if self.acd is None or station is None:
            return
        if any(c.call_id == call.call_id for c in self.acd.acd.station_calls(station)):
            self.acd.execute(cmd.DirectCallEnded(call.call_id, station=station))

    def _blf(self, call: TransferredCall, leg: OutgoingSipLeg, state: DialogState) -> None:
        """Busy lamp fields of the target station (RFC 4235): it received the call."""
        if self.dialog_states is not None:
            self.dialog_states.set(call.target_station, state, leg.call_id, Direction.RECIPIENT,
                                   call.caller.station)

    # -- progress --------------------------------------------------------------------------

    def _notify(self, call: TransferredCall, status: int, reason: str, *, final: bool) -> Any:
        """NOTIFY the referrer of the transfer's progress (RFC 3515 2.4.5); None when it is gone."""
        referrer = call.referrer
        if referrer.ended:
            return None
        state = "terminated;reason=noresource" if final else "active;expires=60"
        d = referrer.send_in_dialog("NOTIFY", body=sipfrag(status, reason),
                                    content_type="message/sipfrag;version=2.0",
                                    extra=[("Event", f"refer;id={call.refer_cseq}"),
                                           ("Subscription-State", state)])
        d.addErrback(_ignore_transaction_failure)
        return d

    def _target_answered(self, call: TransferredCall) -> None:
        target = call.target
        assert target is not None
        if call.ended:
            target.hangup()
            return
        call.connected = True
        self._cancel_timer(call)
        self._acd_answered(call)
        self._blf(call, target, DialogState.CONFIRMED)
        if call.bridge is not None:
            call.bridge.close()
        call.caller.stop_playing()
        call.bridge = Bridge(self.reactor, call.caller.media, target.media)
        d = self._notify(call, 200, "OK", final=True)
        if d is None:
            return
        d.addBoth(lambda _: call.referrer.hangup())  # RFC 3515 2.4.7 / 5389-style: BYE after the NOTIFY

    def _target_ended(self, call: TransferredCall, reason: EndReason) -> None:
        target = call.target
        if target is not None:
            self.legs.remove(target)
            self._blf(call, target, DialogState.TERMINATED)
        if call.ended:
            return
        if call.connected:
            self._finish(call)  # the target hung up the transferred call
            return
        self._acd_ended(call)  # it rang and was not answered
        status = (target.final_status if target is not None else None) or 480
        self._notify(call, status if status >= 300 else 480,
                     "Busy Here" if status == 486 else "Temporarily Unavailable", final=True)
        call.target = None
        if call.referrer.ended:
            self._finish(call)  # nobody left to take the call back
        # else: the agent keeps the party (the bridge still joins them)

    def _referrer_ended(self, call: TransferredCall) -> None:
        if call.ended or call.connected:
            return
        if call.target is None:
            self._finish(call)  # the transfer failed and the agent left: release the party
            return
        if call.bridge is not None:
            call.bridge.close()
            call.bridge = None
        call.caller.play_tone(RINGBACK, int(RING_SECONDS * 1000))  # blind: the party waits for the target

    def _caller_ended(self, call: TransferredCall) -> None:
        if not call.ended:
            if not call.connected and call.target is not None:
                self._notify(call, 487, "Request Terminated", final=True)
            self._finish(call)

    def _ring_timeout(self, call: TransferredCall) -> None:
        call.timer = None
        if not call.ended and not call.connected and call.target is not None:
            call.target.cancel()  # ends with LOCAL_HANGUP: _target_ended NOTIFYs 480

    def _cancel_timer(self, call: TransferredCall) -> None:
        if call.timer is not None and call.timer.active():
            call.timer.cancel()
        call.timer = None

    def _finish(self, call: TransferredCall) -> None:
        if call.ended:
            return
        call.ended = True
        self._cancel_timer(call)
        if call.bridge is not None:
            call.bridge.close()
        for leg in (call.caller, call.referrer, call.target):
            if leg is not None:
                leg.hangup()
        self._acd_ended(call)
        self._acd_party_ended(call)
        self.calls.pop(call.call_id, None)
        if self.on_ended is not None:
            self.on_ended(call)

    def partners(self, leg: RegisteredLeg) -> list[tuple[str, RegisteredLeg]]:
        """The referrer and the transfer target of the transferred party `leg`'s call."""
        call = self.calls.get(leg_call_id(leg))
        return list(call.legs) if call is not None else []

    def stop(self) -> None:
        for call in list(self.calls.values()):
            self._finish(call)


__all__ = ["TransferredCall", "Transfers", "refer_to_user", "sipfrag"]
