"""Hypothesis: routing and agent invariants hold over random command sequences and time advances."""

from __future__ import annotations

from collections import Counter
from typing import Any

from acdgate.acd import commands as c
from acdgate.acd.engine import Acd
from acdgate.acd.events import CallAbandoned, CallCompleted, CallEntered, Event, LoggedIn
from acdgate.acd.routing import CallStatus
from acdgate.acd.site import GroupMode, Policy
from acdgate.acd.states import AgentState
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

S = AgentState
USERS = ["u1", "u2", "u3", "u4", "u5"]
STATIONS = ["201", "202", "203", "204", "205", "299"]
GROUPS = ["500", "501", "502", "503", "504"]
CHOOSABLE = [S.READY, S.READY, S.NOT_READY, S.WORK_READY, S.WORK_NOT_READY]
STEPS = [0.0, 0.5, 3.0, 10.0, 16.0, 31.0, 100.0]


def invariant_site(acd_kit: Any) -> Any:
    skills = {u: (("fr", i % 3),) for i, u in enumerate(USERS)}
    groups = [
        acd_kit.group(
            "500", ["u1", "u2", "u3"], no_answer_seconds=15, wrapup_seconds=10, max_queue=4
        ),
        acd_kit.group(
            "501", ["u3", "u4", "u2"], GroupMode.CIRCULAR, overflow_group="502", overflow_seconds=30
        ),
        acd_kit.group(
            "502", ["u4", "u5", "u1"], GroupMode.MOST_IDLE, overflow_group="501", overflow_seconds=0
        ),
        acd_kit.group("503", USERS, GroupMode.SKILLS, skill="fr"),
        acd_kit.group(
            "504", ["u5", "u2", "u1"], GroupMode.COLLECTIVE, monitored=False, no_answer_seconds=5
        ),
    ]
    return acd_kit.site(
        groups, users=5, skills=skills, policy=Policy(pin_attempts=2, pin_lockout_seconds=20)
    )


op = st.tuples(st.integers(0, 11), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99))


