"""Routed calls: a call to a group number enters the ACD and reaches an agent through the B2BUA.

The caller's leg is answered at once and hears ringback while it waits (CIQ and LQT are the
engine's). The engine decides whom to offer the call to; each `OfferCall` rings that agent's
station with caller data (ANI in From and P-Asserted-Identity, DNIS and the group in
Call-Info/Alert-Info), each `OfferCancelled` (collective losers) or `RingNoAnswer` cancels it.
The first agent to answer is bridged to the caller; either hanging up ends the call.
A caller who hangs up while waiting is an abandon. Everything the engine says arrives through
`AcdService.listeners`, so offers made later (an agent becoming READY, overflow) work the same.
A caller at one of our stations has the call as its own outgoing one for the ACD (an agent
there is on a call, and is not offered one, its own included, until it hangs up).
Enterprise data (issue 16) comes from the INVITE's headers the site names and from the HTTP
API (`add_data`); both are journaled as `CallDataAdded` records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acdgate.acd import commands as cmd
from acdgate.acd import events as ev
from acdgate.acd.caller_data import (
    MAX_VALUE_CHARS,
    BuiltinKey,
    DataFields,
    DataSource,
    merge,
    printable,
)
from acdgate.acd.station_calls import CallDirection
from acdgate.codecs.tones import RINGBACK
from acdgate.gateway.agents.journal import CallDataAdded, RecordingStarted
from acdgate.gateway.calls.context import CallContext, CallContextUser
from acdgate.gateway.calls.enterprise_data import from_headers
from acdgate.gateway.calls.intervention import Intervention
from acdgate.gateway.i18n.catalogs import N_
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
from acdgate.gateway.media.recordings import ActiveRecording, RecordingArchive
from acdgate.gateway.media.relay import Bridge
from acdgate.gateway.presence.dialog_info import DialogState, Direction
from twisted.logger import Logger

log = Logger(namespace="acdgate.acd-calls")

HOLD_CYCLE_MS = 6_000  # one ringback cadence cycle; replayed while the caller waits


@dataclass(slots=True)
class RoutedCall:
    """One caller in the ACD and the agent legs ringing for it."""

    call_id: str
    caller: CallerLeg
    group: str
    offers: dict[str, AgentLeg] = field(default_factory=dict)  # user id -> leg
    agent: str | None = None
    agent_leg: AgentLeg | SipLeg | None = None  # a SipLeg: a supervisor who intercepted
    bridge: Bridge | None = None
    ended: bool = False
    # -- recording and supervision (issue 6) --
    recording: ActiveRecording | None = None
    intervention: Intervention | None = None  # while set, its Conference joins the legs, not `bridge`
    in_acd: bool = True  # False once intercepted: the ACD saw CallEnded for the agent
    caller_tracked: bool = False  # the ACD has it as the caller's station's outgoing call
    data: DataFields = ()  # enterprise data (issue 16): from the INVITE's headers and the API


class RoutedCalls(CallContextUser, LegOwner):
    """Glue between the ACD's routing decisions and SIP legs."""

    def __init__(self, context: CallContext) -> None:
        super().__init__(context)
        self.calls: dict[str, RoutedCall] = {}
        self._groups = {g.number: g for g in self.site.groups}
        self.recordings: RecordingArchive | None = None  # set to record calls (issue 6)
        # Asked when the agent hangs up: True when someone (a barging supervisor) keeps the
        # caller; otherwise the call ends with the agent's leg.
        self.on_agent_left: Callable[[RoutedCall], bool] | None = None
        # Rings an agent's station that has no SIP binding but an H.323 registration (the app
        # sets it when it serves H.323): (station, caller number, caller name) -> a leg, not
        # started, or None when the station is not registered there either.
        self.ring_h323: Callable[[str, str, str], OutgoingH323Leg | None] | None = None
        self.acd.listeners.append(self._events)

    def supervise(self, recordings: RecordingArchive | None, on_agent_left: Callable[[RoutedCall], bool]) -> None:
        """Record calls into `recordings`; ask `on_agent_left` when an agent hangs up."""
        self.recordings = recordings
        self.on_agent_left = on_agent_left

    def knows(self, dialled: str) -> bool:
        """Whether `dialled` is a group number."""
        return dialled in self._groups

    def enter(self, caller: CallerLeg, group: str) -> None:
        """A caller dialled a group: answer, play ringback, and hand the call to the ACD."""
        if not caller.has_media:
            caller.refuse(Refusal(488, caller.media_problem[:100] or "No usable media"))
            return
        call_id = caller.call_id
        call = RoutedCall(call_id, caller, group, data=self._incoming_data(caller))
        self.calls[call_id] = call
        caller.on_ended = lambda reason: self._caller_ended(call, reason)
        ani = caller.station or "anonymous"
        if call.data:
            self.acd.journal([CallDataAdded(at=self.reactor.seconds(), call_id=call_id, source=DataSource.SIP,
                                            fields=call.data)])
        if caller.station is not None:  # first: an agent calling its own group is not offered it
            started = self.acd.execute(cmd.DirectCallStarted(call_id, caller.station, ani=ani, dnis=group,
                                                             direction=CallDirection.OUTGOING))
            call.caller_tracked = not any(isinstance(e, ev.CommandRejected) for e in started)
        events = self.acd.execute(cmd.CallArrived(call_id, group, ani=ani, dnis=group, data=call.data))
        refused = next((e for e in events if isinstance(e, ev.CallRefused)), None)
        if refused is not None:
            # a full queue refuses before answering: the caller's phone shows why
            call.ended = True
            self.calls.pop(call_id, None)
            self._caller_free(call)
            for leg in list(call.offers.values()):
                leg.cancel()
            caller.refuse(Refusal(486 if refused.reason == "queue full" else 404,
                                  f"Group {group}: {refused.reason}"))
            return
        if call.ended:
            return
        answered = caller.answer()
        self._caller_blf(call, DialogState.CONFIRMED)  # a station calling a group is on a call
        if call.caller_tracked:
            self.acd.execute(cmd.DirectCallAnswered(call_id))
        answered.addCallbacks(lambda _: self._hold(call), lambda _: None)

    def stop(self) -> None:
        for call in list(self.calls.values()):
            self._finish(call)

    # -- enterprise data (issue 16) ---------------------------------------------------------

    def _incoming_data(self, caller: CallerLeg) -> DataFields:
        """The site's captured headers of the INVITE, and the caller's display name (an H.323
        caller brings none yet: docs/h323.md)."""
        if not isinstance(caller, SipLeg):
            return ()
        data = from_headers(self.site.caller_data.headers, caller.invite.headers.get)
        sender = caller.invite.from_addr
        name = printable(sender.display or "", MAX_VALUE_CHARS) if sender is not None else ""
        return merge(((BuiltinKey.CALLER_NAME.value, name),) if name else (), data)

    def data_of(self, call_id: str) -> DataFields | None:
        """The enterprise data of a routed call in progress; None when there is no such call."""
        call = self.calls.get(call_id)
        return call.data if call is not None and not call.ended else None

    def add_data(self, call_id: str, fields: DataFields) -> bool:
        """Add (or replace) fields of a routed call in progress, journaled; False: no such call."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return False
        call.data = merge(call.data, fields)
        self.acd.journal([CallDataAdded(at=self.reactor.seconds(), call_id=call_id, source=DataSource.API, fields=fields)])
        return True

    def _hold(self, call: RoutedCall) -> None:
        """Ringback (or the site's music on hold), one cycle at a time, while the caller waits."""
        if call.ended or call.agent is not None or call.caller.ended:
            return
        music = call.caller.media.hold_music  # policy.music_on_hold, set by the call dispatcher
        d = call.caller.media.play(music) if music is not None else call.caller.play_tone(RINGBACK, HOLD_CYCLE_MS)
        d.addCallback(lambda _: self._hold(call) if call.bridge is None else None)

    # -- the engine's decisions ---------------------------------------------------------

    def _events(self, events: list[ev.Event]) -> None:
        for event in events:
            call_id = getattr(event, "call_id", None)
            call = self.calls.get(call_id) if call_id is not None else None
            if call is None or call.ended:
                continue
            if isinstance(event, ev.OfferCall):
                self._offer(call, event)
            elif isinstance(event, (ev.OfferCancelled, ev.RingNoAnswer)):
                # the engine says RingNoAnswer (not OfferCancelled) when the no-answer time
                # passes: that phone must stop ringing now, not when another agent answers
                leg = call.offers.pop(event.user_id, None)
                if leg is not None:
                    leg.cancel()
            elif isinstance(event, ev.CallOverflowed):
                call.group = event.to_group

    def _offer(self, call: RoutedCall, offer: ev.OfferCall) -> None:
        station = next((s for s in self.site.stations if s.extension == offer.station), None)
        bindings = self.registrar.bindings(station.sip_username, self.reactor.seconds()) if station else []
        group = self._groups.get(offer.group)
        caller_name = f"{offer.ani} via {group.name if group else offer.group}"
        leg: AgentLeg
        if bindings:
            binding = max(bindings, key=lambda b: b.expires_at)  # the phone's latest registration
            host = self.stack.local_address[0]
            headers = [
                ("P-Asserted-Identity", f"<sip:{offer.ani}@{host}>"),
                ("Call-Info", f"<sip:{offer.group}@{host}>;purpose=info;group={offer.group};dnis={offer.dnis}"),
                ("Alert-Info", f"<http://{host}/alert/acd>;info=group-{offer.group}"),
            ]
            leg = OutgoingSipLeg(self.reactor, self.stack, binding, station=offer.station,
                                 caller_number=offer.ani, caller_name=caller_name,
                                 headers=headers, ports=self.ports, bind_ip=self.bind_ip)
        else:  # an H.323 desk: the caller data goes in the Setup's calling number and Display
            h323 = self.ring_h323(offer.station, offer.ani, caller_name) if self.ring_h323 else None
            if h323 is None:
                self.acd.execute(cmd.OfferFailed(call.call_id, offer.user_id))
                return
            leg = h323
        user = offer.user_id
        leg.on_answered = lambda: self._agent_answered(call, user, leg)
        leg.on_ended = lambda reason: self._agent_leg_ended(call, user, leg, reason)
        call.offers[user] = leg
        self.legs.add(leg, self)
        self._blf(offer.station, DialogState.EARLY, call)
        leg.start()

    def _agent_answered(self, call: RoutedCall, user: str, leg: AgentLeg) -> None:
        if call.ended or call.agent is not None:
            leg.hangup()
            return
        events = self.acd.execute(cmd.CallAnswered(call.call_id, user))
        if not any(isinstance(e, ev.CallConnected) for e in events):
            leg.hangup()  # the engine took the offer back (ring-no-answer raced the answer)
            return
        call.agent = user
        call.agent_leg = leg
        call.offers.pop(user, None)
        for other in list(call.offers.values()):
            other.cancel()
        call.offers.clear()
        call.caller.stop_playing()
        self.rejoin(call)
        if leg.station is not None:
            self._blf(leg.station, DialogState.CONFIRMED, call)

    def _agent_leg_ended(self, call: RoutedCall, user: str, leg: AgentLeg, reason: EndReason) -> None:
        self.legs.remove(leg)
        if leg.station is not None:
            self._blf(leg.station, DialogState.TERMINATED, call)
        if call.ended:
            return
        if call.agent_leg is leg:  # the agent hung up
            if self.on_agent_left is not None and self.on_agent_left(call):
                return
            self._finish(call)
            return
        if call.offers.get(user) is leg:
            del call.offers[user]
            if reason is not EndReason.LOCAL_HANGUP:  # busy, unreachable, refused: not our cancel
                self.acd.execute(cmd.OfferFailed(call.call_id, user))

    def _caller_ended(self, call: RoutedCall, reason: EndReason) -> None:
        self._finish(call)

    def _finish(self, call: RoutedCall) -> None:
        if call.ended:
            return
        call.ended = True
        if call.intervention is not None:
            call.intervention.close()
            call.intervention = None
        self.stop_recording(call)
        if call.bridge is not None:
            call.bridge.close()
        for leg in list(call.offers.values()):
            leg.cancel()
        call.offers.clear()
        if call.agent_leg is not None:
            call.agent_leg.hangup()
        call.caller.hangup()
        self.calls.pop(call.call_id, None)
        if call.in_acd:
            self.acd.execute(cmd.CallEnded(call.call_id))
        self._caller_free(call)

    def _caller_free(self, call: RoutedCall) -> None:
        """The caller's station has the call no more (the ACD tracked it there)."""
        self._caller_blf(call, DialogState.TERMINATED)
        if call.caller_tracked:
            call.caller_tracked = False
            self.acd.execute(cmd.DirectCallEnded(call.call_id, station=call.caller.station))

    def _caller_blf(self, call: RoutedCall, state: DialogState) -> None:
        """Busy lamp fields of a caller that is one of our stations (it placed the call)."""
        if self.dialog_states is not None and call.caller.station is not None:
            self.dialog_states.set(call.caller.station, state, call.call_id, Direction.INITIATOR, call.group)

    def _blf(self, station: str, state: DialogState, call: RoutedCall) -> None:
        if self.dialog_states is not None:
            self.dialog_states.set(station, state, f"{call.call_id}-{station}", Direction.RECIPIENT,
                                   call.caller.station)

    # -- recording and supervision hooks (issue 6) ----------------------------------------

    def connected_call(self, user_id: str) -> RoutedCall | None:
        """The call `user_id` is talking on (bridged, not ended), if any."""
        for call in self.calls.values():
            if call.agent == user_id and call.agent_leg is not None and not call.ended:
                return call
        return None

    def rejoin(self, call: RoutedCall) -> None:
        """Join caller and agent (again) with a two-party Bridge; the recording goes on in it."""
        if call.agent_leg is None or call.ended:
            return
        if call.bridge is not None:
            call.bridge.recorder = None  # the recording is ours, not the old bridge's to close
            call.bridge.close()
        call.bridge = Bridge(self.reactor, call.caller.media, call.agent_leg.media)
        if call.recording is not None:
            call.bridge.recorder = call.recording.recorder
            call.bridge.recording_path = Path(call.recording.info.path)

    def detach_bridge(self, call: RoutedCall) -> None:
        """Unjoin the Bridge (a Conference takes over) without closing the recording."""
        if call.bridge is not None:
            call.bridge.recorder = None
            call.bridge.close()
            call.bridge = None

    def start_recording(self, call: RoutedCall, by: str, *, supervisor: bool) -> str | None:
        """Record the call from now on; None, or why not."""
        if self.recordings is None:
            return N_("Recording is not enabled on this gateway.")
        if call.recording is not None:
            return N_("The call is already being recorded.")
        call.recording = self.recordings.start(call.call_id, call.agent or "", call.group, by,
                                               supervisor, self.reactor.seconds())
        # the reports count recordings per agent (issue 17)
        self.acd.journal([RecordingStarted(at=self.reactor.seconds(), call_id=call.call_id,
                                           user_id=call.agent or "", group=call.group, by=by,
                                           supervisor=supervisor)])
        if call.bridge is not None:
            call.bridge.recorder = call.recording.recorder
            call.bridge.recording_path = Path(call.recording.info.path)
        elif call.intervention is not None:
            call.intervention.recorder = call.recording.recorder
        return None

    def stop_recording(self, call: RoutedCall, *, supervisor: bool = True) -> str | None:
        """Finish the call's recording; None, or why not (guide: an agent cannot stop a
        supervisor-initiated recording)."""
        recording = call.recording
        if recording is None:
            return N_("The call is not being recorded.")
        if recording.info.supervisor and not supervisor:
            return N_("You cannot stop a supervisor-initiated recording.")
        call.recording = None
        if call.bridge is not None:
            call.bridge.recorder = None
        if call.intervention is not None:
            call.intervention.recorder = None
        if self.recordings is not None:
            self.recordings.finish(recording, self.reactor.seconds())
        return None

    def release(self, call_id: str) -> Bridge | None:
        """The agent transferred the call away (REFER): the ACD sees the agent's call end
        (wrap-up as usual), a recording in progress is finished, and the caller's leg stays
        up with its bridge, which the transfer now owns."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return None
        if call.recording is not None:
            self.stop_recording(call, supervisor=True)
        bridge, call.bridge = call.bridge, None
        call.ended = True
        self.acd.execute(cmd.CallEnded(call.call_id))
        self._caller_blf(call, DialogState.TERMINATED)  # the transfer has the caller's leg now
        return bridge

    def take_over(self, call: RoutedCall, user: str, leg: OutgoingSipLeg | SipLeg) -> None:
        """`user` (an intercepting supervisor) talks to the caller on `leg` from now on: the
        ACD sees the agent's call end (wrap-up as usual) and follows the call no more."""
        call.agent, call.agent_leg = user, leg
        if call.in_acd:
            call.in_acd = False
            self.acd.execute(cmd.CallEnded(call.call_id))

    def end(self, call: RoutedCall) -> None:
        """End the call: every leg hung up, the ACD told (unless it was intercepted)."""
        self._finish(call)

    def ring_station(self, station: str, *, caller_number: str, caller_name: str) -> OutgoingSipLeg | None:
        """A leg (not started) that will ring `station`'s latest registration; None when the
        station is not registered. Whoever starts it registers it in the leg registry."""
        found = self.site.station(station)
        bindings = self.registrar.bindings(found.sip_username, self.reactor.seconds()) if found else []
        if not bindings:
            return None
        binding = max(bindings, key=lambda b: b.expires_at)
        leg = OutgoingSipLeg(self.reactor, self.stack, binding, station=station, caller_number=caller_number,
                             caller_name=caller_name, ports=self.ports, bind_ip=self.bind_ip)
        return leg

    # -- what the call dispatcher asks of a leg's owner -------------------------------------

    def handover(self, leg: SipLegs) -> Handover | None:
        """The caller that `leg`, an agent's (or an intercepting supervisor's) outgoing leg,
        is bridged to (a REFER from it)."""
        if not isinstance(leg, OutgoingSipLeg):
            return None
        call = next((c for c in self.calls.values()
                     if c.agent_leg is leg and not c.ended and c.bridge is not None), None)
        if call is None or not isinstance(call.caller, SipLeg):  # no REFER for an H.323 caller yet
            return None
        call_id = call.call_id
        return Handover(call.caller, lambda: self.release(call_id))

    def partners(self, leg: RegisteredLeg) -> list[tuple[str, RegisteredLeg]]:
        """The agent's outgoing leg of the call whose caller leg is `leg`."""
        call = self.calls.get(leg.call_id) if not isinstance(leg, OutgoingSipLeg) else None
        agent = call.agent_leg if call is not None else None
        return [("agent", agent)] if isinstance(agent, OutgoingSipLeg | OutgoingH323Leg) else []
