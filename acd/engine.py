"""The `Acd` facade: commands in, events out, timers as deadlines; pure and deterministic.

The gateway calls `handle(command, now)` for what phones and legs do, `advance(now)` when
`next_deadline()` has passed, and acts on the returned events. Agent transitions follow the
table in `states.py`; routing uses the per-group structures in `routing.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acdgate.acd import commands as cmd
from acdgate.acd import snapshot as snap
from acdgate.acd.agents import Agent, AgentView, PendingState, PinGuard
from acdgate.acd.events import (
    CallAbandoned,
    CallCompleted,
    CallConnected,
    CallEntered,
    CallOverflowed,
    CallQueued,
    CallRefused,
    CommandRejected,
    Event,
    LoggedIn,
    LoggedOut,
    LoginRejected,
    LoginRejectReason,
    MembershipChanged,
    OfferCall,
    OfferCancelled,
    RingNoAnswer,
    StateChanged,
    StatePending,
    UserLocked,
    WrapupCodeGiven,
)
from acdgate.acd.pin import verify_pin
from acdgate.acd.routing import (
    Call,
    CallStatus,
    CallView,
    ReadyMembers,
    WaitQueue,
    ready_members_for,
)
from acdgate.acd.site import Group, GroupMode, Site
from acdgate.acd.states import (
    CHOICE_INPUTS,
    ON_CALL,
    AgentInput,
    AgentState,
    MenuChoice,
    Rule,
    SystemReason,
    menu,
    next_step,
)
from acdgate.acd.station_calls import CallDirection, StationCalls, StationCallView
from acdgate.acd.stats import AgentStats, GroupStats, empty_state_counts
from acdgate.acd.timers import TimerKind, Timers

S = AgentState
I = AgentInput  # noqa: E741 - table shorthand


def N_(message: str) -> str:
    """Marks a rejection reason as a message id of the phone catalogs (`pybabel extract -k
    N_`, babel.cfg): the ACD keeps it in English, a phone shows it translated."""
    return message


class Acd:
    """The ACD: agents, groups, queues and routing for one `Site`."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._policy = site.policy
        self._groups: dict[str, Group] = {g.number: g for g in site.groups}
        self._stations = {s.extension for s in site.stations}
        self._station_agent = {s.extension: s.agent for s in site.stations}
        member_of: dict[str, list[str]] = {u.user_id: [] for u in site.users}
        for g in site.groups:
            for user_id in g.members:
                if user_id in member_of and g.number not in member_of[user_id]:
                    member_of[user_id].append(g.number)
        self._agents: dict[str, Agent] = {
            u.user_id: Agent(u, tuple(member_of[u.user_id])) for u in site.users
        }
        self._at_station: dict[str, Agent] = {}
        self._queues: dict[str, WaitQueue] = {n: WaitQueue(n) for n in self._groups}
        self._ready: dict[str, ReadyMembers] = {}
        self._counts: dict[str, dict[AgentState, int]] = {}
        for g in site.groups:
            levels = {}
            if g.skill is not None:
                levels = {
                    m: self._agents[m].user.skill_level(g.skill)
                    for m in g.members
                    if m in self._agents
                }
            self._ready[g.number] = ready_members_for(g, levels)
            for m, level in levels.items():
                if level <= 0 and g.mode is GroupMode.SKILLS:
                    agent = self._agents[m]
                    agent.serves = tuple(n for n in agent.serves if n != g.number)
            counts = empty_state_counts()
            counts[S.LOGGED_OUT] = sum(1 for m in set(g.members) if m in self._agents)
            self._counts[g.number] = counts
        self._calls: dict[str, Call] = {}
        self._station_calls = StationCalls()  # every non-routed call, by station
        self._wrapup_until: dict[str, float] = {}
        self._timers = Timers()
        self._pins = PinGuard(site.policy)
        self._seq = 0
        self._not_ready_codes = {c.code for c in site.not_ready_reasons}
        self._logout_codes = {c.code for c in site.logout_reasons}
        self._wrapup_codes = {c.code for c in site.wrapup_codes}
        self._handlers: dict[type, Callable[[Any, float, list[Event]], None]] = {
            cmd.Login: self._login,
            cmd.Logout: self._logout,
            cmd.SetState: self._set_state,
            cmd.GiveWrapupCode: self._give_wrapup_code,
            cmd.SetMembership: self._set_membership,
            cmd.CallArrived: self._call_arrived,
            cmd.CallAnswered: self._call_answered,
            cmd.CallEnded: self._call_ended,
            cmd.OfferFailed: self._offer_failed,
            cmd.DirectCallStarted: self._direct_started,
            cmd.DirectCallAnswered: self._direct_answered,
            cmd.DirectCallEnded: self._direct_ended,
        }

    # ------------------------------------------------------------------ public API

    def handle(self, command: cmd.Command, now: float) -> list[Event]:
        """Apply one command at time `now`; the events it caused, in order."""
        out: list[Event] = []
        self._handlers[type(command)](command, now, out)
        return out

    def next_deadline(self) -> float | None:
        """When `advance` next has something to do (None: no timer armed)."""
        return self._timers.next_deadline()

    def advance(self, now: float) -> list[Event]:
        """Fire every timer due at `now` (ring-no-answer, wrap-up end, overflow, lockout end)."""
        out: list[Event] = []
        while (due := self._timers.pop_due(now)) is not None:
            kind, key = due
            if kind is TimerKind.NO_ANSWER:
                self._ring_no_answer(key, now, out)
            elif kind is TimerKind.WRAPUP_END:
                self._wrapup_end(key, now, out)
            elif kind is TimerKind.OVERFLOW:
                call = self._calls.get(key)
                if call is not None and call.status is CallStatus.WAITING:
                    self._overflow(call, now, out)
            else:
                self._pins.expire(key, now)
        return out

    def agent(self, user_id: str) -> AgentView | None:
        """The user's agent record (LOGGED_OUT when not logged on); None: unknown user."""
        agent = self._agents.get(user_id)
        return agent.view() if agent else None

    def agent_at_station(self, extension: str) -> AgentView | None:
        """Who is logged on at the station; None: "No User"."""
        agent = self._at_station.get(extension)
        return agent.view() if agent else None

    def agents(self) -> list[AgentView]:
        """Every logged-on agent, in site user order."""
        return [a.view() for a in self._agents.values() if a.state is not S.LOGGED_OUT]

    def allowed_transitions(self, user_id: str) -> list[MenuChoice]:
        """The Change State menu the user's phone should offer now (pending while TALKING)."""
        agent = self._agents.get(user_id)
        if agent is None or agent.state is S.LOGGED_OUT:
            return []
        return menu(agent.state)

    def group_stats(self, number: str, now: float) -> GroupStats:
        """CIQ, LQT and agents per state of a group; KeyError for an unknown group."""
        queue = self._queues[number]
        oldest = queue.oldest_arrival()
        return GroupStats(
            number=number,
            ciq=queue.count,
            lqt_seconds=0.0 if oldest is None else max(0.0, float(now - oldest)),
            agents=dict(self._counts[number]),
        )

    def agent_stats(self, user_id: str, now: float) -> AgentStats:
        """The agent's time per (state, reason code) this session, open interval included."""
        agent = self._agents[user_id]
        times = dict(agent.time_in_state)
        if agent.state is not S.LOGGED_OUT:
            key = (agent.state, agent.reason_code)
            times[key] = times.get(key, 0.0) + max(0.0, now - agent.since)
        return AgentStats(user_id, agent.state, agent.since, agent.calls_handled, times)

    def call(self, call_id: str) -> CallView | None:
        """A routed call still in the ACD (waiting, offered or connected)."""
        call = self._calls.get(call_id)
        return call.view() if call else None

    def calls(self) -> list[CallView]:
        """Every routed call still in the ACD."""
        return [c.view() for c in self._calls.values()]

    def station_calls(self, extension: str) -> list[StationCallView]:
        """The station's non-routed calls (incoming and outgoing), oldest first."""
        return self._station_calls.at(extension)

    def waiting(self, number: str) -> list[str]:
        """Call ids waiting in a group, in the order they will be served."""
        return [c.call_id for c in self._queues[number].waiting()]

    def pin_failures(self, user_id: str) -> int:
        """Wrong PINs counted for the user since the last success or lockout."""
        return self._pins.failures(user_id)

    # ------------------------------------------------------------------ agent state

    def _change(
        self,
        agent: Agent,
        new: AgentState,
        now: float,
        out: list[Event],
        reason_code: int | None = None,
        wrapup_code: int | None = None,
        call_id: str | None = None,
    ) -> None:
        """Move the agent to `new` (journaled even when `new` is the same state)."""
        old = agent.state
        if old is not S.LOGGED_OUT:
            key = (old, agent.reason_code)
            agent.time_in_state[key] = agent.time_in_state.get(key, 0.0) + (now - agent.since)
        if old is not new:
            for g in agent.groups:
                if g not in agent.disabled:
                    counts = self._counts[g]
                    counts[old] -= 1
                    counts[new] += 1
                    if old is S.READY:
                        self._ready[g].discard(agent)
        if new is not S.WORK_READY and new not in ON_CALL:
            # wrap-up is over (a non-routed call during it lets the time run on: Table 2)
            self._timers.cancel(TimerKind.WRAPUP_END, agent.user_id)
            self._wrapup_until.pop(agent.user_id, None)
        agent.state = new
        agent.reason_code = reason_code
        agent.wrapup_code = wrapup_code
        agent.since = now
        agent.call_id = call_id
        out.append(
            StateChanged(
                at=now,
                user_id=agent.user_id,
                station=agent.station or "",
                old=old,
                new=new,
                reason_code=reason_code,
                wrapup_code=wrapup_code,
                call_id=call_id,
            )
        )
        if new is S.READY:
            agent.idle_since = now
            for g in agent.groups:
                if g not in agent.disabled:
                    self._ready[g].add(agent)
            self._take_call(agent, now, out)
        elif new is S.WORK_READY:
            self._start_wrapup(agent, now)
        elif new is S.LOGGED_OUT:
            agent.pending = None
            agent.wrapup_owed = None  # the session is over: nobody is asked for it any more

    def _start_wrapup(self, agent: Agent, now: float) -> None:
        """Arm the wrap-up time of the agent's last group, unless it runs already (the agent
        comes back to WORK_READY from a non-routed call taken during wrap-up)."""
        if self._timers.armed(TimerKind.WRAPUP_END, agent.user_id):
            return
        group = self._groups.get(agent.last_group or "")
        if group is not None and group.wrapup_seconds > 0:
            until = now + group.wrapup_seconds
            self._wrapup_until[agent.user_id] = until
            self._timers.set(TimerKind.WRAPUP_END, agent.user_id, until)

    def _enter(
        self,
        agent: Agent,
        new: AgentState,
        now: float,
        out: list[Event],
        reason_code: int | None = None,
        wrapup_code: int | None = None,
        call_id: str | None = None,
    ) -> None:
        """`_change` to `new`; but while the agent's station has a non-routed call, a state off
        the call is where the agent goes back to after it, and it stays on the call (Table 2)."""
        current = self._station_calls.current(agent.station)
        if current is None or new in ON_CALL or new is S.LOGGED_OUT:
            self._change(agent, new, now, out, reason_code, wrapup_code, call_id)
            return
        agent.return_state = new
        agent.return_reason, agent.return_wrapup = reason_code, wrapup_code
        if new is S.WORK_READY:
            self._start_wrapup(agent, now)  # the work time runs during the call
        self._change(
            agent, S.TALKING if current.answered else S.RESERVED, now, out, call_id=current.call_id
        )

    def _fire(
        self,
        agent: Agent,
        event: AgentInput,
        now: float,
        out: list[Event],
        *,
        reason_code: int | None = None,
        wrapup_code: int | None = None,
        call_id: str | None = None,
        direct: bool = False,
    ) -> bool:
        """Apply one table input; False (nothing changed) when the table has no entry."""
        step = next_step(agent.state, event)
        if step is None or step is Rule.PEND:
            return False
        if step is Rule.RESUME:
            self._enter(
                agent, agent.return_state, now, out, agent.return_reason, agent.return_wrapup
            )
        elif step is Rule.AFTER_CALL:
            pending, agent.pending = agent.pending, None
            if pending is not None and pending.wrapup_owed:
                agent.wrapup_owed = agent.call_id or ""
            if pending is not None:
                self._enter(agent, pending.state, now, out, pending.reason_code, pending.wrapup_code)
            elif direct:
                self._enter(
                    agent, agent.return_state, now, out, agent.return_reason, agent.return_wrapup
                )
            else:
                group = self._groups.get(agent.last_group or "")
                wrapup = group is not None and group.wrapup_seconds > 0
                self._enter(agent, S.WORK_READY if wrapup else S.READY, now, out)
        else:
            if step is S.RESERVED:
                agent.return_state, agent.return_reason = agent.state, agent.reason_code
                agent.return_wrapup = agent.wrapup_code
            self._enter(agent, step, now, out, reason_code, wrapup_code, call_id)
        return True

    def _reject(
        self, out: list[Event], now: float, user_id: str | None, command: object, reason: str
    ) -> None:
        out.append(
            CommandRejected(at=now, user_id=user_id, command=type(command).__name__, reason=reason)
        )

    def _refuse_agent(
        self, out: list[Event], now: float, user_id: str | None, command: object, message: str,
        **params: object,
    ) -> None:
        """A rejection a phone shows its agent: `message` is a catalog message id (N_), the
        English reason is it with `params` filled in."""
        texts = tuple((name, str(value)) for name, value in params.items())
        out.append(
            CommandRejected(at=now, user_id=user_id, command=type(command).__name__,
                            reason=message.format(**dict(texts)), message=message, params=texts)
        )

    def _login(self, c: cmd.Login, now: float, out: list[Event]) -> None:
        def refuse(reason: LoginRejectReason) -> None:
            out.append(LoginRejected(at=now, user_id=c.user_id, station=c.station, reason=reason))

        if c.source and self._pins.source_locked_until(c.source, now) is not None:
            return refuse(LoginRejectReason.SOURCE_LOCKED)
        agent = self._agents.get(c.user_id)
        if agent is None:
            if c.source:  # guessing user IDs counts against the source too
                self._pins.source_failure(c.source, now)
            return refuse(LoginRejectReason.UNKNOWN_USER)
        if c.station not in self._stations:
            return refuse(LoginRejectReason.UNKNOWN_STATION)
        if self._pins.locked_until(c.user_id, now) is not None:
            return refuse(LoginRejectReason.LOCKED)
        if c.station_authenticated and self._station_agent.get(c.station) != c.user_id:
            return refuse(LoginRejectReason.WRONG_PIN)  # a station vouches only for its own user
        # IP Office Force Login: the PIN, unless a non-force-login user is at its own station
        pin_free = (not c.pin and not agent.user.force_login
                    and self._station_agent.get(c.station) == c.user_id)
        if not c.station_authenticated and not pin_free and not verify_pin(c.pin, agent.user.pin_hash):
            refuse(LoginRejectReason.WRONG_PIN)
            until = self._pins.failure(c.user_id, now, c.source)
            if until is not None:
                out.append(UserLocked(at=now, user_id=c.user_id, until=until))
                self._timers.set(TimerKind.LOCKOUT_END, c.user_id, until)
            return None
        self._pins.success(c.user_id, c.source)
        in_the_way = []
        if agent.state is not S.LOGGED_OUT:
            in_the_way.append(agent)
        occupant = self._at_station.get(c.station)
        if occupant is not None and occupant is not agent:
            in_the_way.append(occupant)
        if in_the_way:
            if not c.force:
                return refuse(LoginRejectReason.IN_USE)
            if any(a.state in ON_CALL for a in in_the_way):
                return refuse(LoginRejectReason.FORCE_REFUSED_BUSY)
            for other in in_the_way:
                self._end_session(other, I.FORCED_LOGOUT, None, now, out)
        agent.station = c.station
        agent.time_in_state = {}
        agent.calls_handled = 0
        self._at_station[c.station] = agent
        out.append(
            LoggedIn(at=now, user_id=agent.user_id, station=c.station, forced=bool(in_the_way))
        )
        self._fire(agent, I.LOGIN, now, out)
        return None

    def _end_session(
        self, agent: Agent, event: AgentInput, reason_code: int | None, now: float, out: list[Event]
    ) -> None:
        station = agent.station or ""
        self._fire(agent, event, now, out, reason_code=reason_code)
        self._at_station.pop(station, None)
        agent.station = None
        forced = event is I.FORCED_LOGOUT
        out.append(
            LoggedOut(
                at=now,
                user_id=agent.user_id,
                station=station,
                reason_code=reason_code,
                forced=forced,
            )
        )

    def _logged_on(self, c: object, user_id: str, now: float, out: list[Event]) -> Agent | None:
        agent = self._agents.get(user_id)
        if agent is None:
            self._refuse_agent(out, now, user_id, c, N_("unknown user"))
            return None
        if agent.state is S.LOGGED_OUT:
            self._refuse_agent(out, now, user_id, c, N_("not logged in"))
            return None
        return agent

    def _logout(self, c: cmd.Logout, now: float, out: list[Event]) -> None:
        agent = self._logged_on(c, c.user_id, now, out)
        if agent is None:
            return
        if next_step(agent.state, I.LOGOUT) is None:
            return self._refuse_agent(out, now, c.user_id, c, N_("logout not allowed in {state}"),
                                      state=agent.state)
        if c.reason_code is None and self._policy.logout_reason_required:
            return self._refuse_agent(out, now, c.user_id, c, N_("logout reason required"))
        if c.reason_code is not None and c.reason_code not in self._logout_codes:
            return self._refuse_agent(out, now, c.user_id, c, N_("unknown logout reason {code}"),
                                      code=c.reason_code)
        self._end_session(agent, I.LOGOUT, c.reason_code, now, out)

    def _set_state(self, c: cmd.SetState, now: float, out: list[Event]) -> None:
        agent = self._logged_on(c, c.user_id, now, out)
        if agent is None:
            return
        event = CHOICE_INPUTS.get(c.state)
        if event is None:
            return self._refuse_agent(out, now, c.user_id, c, N_("{state} cannot be chosen"),
                                      state=c.state)
        step = next_step(agent.state, event)
        if step is None:
            return self._refuse_agent(out, now, c.user_id, c, N_("{state} not allowed in {current}"),
                                      state=c.state, current=agent.state)
        reason, wrapup, owed = None, None, False
        if c.state is S.NOT_READY:
            reason = c.reason_code
            if reason is None and self._policy.not_ready_reason_required:
                return self._refuse_agent(out, now, c.user_id, c, N_("reason code required"))
            if reason is not None and reason not in self._not_ready_codes:
                return self._refuse_agent(out, now, c.user_id, c, N_("unknown reason code {code}"),
                                          code=reason)
        elif c.state in (S.WORK_READY, S.WORK_NOT_READY):
            wrapup = c.wrapup_code
            if wrapup is None and self._policy.wrapup_code_required:
                if step is not Rule.PEND or not self._on_routed_call(agent):
                    return self._refuse_agent(out, now, c.user_id, c, N_("wrap-up code required"))
                # Guide: wrap-up data "after the call ends": the code is owed from then on.
                owed = True
            if wrapup is not None and wrapup not in self._wrapup_codes:
                return self._refuse_agent(out, now, c.user_id, c, N_("unknown wrap-up code {code}"),
                                          code=wrapup)
        if step is Rule.PEND:
            agent.pending = PendingState(c.state, reason, wrapup, wrapup_owed=owed)
            out.append(
                StatePending(
                    at=now,
                    user_id=agent.user_id,
                    station=agent.station or "",
                    state=c.state,
                    reason_code=reason,
                    wrapup_code=wrapup,
                )
            )
            return None
        self._fire(agent, event, now, out, reason_code=reason, wrapup_code=wrapup)
        return None

    def _give_wrapup_code(self, c: cmd.GiveWrapupCode, now: float, out: list[Event]) -> None:
        agent = self._logged_on(c, c.user_id, now, out)
        if agent is None:
            return None
        if agent.wrapup_owed is None:
            return self._refuse_agent(out, now, c.user_id, c, N_("no wrap-up code owed"))
        if c.wrapup_code not in self._wrapup_codes:
            return self._refuse_agent(out, now, c.user_id, c, N_("unknown wrap-up code {code}"),
                                      code=c.wrapup_code)
        call_id, agent.wrapup_owed = agent.wrapup_owed, None
        if agent.state in (S.WORK_READY, S.WORK_NOT_READY):
            agent.wrapup_code = c.wrapup_code
        out.append(
            WrapupCodeGiven(
                at=now,
                user_id=agent.user_id,
                station=agent.station or "",
                wrapup_code=c.wrapup_code,
                call_id=call_id or None,
            )
        )
        return None

    def _set_membership(self, c: cmd.SetMembership, now: float, out: list[Event]) -> None:
        agent = self._agents.get(c.user_id)
        if agent is None:
            return self._refuse_agent(out, now, c.user_id, c, N_("unknown user"))
        if c.group not in agent.groups:
            return self._refuse_agent(out, now, c.user_id, c, N_("not a member of {group}"),
                                      group=c.group)
        was_enabled = c.group not in agent.disabled
        out.append(MembershipChanged(at=now, user_id=c.user_id, group=c.group, enabled=c.enabled))
        if c.enabled and not was_enabled:
            agent.disabled.discard(c.group)
            self._counts[c.group][agent.state] += 1
            if agent.state is S.READY:
                self._ready[c.group].add(agent)
                self._take_call(agent, now, out)
        elif not c.enabled and was_enabled:
            agent.disabled.add(c.group)
            self._counts[c.group][agent.state] -= 1
            self._ready[c.group].discard(agent)
        return None

    def _wrapup_end(self, user_id: str, now: float, out: list[Event]) -> None:
        self._wrapup_until.pop(user_id, None)
        agent = self._agents.get(user_id)
        if agent is None:
            return
        if agent.state in ON_CALL:
            # wrap-up ended during a non-routed call: the agent goes back to what it ends in
            step = next_step(agent.return_state, I.WRAPUP_EXPIRED)
            if isinstance(step, AgentState):
                agent.return_state, agent.return_reason, agent.return_wrapup = step, None, None
            return
        self._fire(agent, I.WRAPUP_EXPIRED, now, out)

    # ------------------------------------------------------------------ routed calls

    def _take_call(self, agent: Agent, now: float, out: list[Event]) -> None:
        """A READY agent takes the best waiting call among the groups it serves."""
        best = None
        queues = self._queues
        for g in agent.serves:
            if g in agent.disabled:
                continue
            entry = queues[g].top()
            # entries compare by (-priority, arrival, seq): seq is unique, so calls never compare
            if entry is not None and (best is None or entry < best):
                best = entry
        if best is not None:
            call = best[4]
            queues[call.group].leave(call)
            self._offer(call, [agent], now, out)

    def _offer(self, call: Call, agents: list[Agent], now: float, out: list[Event]) -> None:
        group = self._groups[call.group]
        ready = self._ready[call.group]
        call.status = CallStatus.OFFERED
        call.offered_to = [a.user_id for a in agents]
        for agent in agents:
            ready.offered(agent)
            self._fire(agent, I.OFFER, now, out, call_id=call.call_id)
            out.append(
                OfferCall(
                    at=now,
                    call_id=call.call_id,
                    user_id=agent.user_id,
                    station=agent.station or "",
                    group=call.group,
                    ani=call.ani,
                    dnis=call.dnis,
                    data=call.data,
                )
            )
        self._timers.set(TimerKind.NO_ANSWER, call.call_id, now + group.no_answer_seconds)

    def _route(self, call: Call, now: float, out: list[Event]) -> None:
        """Offer the call by its group's mode, or queue it."""
        group = self._groups[call.group]
        ready = self._ready[call.group]
        if group.mode is GroupMode.COLLECTIVE:
            agents = ready.all_ready()
            if agents:
                return self._offer(call, agents, now, out)
        else:
            agent = ready.pick()
            if agent is not None:
                return self._offer(call, [agent], now, out)
        queue = self._queues[call.group]
        queue.push(call)
        out.append(CallQueued(at=now, call_id=call.call_id, group=call.group, position=queue.count))
        return None

    def _enter_group(self, call: Call, number: str, now: float, out: list[Event]) -> None:
        group = self._groups[number]
        call.group = number
        out.append(
            CallEntered(
                at=now,
                call_id=call.call_id,
                group=number,
                ani=call.ani,
                dnis=call.dnis,
                priority=call.priority,
            )
        )
        call.overflow_at = None
        self._timers.cancel(TimerKind.OVERFLOW, call.call_id)
        if (
            group.overflow_group in self._groups
            and group.overflow_seconds is not None
            and call.hops < len(self._groups)
        ):
            call.overflow_at = now + group.overflow_seconds
            self._timers.set(TimerKind.OVERFLOW, call.call_id, call.overflow_at)
        self._route(call, now, out)

    def _full(self, number: str) -> bool:
        """The group's queue is at max_queue and no member could take a call now."""
        limit = self._groups[number].max_queue
        return (
            limit is not None
            and self._queues[number].count >= limit
            and self._ready[number].pick() is None
        )

    def _overflow(self, call: Call, now: float, out: list[Event]) -> None:
        """Move a waiting (or just requeued) call to its group's overflow group."""
        target = self._groups[call.group].overflow_group
        assert target is not None
        if call.status is CallStatus.WAITING:
            if self._full(target):
                return  # stays where it is: the overflow group cannot take it
            self._queues[call.group].leave(call)
        elif self._full(target):
            return self._route(call, now, out)
        out.append(
            CallOverflowed(at=now, call_id=call.call_id, from_group=call.group, to_group=target)
        )
        call.hops += 1
        call.status = CallStatus.WAITING
        self._enter_group(call, target, now, out)
        return None

    def _requeue(self, call: Call, now: float, out: list[Event]) -> None:
        """Back to the head of its queue (original arrival kept) after a failed offer."""
        self._timers.cancel(TimerKind.NO_ANSWER, call.call_id)
        call.offered_to = []  # status stays OFFERED (in no queue) until routed again
        if call.overflow_at is not None and now >= call.overflow_at:
            return self._overflow(call, now, out)
        return self._route(call, now, out)

    def _call_arrived(self, c: cmd.CallArrived, now: float, out: list[Event]) -> None:
        # (a station that dials a group has that call as its own outgoing one, same call id)
        if c.call_id in self._calls:
            return self._reject(out, now, None, c, f"duplicate call id {c.call_id}")
        if c.group not in self._groups:
            out.append(
                CallRefused(at=now, call_id=c.call_id, group=c.group, reason="no such group")
            )
            return None
        if self._full(c.group):
            out.append(CallRefused(at=now, call_id=c.call_id, group=c.group, reason="queue full"))
            return None
        self._seq += 1
        call = Call(c.call_id, c.group, c.ani, c.dnis, c.priority, tuple(c.data), now, self._seq)
        self._calls[c.call_id] = call
        self._enter_group(call, c.group, now, out)
        return None

    def _offered_call(
        self, c: object, call_id: str, user_id: str, now: float, out: list[Event]
    ) -> Call | None:
        call = self._calls.get(call_id)
        if call is None:
            self._reject(out, now, user_id, c, f"unknown call {call_id}")
            return None
        if call.status is not CallStatus.OFFERED or user_id not in call.offered_to:
            self._reject(out, now, user_id, c, f"call {call_id} is not offered to {user_id}")
            return None
        return call

    def _call_answered(self, c: cmd.CallAnswered, now: float, out: list[Event]) -> None:
        call = self._offered_call(c, c.call_id, c.user_id, now, out)
        if call is None:
            return
        self._timers.cancel(TimerKind.NO_ANSWER, call.call_id)
        self._timers.cancel(TimerKind.OVERFLOW, call.call_id)
        others = [u for u in call.offered_to if u != c.user_id]
        call.status = CallStatus.CONNECTED
        call.offered_to = []
        call.user_id = c.user_id
        call.answered_at = now
        agent = self._agents[c.user_id]
        self._fire(agent, I.ANSWER, now, out, call_id=call.call_id)
        out.append(
            CallConnected(
                at=now,
                call_id=call.call_id,
                user_id=agent.user_id,
                station=agent.station or "",
                group=call.group,
                waited=now - call.arrived,
            )
        )
        # Collective group: the first to answer wins, the others stop ringing.
        self._cancel_offers(call.call_id, others, "answered elsewhere", now, out)

    def _cancel_offers(
        self, call_id: str, user_ids: list[str], reason: str, now: float, out: list[Event]
    ) -> None:
        for user_id in user_ids:
            agent = self._agents[user_id]
            out.append(
                OfferCancelled(
                    at=now,
                    call_id=call_id,
                    user_id=user_id,
                    station=agent.station or "",
                    reason=reason,
                )
            )
            self._fire(agent, I.OFFER_CANCELLED, now, out)

    def _call_ended(self, c: cmd.CallEnded, now: float, out: list[Event]) -> None:
        call = self._calls.pop(c.call_id, None)
        if call is None:
            return self._reject(out, now, None, c, f"unknown call {c.call_id}")
        self._timers.cancel(TimerKind.NO_ANSWER, call.call_id)
        self._timers.cancel(TimerKind.OVERFLOW, call.call_id)
        status = call.status
        call.status = CallStatus.ENDED  # its heap entries, if any, are stale from now on
        if status is CallStatus.WAITING:
            self._queues[call.group].leave(call)
            out.append(
                CallAbandoned(
                    at=now, call_id=call.call_id, group=call.group, waited=now - call.arrived
                )
            )
        elif status is CallStatus.OFFERED:
            out.append(
                CallAbandoned(
                    at=now, call_id=call.call_id, group=call.group, waited=now - call.arrived
                )
            )
            self._cancel_offers(call.call_id, call.offered_to, "caller hung up", now, out)
        else:
            assert call.user_id is not None
            agent = self._agents[call.user_id]
            out.append(
                CallCompleted(
                    at=now,
                    call_id=call.call_id,
                    user_id=agent.user_id,
                    group=call.group,
                    talked=now - call.answered_at,
                )
            )
            agent.calls_handled += 1
            agent.last_group = call.group
            self._fire(agent, I.CALL_END, now, out)
        return None

    def _offer_failed(self, c: cmd.OfferFailed, now: float, out: list[Event]) -> None:
        call = self._offered_call(c, c.call_id, c.user_id, now, out)
        if call is None:
            return
        call.offered_to.remove(c.user_id)
        agent = self._agents[c.user_id]
        self._fire(agent, I.OFFER_FAILED, now, out, reason_code=int(SystemReason.OFFER_FAILED))
        if not call.offered_to:
            self._requeue(call, now, out)

    def _ring_no_answer(self, call_id: str, now: float, out: list[Event]) -> None:
        call = self._calls.get(call_id)
        if call is None or call.status is not CallStatus.OFFERED:
            return
        for user_id in call.offered_to:
            agent = self._agents[user_id]
            out.append(
                RingNoAnswer(at=now, call_id=call_id, user_id=user_id, station=agent.station or "")
            )
            self._fire(
                agent, I.RING_NO_ANSWER, now, out, reason_code=int(SystemReason.RING_NO_ANSWER)
            )
        self._requeue(call, now, out)

    # ------------------------------------------------------------------ direct calls

    def _direct_started(self, c: cmd.DirectCallStarted, now: float, out: list[Event]) -> None:
        if c.station not in self._stations:
            return self._reject(out, now, None, c, f"unknown station {c.station}")
        other = c.ani if c.direction is CallDirection.INCOMING else c.dnis
        if not self._station_calls.start(c.call_id, c.station, c.direction, other):
            return self._reject(out, now, None, c, f"duplicate call id {c.call_id}")
        agent = self._at_station.get(c.station)
        if agent is not None:
            self._follow(agent, now, out)
        return None

    def _direct_answered(self, c: cmd.DirectCallAnswered, now: float, out: list[Event]) -> None:
        stations = self._station_calls.answer(c.call_id)
        if not stations:
            return self._reject(out, now, None, c, f"unknown direct call {c.call_id}")
        self._follow_stations(stations, now, out)
        return None

    def _direct_ended(self, c: cmd.DirectCallEnded, now: float, out: list[Event]) -> None:
        stations = self._station_calls.end(c.call_id, c.station)
        if not stations:
            return self._reject(out, now, None, c, f"unknown direct call {c.call_id}")
        self._follow_stations(stations, now, out)
        return None

    def _follow_stations(self, stations: list[str], now: float, out: list[Event]) -> None:
        for station in stations:
            agent = self._at_station.get(station)
            if agent is not None:
                self._follow(agent, now, out)

    def _on_routed_call(self, agent: Agent) -> bool:
        """The agent is ringing for, or talking on, a routed call."""
        call = self._calls.get(agent.call_id or "")
        return call is not None and (
            call.user_id == agent.user_id or agent.user_id in call.offered_to
        )

    def _follow(self, agent: Agent, now: float, out: list[Event]) -> None:
        """The agent's state follows its station's non-routed calls (guide Table 2): RESERVED
        while the call it is on rings, TALKING once answered, back when the last one ends. A
        routed call the agent rings for or talks on comes first; `_enter` hands over after it."""
        if agent.state is S.LOGGED_OUT or self._on_routed_call(agent):
            return
        current = self._station_calls.current(agent.station, keep=agent.call_id)
        if current is None:
            if agent.state in ON_CALL:
                self._fire(agent, I.DIRECT_END, now, out, direct=True)
            return
        if agent.state not in ON_CALL:
            self._fire(agent, I.DIRECT_RING, now, out, call_id=current.call_id)
        if current.answered and agent.state is S.RESERVED:
            self._fire(agent, I.DIRECT_ANSWER, now, out, call_id=current.call_id)
        elif agent.call_id != current.call_id:
            # the call it was on ended, another of the station's goes on
            on = S.TALKING if current.answered else S.RESERVED
            self._change(agent, on, now, out, call_id=current.call_id)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> dict[str, object]:
        """JSON-able sessions, memberships and PIN counters, for `restore` after a restart."""
        sessions = [r for r in (self.session_record(u) for u in self._agents) if r is not None]
        return snap.record_snapshot(sessions, self.memberships_record(), self._pins.snapshot())

    def session_record(self, user_id: str) -> dict[str, Any] | None:
        """One agent's part of `snapshot()`: None when the user is logged out (or unknown).

        The gateway stores these per agent and rewrites only those a command touched, so a
        command costs the same with 10 agents logged on as with 10,000.
        """
        agent = self._agents.get(user_id)
        if agent is None:
            return None
        return snap.record_session(agent, self._wrapup_until.get(user_id))

    def memberships_record(self) -> dict[str, list[str]]:
        """The groups each user has disabled (IP Office Hunt Group Disable), for `snapshot()`."""
        return snap.record_memberships(self._agents.values())

    def pins_record(self) -> dict[str, dict[str, float]]:
        """Wrong-PIN counters and lockouts, for `snapshot()`."""
        return self._pins.snapshot()

    @classmethod
    def restore(cls, site: Site, snapshot: dict[str, object], now: float) -> Acd:
        """An ACD for `site` with the sessions of `snapshot`; calls are not restored.

        An agent that was on a call (RESERVED/TALKING) comes back in its pending state, or
        NOT_READY; users or stations the site no longer has are dropped.
        """
        saved = snap.read_snapshot(snapshot)
        acd = cls(site)
        for user_id, groups in saved.disabled.items():
            for g in groups:
                if user_id in acd._agents:
                    acd.handle(cmd.SetMembership(user_id, g, False), now)
        acd._pins.restore(saved.pins)
        for user_id, until in acd._pins.lockouts().items():
            acd._timers.set(TimerKind.LOCKOUT_END, user_id, until)
        for s in saved.sessions:
            acd._restore_session(s, now)
        return acd

    def _restore_session(self, s: snap.SavedSession, now: float) -> None:
        agent = self._agents.get(s.user_id)
        station = s.station
        if agent is None or station not in self._stations or station in self._at_station:
            return
        out: list[Event] = []
        agent.station = station
        self._at_station[station] = agent
        agent.calls_handled = s.calls_handled
        agent.last_group = s.last_group
        state, reason, wrapup, agent.pending = s.resumed()
        self._change(agent, state, s.since, out, reason, wrapup)
        agent.time_in_state = dict(s.time_in_state)
        agent.wrapup_owed = s.wrapup_owed
        if s.state in ON_CALL and s.pending is not None and s.pending.wrapup_owed:
            agent.wrapup_owed = ""  # the call is gone, but its wrap-up code is still owed
        if state is S.WORK_READY:
            # the saved deadline replaces the one `_change` armed (none saved: none armed)
            self._timers.cancel(TimerKind.WRAPUP_END, agent.user_id)
            self._wrapup_until.pop(agent.user_id, None)
            if s.wrapup_until is not None:
                self._wrapup_until[agent.user_id] = s.wrapup_until
                self._timers.set(TimerKind.WRAPUP_END, agent.user_id, s.wrapup_until)