class Driver:
    """Applies random operations and keeps the outside view of calls."""

    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self.now = 0.0
        self.n = 0
        self.entered: set[str] = set()
        self.ended: Counter[str] = Counter()
        self.direct: list[str] = []
        self.login_at: dict[str, float] = {}

    def record(self, events: list[Event]) -> None:
        for e in events:
            assert e.at == self.now
            if isinstance(e, LoggedIn):
                self.login_at[e.user_id] = e.at
            elif isinstance(e, CallEntered):
                self.entered.add(e.call_id)
            elif isinstance(e, CallAbandoned | CallCompleted):
                self.ended[e.call_id] += 1

    def apply(self, kind: int, a: int, b: int, x: int) -> None:
        acd, now = self.acd, self.now
        user = USERS[a % len(USERS)]
        live = [v.call_id for v in acd.calls()]
        offered = [v for v in acd.calls() if v.status is CallStatus.OFFERED]
        if kind == 0:
            pin = "1234" if b % 4 else "0000"
            cmd: c.Command = c.Login(user, pin, STATIONS[b % len(STATIONS)], force=x % 2 == 0)
        elif kind == 1:
            cmd = c.Logout(user, reason_code=10 if b % 2 else None)
        elif kind in (2, 3):
            cmd = c.SetState(user, CHOOSABLE[b % len(CHOOSABLE)], reason_code=1 if x % 2 else None)
        elif kind == 4:
            # a few (user, group) pairs only, so that disable and enable meet
            cmd = c.SetMembership(USERS[a % 3], GROUPS[b % 2], enabled=x % 2 == 0)
        elif kind in (5, 6):
            self.n += 1
            cmd = c.CallArrived(f"c{self.n}", GROUPS[b % len(GROUPS)], priority=x % 3)
        elif kind == 7 and offered:
            call = offered[b % len(offered)]
            who = call.offered_to[x % len(call.offered_to)] if x % 5 else user
            cmd = c.CallAnswered(call.call_id, who)
        elif kind == 8 and live:
            cmd = c.CallEnded(live[b % len(live)])
        elif kind == 9 and offered:
            call = offered[b % len(offered)]
            cmd = c.OfferFailed(call.call_id, call.offered_to[x % len(call.offered_to)])
        elif kind == 10:
            if self.direct and b % 3:
                call_id = self.direct[x % len(self.direct)]
                cmd = c.DirectCallAnswered(call_id) if b % 3 == 1 else c.DirectCallEnded(call_id)
                if b % 3 == 2:
                    self.direct.remove(call_id)
            else:
                self.n += 1
                self.direct.append(f"d{self.n}")
                cmd = c.DirectCallStarted(f"d{self.n}", STATIONS[a % len(STATIONS)])
        else:
            self.now = now + STEPS[b % len(STEPS)]
            self.record(acd.advance(self.now))
            return
        self.record(acd.handle(cmd, now))

    def check(self) -> None:
        acd, now = self.acd, self.now
        calls = acd.calls()
        live = {v.call_id for v in calls}
        # No call lost or duplicated: every entered call is live xor ended (once).
        assert len(live) == len(calls)
        assert all(n == 1 for n in self.ended.values())
        assert live | set(self.ended) == self.entered
        assert not live & set(self.ended)
        waiting_lists = {g: acd.waiting(g) for g in GROUPS}
        all_waiting = [cid for ids in waiting_lists.values() for cid in ids]
        assert len(all_waiting) == len(set(all_waiting))
        assert set(all_waiting) == {v.call_id for v in calls if v.status is CallStatus.WAITING}
        ringing: Counter[str] = Counter()
        for v in calls:
            if v.status is CallStatus.OFFERED:
                assert v.offered_to
                ringing.update(v.offered_to)
                group = acd.site.group(v.group)
                assert group is not None
                for u in v.offered_to:  # only members, with the group's skill
                    assert u in group.members
                    user = acd.site.user(u)
                    assert user is not None
                    assert group.skill is None or user.skill_level(group.skill) > 0
                for u in v.offered_to:
                    view = acd.agent(u)
                    assert view is not None
                    assert view.state is S.RESERVED and view.call_id == v.call_id
            elif v.status is CallStatus.CONNECTED:
                assert v.user_id is not None
                view = acd.agent(v.user_id)
                assert view is not None and view.state is S.TALKING and view.call_id == v.call_id
            else:
                assert v.call_id in waiting_lists[v.group]
        # Never offered two calls at once; never READY while on a call.
        assert all(n == 1 for n in ringing.values())
        views = {u: acd.agent(u) for u in USERS}
        for u, view in views.items():
            assert view is not None
            if view.state in (S.READY, S.NOT_READY, S.WORK_READY, S.WORK_NOT_READY, S.LOGGED_OUT):
                assert view.call_id is None and u not in ringing
            else:
                assert view.call_id is not None
            if view.state is S.LOGGED_OUT:
                assert view.station is None
            else:
                assert view.station is not None
                at = acd.agent_at_station(view.station)
                assert at is not None and at.user_id == u
        # A READY agent with a waiting call in one of its enabled groups would be a lost offer.
        site = acd.site
        for g in site.groups:
            enabled = [m for m in g.members if g.number not in views[m].disabled_groups]  # type: ignore[union-attr]
            if waiting_lists[g.number]:
                able = [
                    m for m in enabled if g.skill is None or site.user(m).skill_level(g.skill) > 0
                ]  # type: ignore[union-attr]
                assert all(views[m].state is not S.READY for m in able)  # type: ignore[union-attr]
            # Statistics equal a recount from scratch.
            stats = acd.group_stats(g.number, now)
            recount = Counter(views[m].state for m in enabled)  # type: ignore[union-attr]
            assert stats.agents == {s: recount.get(s, 0) for s in AgentState}
            assert stats.ciq == len(waiting_lists[g.number])
            arrivals = [
                v.arrived for v in calls if v.status is CallStatus.WAITING and v.group == g.number
            ]
            assert stats.lqt_seconds == (now - min(arrivals) if arrivals else 0.0)
        for u, view in views.items():
            stats = acd.agent_stats(u, now)
            assert stats.state is view.state  # type: ignore[union-attr]
            if view.state is not S.LOGGED_OUT:  # type: ignore[union-attr]
                session = now - self.login_at[u]
                assert abs(sum(stats.time_in_state.values()) - session) < 1e-6


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(op, min_size=20, max_size=80))
def test_invariants_over_random_commands(
    acd_kit: Any, ops: list[tuple[int, int, int, int]]
) -> None:
    driver = Driver(Acd(invariant_site(acd_kit)))
    for kind, a, b, x in ops:
        driver.apply(kind, a, b, x)
        driver.check()
    # Snapshot/restore keeps every session.
    restored = Acd.restore(driver.acd.site, driver.acd.snapshot(), driver.now)
    before = {
        v.user_id: (v.station, v.calls_handled, v.disabled_groups) for v in driver.acd.agents()
    }
    assert {
        v.user_id: (v.station, v.calls_handled, v.disabled_groups) for v in restored.agents()
    } == before
