"""Supervisor intervention on routed calls and the recording controls, as the guide describes
them ("Supervisor Intervention", "Agent-Initiated Recording", "Monitoring/Recording
Notification").

A supervisor (a `User` with `supervisor = true`, for the agent's group when
`supervised_groups` is set) joins an agent's call from a station: by short code (`*45*N#`
monitor, `*46*N#` whisper, `*47*N#` barge-in, `*48*N#` intercept, the leg that dialled is
the supervisor's) or by HTTP (`POST /api/agents/N/monitor`, the gateway rings the
supervisor's station). Monitor, whisper and barge-in switch the call from its two-party
Bridge to a `conference.Conference` until the supervisor hangs up (or changes mode over
HTTP); intercept moves the caller to the supervisor's leg, hangs up the agent's leg and
ends the call in the ACD for the agent (CallEnded, wrap-up as usual). The supervisor's own
leg is a call of the supervisor's station for the ACD (issue 16), from the ring or the join
until it ends: a supervisor logged on as an agent is Talking meanwhile, and offered nothing;
the station's busy lamps show it too (ringing, on the call, ended).

Notification (site `policy.agent_notice`, `policy.notice_beep`): the agent's phone status
line shows `Rec`, `Mon` or `Rec/Mon` (agent-initiated recording always shows `Rec`), and a
beep (codecs.tones.RECORDING_BEEP) tells the agent when a supervisor starts listening or
recording, and again every `policy.notice_beep_every_seconds` while that goes on.

Feature levels (guide "IP Phone Agent Feature Levels", `acd.feature_levels`): starting an
agent-initiated or a supervisor-initiated recording needs the agent's level to have it (not
Standard); a refusal says why and is journaled (`FeatureLevelRefused`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import Any

from acdgate.acd import commands as cmd
from acdgate.acd.events import CommandRejected
from acdgate.acd.feature_levels import LevelFeature, refusal
from acdgate.acd.site import Feature, Site
from acdgate.acd.station_calls import CallDirection
from acdgate.codecs.mixer import MixMode, Party
from acdgate.codecs.tones import RECORDING_BEEP, render
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.agents.journal import FeatureLevelRefused
from acdgate.gateway.calls.intervention import Intervention, SupervisorMode
from acdgate.gateway.calls.routed import RoutedCall, RoutedCalls
from acdgate.gateway.i18n.catalogs import N_
from acdgate.gateway.legs.leg import EndReason, Leg, Refusal
from acdgate.gateway.legs.registry import Handover, LegOwner, LegRegistry, SipLegs, leg_call_id
from acdgate.gateway.legs.sip_uac import OutgoingSipLeg
from acdgate.gateway.legs.sip_uas import SipLeg
from acdgate.gateway.media.conference import Conference
from acdgate.gateway.media.recordings import RecordingArchive
from acdgate.gateway.media.session import MediaSession
from acdgate.gateway.presence.dialog_info import DialogState, Direction
from twisted.logger import Logger

log = Logger(namespace="acdgate.supervision")

BEEP_MS = 500  # one beep of RECORDING_BEEP's cadence


MODE_OF_FEATURE = {
    Feature.MONITOR: SupervisorMode.MONITOR,
    Feature.WHISPER: SupervisorMode.WHISPER,
    Feature.BARGE: SupervisorMode.BARGE,
    Feature.INTERCEPT: SupervisorMode.INTERCEPT,
}
_MIX = {SupervisorMode.MONITOR: MixMode.MONITOR, SupervisorMode.WHISPER: MixMode.WHISPER,
        SupervisorMode.BARGE: MixMode.BARGE}


class Supervision(LegOwner):
    """Recording controls and supervisor interventions over the gateway's routed calls."""

    def __init__(self, reactor: Any, site: Site, acd: AcdService, *,
                 recordings: RecordingArchive | None = None) -> None:
        self.reactor = reactor
        self.site = site
        self.acd = acd
        self.recordings = recordings
        self.routed: RoutedCalls | None = None  # set by `attach` once the call layer exists
        self.legs: LegRegistry | None = None  # where the supervisors' legs we ring are registered
        self.notice = site.policy.agent_notice  # none | recording | monitoring | both
        self.beep = site.policy.notice_beep
        self.beep_every = site.policy.notice_beep_every_seconds
        self._beeping: dict[str, Conference] = {}  # call id -> short caller+agent mix for a beep
        self._beep_again: dict[str, Any] = {}  # call id -> the DelayedCall of its next beep
        self._acd_parts: dict[str, str] = {}  # supervisor leg's Call-ID -> its station, for the ACD
        self._blf_parts: dict[str, tuple[str, CallDirection]] = {}  # the same, for busy lamps (issue 16)
        # issue 19: where each station is registered from (the app sets the registrar's and the
        # gatekeeper's view); without the site's token an action must come from there
        self.station_hosts: Callable[[str], Set[str]] = lambda extension: frozenset()

    def attach(self, routed: RoutedCalls, legs: LegRegistry) -> None:
        """Work on these routed calls (and record them into our archive); register the legs
        we ring in `legs`, the call layer's registry."""
        self.routed = routed
        self.legs = legs
        routed.supervise(self.recordings, self._agent_left)

    def handover(self, leg: SipLegs) -> Handover | None:
        """A supervisor's leg that intercepted a call is that call's agent leg now."""
        return self.routed.handover(leg) if self.routed is not None else None

    # -- HTTP (gateway.http_api CallControl) -------------------------------------------------

    def recordings_view(self) -> list[dict[str, Any]]:
        """`GET /api/recordings`: finished recordings, then those running."""
        return self.recordings.rows() if self.recordings is not None else []

    def agent_action(self, target: str, action: str, body: Mapping[str, Any], *,
                     source: str, authenticated: bool) -> tuple[int, dict[str, Any]]:
        """`POST /api/agents/<target>/<action>`: monitor | whisper | barge | intercept
        (body: the supervisor's `user` and `station`), leave (`user`), record (`user`, `on`).
        Unless the request carried the site's token (`authenticated`), it must come from
        (`source`) the host the supervisor's station is registered from (issue 19)."""
        supervisor = body.get("user")
        if not isinstance(supervisor, str) or not supervisor:
            return 400, {"error": "the body needs the supervisor's \"user\""}
        at = self.acd.acd.agent(supervisor)
        if at is None or at.station is None:
            return 403, {"error": f"User {supervisor} is not logged on"}
        if not authenticated and source not in self.station_hosts(at.station):
            log.warn("supervisor action {action} on {target} for {supervisor} refused: from {source}, "
                     "not from station {station}", action=action, target=target, supervisor=supervisor,
                     source=source, station=at.station)
            return 403, {"error": f"Without the API token, a supervisor action is taken only from the phone "
                                  f"registered as station {at.station}, where user {supervisor} is logged on"}
        if action == "record":
            on = body.get("on", True)
            if not isinstance(on, bool):
                return 400, {"error": "\"on\" must be true or false"}
            refused = self.supervisor_recording(supervisor, target, on)
        elif action == "leave":
            refused = self.leave(supervisor, target)
        elif action in SupervisorMode.__members__.values():
            station = body.get("station", at.station)
            if not isinstance(station, str):
                return 400, {"error": "\"station\" must be a string"}
            status, text = self.request(supervisor, station, target, SupervisorMode(action))
            return status, ({"result": text} if status < 300 else {"error": text})
        else:
            return 404, {"error": f"no action {action!r}; use monitor, whisper, barge, intercept, leave or record"}
        if refused is not None:
            return refused.status, {"error": refused.reason}
        return 200, {"result": f"{action} done"}

    # -- recording ----------------------------------------------------------------------

    def agent_recording(self, user_id: str, start: bool) -> str | None:
        """The agent's own recording control (`*43`/`*44`, phone Options menu): None or why not
        (in English; the phone shows the message's translation: the reasons are catalog ids)."""
        call = self.routed.connected_call(user_id) if self.routed is not None else None
        if self.routed is None or call is None or not call.in_acd:
            return N_("Recording needs an active call.")
        if start:
            why_not = self.level_refusal(user_id, user_id, LevelFeature.AGENT_RECORDING)
            if why_not is not None:
                return why_not
            return self.routed.start_recording(call, user_id, supervisor=False)
        return self.routed.stop_recording(call, supervisor=False)

    def supervisor_recording(self, supervisor: str, target: str, start: bool) -> Refusal | None:
        """A supervisor starts or stops recording an agent's call."""
        found = self._supervised_call(supervisor, target)
        if isinstance(found, Refusal):
            return found
        assert self.routed is not None
        if start:
            refused = self.level_refusal(target, supervisor, LevelFeature.SUPERVISOR_RECORDING)
            if refused is not None:
                return Refusal(403, refused)
            why_not = self.routed.start_recording(found, supervisor, supervisor=True)
            if why_not is None and self._notifies(recording=True):
                self._beep(found)
        else:
            why_not = self.routed.stop_recording(found, supervisor=True)
            self._keep_beeping(found)
        return Refusal(409, why_not) if why_not is not None else None

    def level_refusal(self, user_id: str, by: str, feature: LevelFeature) -> str | None:
        """None when agent `user_id`'s feature level has `feature`; else why not, journaled
        as asked by `by`."""
        level = self.site.feature_level_of(user_id)
        why_not = refusal(level, feature)
        if why_not is not None:
            self.acd.journal([FeatureLevelRefused(at=self.reactor.seconds(), user_id=user_id, by=by,
                                                  feature=feature, level=level, reason=why_not)])
            log.info("{by}: {reason} (agent {user})", by=by, reason=why_not, user=user_id)
        return why_not

    def notices(self, user_id: str) -> Set[str]:
        """The agent's status line notices: {"Rec", "Mon"} (phone_xml `recording_flags`)."""
        call = self.routed.connected_call(user_id) if self.routed is not None else None
        if call is None or not call.in_acd:
            return frozenset()
        found = set()
        recording = call.recording
        if recording is not None and (not recording.info.supervisor or self._notifies(recording=True)):
            found.add("Rec")
        if call.intervention is not None and call.intervention.connected and self._notifies(recording=False):
            found.add("Mon")
        return found

    # -- intervention -------------------------------------------------------------------

    def check(self, supervisor: str, target: str) -> Refusal | None:
        """Whether `supervisor` may intervene in `target`'s call now."""
        found = self._supervised_call(supervisor, target)
        if isinstance(found, Refusal):
            return found
        if found.intervention is not None:
            return Refusal(486, f"Agent {target}'s call is already supervised by {found.intervention.supervisor}")
        return None

    def join(self, leg: Leg, supervisor: str, target: str, feature: Feature) -> Refusal | None:
        """The supervisor's answered leg (a short code call) joins `target`'s call as the
        feature says (`monitor`, `whisper`, `barge`, `intercept`)."""
        mode = MODE_OF_FEATURE.get(feature)
        if mode is None:
            return Refusal(404, f"{feature.value} is not a supervisor feature")
        refused = self.check(supervisor, target)
        if refused is not None:
            return refused
        if not isinstance(leg, SipLeg) or leg.ended:
            return Refusal(488, "The supervisor's call has no media")
        call = self.routed.connected_call(target) if self.routed is not None else None
        assert call is not None
        intervention = Intervention(supervisor, leg.station, mode, leg)
        self._acd_part(intervention, CallDirection.OUTGOING, answered=True)
        self._connect(call, intervention)
        return None

    def request(self, supervisor: str, station: str, target: str, mode: SupervisorMode) -> tuple[int, str]:
        """HTTP: ring the supervisor's `station` and join `target`'s call in `mode` on answer;
        or change the mode of the supervisor's intervention already on that call."""
        found = self._supervised_call(supervisor, target)
        if isinstance(found, Refusal):
            return found.status, found.reason
        at_station = self.acd.acd.agent_at_station(station)
        if at_station is None or at_station.user_id != supervisor:
            return 403, f"User {supervisor} is not logged on at station {station}"
        current = found.intervention
        if current is not None:
            if current.supervisor != supervisor:
                return 486, f"Agent {target}'s call is already supervised by {current.supervisor}"
            if not current.connected:
                return 409, "The supervisor's station is still ringing"
            self._change(found, current, mode)
            return 200, f"{mode.value} on agent {target}'s call"
        assert self.routed is not None and self.legs is not None
        leg = self.routed.ring_station(station, caller_number=target,
                                       caller_name=f"{mode.value.capitalize()} {target}")
        if leg is None:
            return 480, f"Station {station} is not registered"
        intervention = Intervention(supervisor, station, mode, leg)
        found.intervention = intervention
        self._acd_part(intervention, CallDirection.INCOMING, answered=False)

        def answered() -> None:
            if found.ended or found.intervention is not intervention:
                leg.hangup()
                return
            self._blf(leg_call_id(leg), DialogState.CONFIRMED)
            if leg_call_id(leg) in self._acd_parts:
                self.acd.execute(cmd.DirectCallAnswered(leg_call_id(leg)))
            self._connect(found, intervention)

        def ended(reason: EndReason) -> None:
            self._forget(leg)
            if found.intervention is intervention and not intervention.connected:
                found.intervention = None  # the supervisor did not answer

        leg.on_answered = answered
        leg.on_ended = ended
        self.legs.add(leg, self)
        leg.start()
        return 202, f"ringing station {station} to {mode.value} agent {target}'s call"

    def leave(self, supervisor: str, target: str) -> Refusal | None:
        """HTTP: the supervisor's intervention on `target`'s call ends (the call goes on)."""
        found = self._supervised_call(supervisor, target)
        if isinstance(found, Refusal):
            return found
        current = found.intervention
        if current is None or current.supervisor != supervisor:
            return Refusal(404, f"User {supervisor} is not on agent {target}'s call")
        self._left(found, current)
        return None

    # -- the media switches ---------------------------------------------------------------

    def _connect(self, call: RoutedCall, intervention: Intervention) -> None:
        assert self.routed is not None
        call.intervention = intervention
        intervention.leg.on_ended = lambda reason: self._left(call, intervention)
        if intervention.mode is SupervisorMode.INTERCEPT:
            self._intercept(call, intervention)
            return
        self._mix(call, intervention)
        log.info("{supervisor} {mode} on {agent}'s call {call_id}", supervisor=intervention.supervisor,
                 mode=intervention.mode.value, agent=call.agent, call_id=call.call_id)
        if self._notifies(recording=False):
            self._beep(call)

    def _mix(self, call: RoutedCall, intervention: Intervention) -> None:
        assert self.routed is not None and call.agent_leg is not None
        self._end_beep(call)
        self.routed.detach_bridge(call)
        members: dict[Party, MediaSession] = {
            Party.CALLER: call.caller.media,
            Party.AGENT: call.agent_leg.media,
            Party.SUPERVISOR: intervention.leg.media,
        }
        recorder = call.recording.recorder if call.recording is not None else None
        intervention.conference = Conference(self.reactor, members, _MIX[intervention.mode], recorder=recorder)
        intervention.recorder = recorder

    def _change(self, call: RoutedCall, intervention: Intervention, mode: SupervisorMode) -> None:
        intervention.mode = mode
        if mode is SupervisorMode.INTERCEPT:
            self._intercept(call, intervention)
        elif intervention.conference is not None:
            intervention.conference.mode = _MIX[mode]

    def _agent_left(self, call: RoutedCall) -> bool:
        """The agent hung up during an intervention: a barging supervisor, who talks with the
        caller already, keeps the call (as after an intercept; the agent wraps up as usual).
        A monitoring or whispering supervisor, whom the caller never heard, goes with it."""
        intervention = call.intervention
        if intervention is None or intervention.mode is not SupervisorMode.BARGE or not intervention.connected:
            return False
        self._intercept(call, intervention, agent_left=True)
        return True

    def _intercept(self, call: RoutedCall, intervention: Intervention, *, agent_left: bool = False) -> None:
        """Guide: 'force a transfer of a customer call to him- or herself'."""
        assert self.routed is not None
        if intervention.conference is not None:
            intervention.conference.close()
            intervention.conference = None
        agent, agent_leg = call.agent, call.agent_leg
        self._end_beep(call)
        self.routed.detach_bridge(call)
        call.intervention = None
        again = self._beep_again.pop(call.call_id, None)  # the agent is gone: nobody to tell
        if again is not None and again.active():
            again.cancel()
        self.routed.take_over(call, intervention.supervisor, intervention.leg)
        if agent_leg is not None:
            agent_leg.hangup()
        def ended(reason: EndReason) -> None:
            self._forget(intervention.leg)
            if self.routed is not None:
                self.routed.end(call)

        intervention.leg.on_ended = ended
        self.routed.rejoin(call)
        if agent_left:
            log.info("{agent} hung up; {supervisor} keeps the call {call_id}", supervisor=intervention.supervisor,
                     agent=agent, call_id=call.call_id)
        else:
            log.info("{supervisor} intercepted {agent}'s call {call_id}", supervisor=intervention.supervisor,
                     agent=agent, call_id=call.call_id)

    def _left(self, call: RoutedCall, intervention: Intervention) -> None:
        """The supervisor hung up (or left): back to the two-party Bridge."""
        if call.intervention is not intervention:
            return
        call.intervention = None
        intervention.close()
        self._forget(intervention.leg)
        self._keep_beeping(call)
        if self.routed is not None and not call.ended:
            self.routed.rejoin(call)
        log.info("{supervisor} left {agent}'s call {call_id}", supervisor=intervention.supervisor,
                 agent=call.agent, call_id=call.call_id)

    def stop(self) -> None:
        """Cancel the repeated notice beeps (the gateway is stopping)."""
        for again in self._beep_again.values():
            if again.active():
                again.cancel()
        self._beep_again.clear()

    def _notified(self, call: RoutedCall) -> bool:
        """A supervisor action the agent is told about is going on in `call`."""
        if call.ended or call.agent_leg is None:
            return False
        recording = call.recording
        if recording is not None and recording.info.supervisor and self._notifies(recording=True):
            return True
        return (call.intervention is not None and call.intervention.mode is not SupervisorMode.INTERCEPT
                and self._notifies(recording=False))

    def _keep_beeping(self, call: RoutedCall) -> None:
        """After a change: the next repeated beep is due only while the agent is still notified."""
        again = self._beep_again.get(call.call_id)
        if again is not None and not self._notified(call):
            if again.active():
                again.cancel()
            del self._beep_again[call.call_id]

    def _beep_due(self, call: RoutedCall) -> None:
        self._beep_again.pop(call.call_id, None)
        if self._notified(call):
            self._beep(call)

    def _beep(self, call: RoutedCall) -> None:
        """RECORDING_BEEP to the agent: through the Conference when one runs; otherwise a
        short Conference of caller and agent only, for the length of the beep. With
        `notice_beep_every_seconds`, the next one is scheduled."""
        if not self.beep or self.routed is None or call.agent_leg is None or call.ended:
            return
        if self.beep_every > 0 and call.call_id not in self._beep_again:
            self._beep_again[call.call_id] = self.reactor.callLater(self.beep_every, self._beep_due, call)
        beep = render(RECORDING_BEEP, BEEP_MS)
        running = (call.intervention.conference if call.intervention is not None
                   else self._beeping.get(call.call_id))
        if running is not None:
            running.inject(Party.AGENT, beep)
            return
        self.routed.detach_bridge(call)
        recorder = call.recording.recorder if call.recording is not None else None
        conference = Conference(self.reactor, {Party.CALLER: call.caller.media, Party.AGENT: call.agent_leg.media},
                                MixMode.MONITOR, recorder=recorder)
        conference.inject(Party.AGENT, beep)
        self._beeping[call.call_id] = conference

        def back() -> None:
            if self._beeping.get(call.call_id) is conference:
                self._end_beep(call)
                if call.intervention is None and call.bridge is None and self.routed is not None:
                    self.routed.rejoin(call)

        self.reactor.callLater(BEEP_MS / 1000 + 0.1, back)

    def _end_beep(self, call: RoutedCall) -> None:
        conference = self._beeping.pop(call.call_id, None)
        if conference is not None:
            conference.close()

    def _forget(self, leg: SipLeg | OutgoingSipLeg) -> None:
        if isinstance(leg, OutgoingSipLeg) and self.legs is not None:  # a short code's leg is the dispatcher's
            self.legs.remove(leg)
        self._acd_part_ended(leg)

    # -- the ACD's view of the supervisor's station -----------------------------------------

    def _acd_part(self, intervention: Intervention, direction: CallDirection, *, answered: bool) -> None:
        """The supervisor's leg is a call of the supervisor's station for the ACD (an agent
        logged on there is on a call, not offered one), until the leg ends."""
        leg, station = intervention.leg, intervention.station
        if station is None:
            return
        call_id = leg_call_id(leg)
        # busy lamps (RFC 4235): the supervisor's station is on this call, as it is for the ACD
        self._blf_parts[call_id] = (station, direction)
        self._blf(call_id, DialogState.CONFIRMED if answered else DialogState.EARLY)
        intervention.on_closed = lambda: self._acd_part_ended(leg)
        events = self.acd.execute(cmd.DirectCallStarted(call_id, station, dnis=intervention.mode.value,
                                                        direction=direction))
        if any(isinstance(e, CommandRejected) for e in events):
            return
        self._acd_parts[call_id] = station
        if answered:
            self.acd.execute(cmd.DirectCallAnswered(call_id))

    def _blf(self, call_id: str, state: DialogState) -> None:
        found = self._blf_parts.get(call_id)
        states = self.routed.dialog_states if self.routed is not None else None
        if found is None or states is None:
            return
        station, direction = found
        states.set(station, state, call_id,
                   Direction.INITIATOR if direction is CallDirection.OUTGOING else Direction.RECIPIENT)
        if state is DialogState.TERMINATED:
            del self._blf_parts[call_id]

    def _acd_part_ended(self, leg: SipLeg | OutgoingSipLeg) -> None:
        self._blf(leg_call_id(leg), DialogState.TERMINATED)
        station = self._acd_parts.pop(leg_call_id(leg), None)
        if station is not None:
            self.acd.execute(cmd.DirectCallEnded(leg_call_id(leg), station=station))

    # -- rules ----------------------------------------------------------------------------

    def _supervised_call(self, supervisor: str, target: str) -> RoutedCall | Refusal:
        user = self.site.user(supervisor)
        if user is None or not user.supervisor:
            return Refusal(403, f"User {supervisor} has no supervisor rights")
        if target == supervisor:
            return Refusal(403, "A supervisor cannot intervene in his or her own call")
        if self.site.user(target) is None:
            return Refusal(404, f"No user {target}")
        call = self.routed.connected_call(target) if self.routed is not None else None
        if call is None or not call.in_acd:
            return Refusal(404, f"Agent {target} is not on a routed call")
        if user.supervised_groups and call.group not in user.supervised_groups:
            return Refusal(403, f"User {supervisor} does not supervise group {call.group}")
        return call

    def _notifies(self, *, recording: bool) -> bool:
        wanted = "recording" if recording else "monitoring"
        return self.notice in (wanted, "both")
