"""Routing decisions per second and p99 latency: acd.routing against a scan-every-member baseline.

Two kinds of decision, each run twice from the same seed, once with acd.routing and once
with the baseline, checked to choose the same agent or call every time:

- call arrives at a group -> which READY member gets it (linear, circular, most idle,
  skills; the baseline scans every member of the group, as Asterisk's app_queue does);
- agent becomes READY -> which waiting call among all its groups it takes (the baseline
  scans every waiting call of those groups).

Then the whole engine (`Acd.handle`) is timed on the same population for reference.
Default: 10,000 agents, 500 groups, 50,000 waiting calls. `--quick` runs a smaller load.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from acdgate.acd import commands as c
from acdgate.acd.agents import Agent
from acdgate.acd.engine import Acd
from acdgate.acd.routing import (
    Call,
    CallStatus,
    CircularReady,
    ReadyMembers,
    WaitQueue,
    ready_members_for,
)
from acdgate.acd.site import Group, GroupMode, Site, Station, User
from acdgate.acd.states import AgentState

READY, RESERVED = AgentState.READY, AgentState.RESERVED
MODES = [GroupMode.LINEAR, GroupMode.CIRCULAR, GroupMode.MOST_IDLE, GroupMode.SKILLS]


def build_site(agents: int, groups: int, per_agent: int, rng: random.Random) -> Site:
    """`agents` users, each a member of `per_agent` random groups with a random skill level."""
    members: list[list[str]] = [[] for _ in range(groups)]
    users = []
    for i in range(agents):
        user_id = f"a{i}"
        mine = rng.sample(range(groups), per_agent)
        for g in mine:
            members[g].append(user_id)
        skills = tuple((f"s{g}", rng.randint(1, 10)) for g in mine)
        users.append(User(user_id, user_id, "x", skills=skills))
    group_list = []
    for g in range(groups):
        rng.shuffle(members[g])
        mode = MODES[g % len(MODES)]
        skill = f"s{g}" if mode is GroupMode.SKILLS else None
        group_list.append(
            Group(f"g{g}", f"G{g}", mode, tuple(members[g]), skill=skill, no_answer_seconds=10**6)
        )
    stations = tuple(Station(f"s{i}", f"s{i}", "pw") for i in range(agents))
    return Site("bench", stations, tuple(users), tuple(group_list))


class Population:
    """Agents and per-group structures, built the way the engine builds them."""

    def __init__(self, site: Site) -> None:
        self.groups = {g.number: g for g in site.groups}
        member_of: dict[str, list[str]] = {u.user_id: [] for u in site.users}
        for g in site.groups:
            for m in g.members:
                member_of[m].append(g.number)
        self.agents = {u.user_id: Agent(u, tuple(member_of[u.user_id])) for u in site.users}
        self.levels = {
            g.number: {m: self.agents[m].user.skill_level(g.skill) for m in g.members}
            for g in site.groups
            if g.skill
        }
        self.ready: dict[str, ReadyMembers] = {
            g.number: ready_members_for(g, self.levels.get(g.number, {})) for g in site.groups
        }
        self.members = {g.number: [self.agents[m] for m in g.members] for g in site.groups}
        self.clock = 0.0

    def make_ready(self, agent: Agent) -> None:
        """What the engine does when an agent enters READY (a state change, not a decision)."""
        self.clock += 1.0
        agent.state = READY
        agent.idle_since = self.clock
        for g in agent.groups:
            self.ready[g].add(agent)

    def leave_ready(self, agent: Agent) -> None:
        """What the engine does when an agent leaves READY (offered a call)."""
        agent.state = RESERVED
        for g in agent.groups:
            self.ready[g].discard(agent)


def baseline_pick(pop: Population, number: str) -> Agent | None:
    """Scan every member of the group (what a polling ACD does per waiting call)."""
    group = pop.groups[number]
    best: Agent | None = None
    best_key: tuple[float, ...] = ()
    if group.mode is GroupMode.CIRCULAR:
        ready = pop.ready[number]
        assert isinstance(ready, CircularReady)
        last = ready.last
        first: Agent | None = None
        for i, a in enumerate(pop.members[number]):
            if a.state is READY and number not in a.disabled:
                if first is None:
                    first = a
                if i > last:
                    return a
        return first
    levels = pop.levels.get(number)
    for i, a in enumerate(pop.members[number]):
        if a.state is not READY or number in a.disabled:
            continue
        if group.mode is GroupMode.LINEAR:
            return a
        key: tuple[float, ...]
        if levels is not None:
            key = (-levels[a.user_id], a.idle_since, i)
        else:
            key = (a.idle_since, i)
        if best is None or key < best_key:
            best, best_key = a, key
    return best


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0  # ns -> µs


def report(name: str, fast: list[int], slow: list[int]) -> tuple[float, float]:
    fast_rate = len(fast) / (sum(fast) / 1e9)
    slow_rate = len(slow) / (sum(slow) / 1e9)
    print(
        f"{name:<22} acd.routing: {fast_rate:>12,.0f}/s  p50 {percentile(fast, 0.5):6.2f} µs"
        f"  p99 {percentile(fast, 0.99):6.2f} µs | baseline: {slow_rate:>10,.0f}/s"
        f"  p99 {percentile(slow, 0.99):8.2f} µs | ratio {fast_rate / slow_rate:6.1f}x"
    )
    return fast_rate / slow_rate, percentile(fast, 0.99)


def bench_call_arrivals(
    pop: Population, decisions: int, ready_share: float, rng: random.Random, baseline: bool
) -> tuple[list[str], list[int], list[int]]:
    """A call arrives at a random group: pick the member; keep `ready_share` of agents READY.

    Returns the choices, the decision times and the state-change times (an agent leaving
    READY for the offer, another one entering READY), in ns. `baseline` picks by scanning
    the members instead (the sorted lists are still kept, untimed, to replay the same run).
    """
    agents = list(pop.agents.values())
    for a in agents:
        a.state = RESERVED
    busy = list(agents)
    rng.shuffle(busy)
    for _ in range(int(len(agents) * ready_share)):
        pop.make_ready(busy.pop())
    numbers = list(pop.groups)
    choices: list[str] = []
    decision_ns, change_ns = [], []
    clock = time.perf_counter_ns
    while len(choices) < decisions:
        number = numbers[rng.randrange(len(numbers))]
        ready = pop.ready[number]
        t0 = clock()
        agent = baseline_pick(pop, number) if baseline else ready.pick()
        if agent is not None:
            ready.offered(agent)
        t1 = clock()
        if agent is None:
            continue
        choices.append(agent.user_id)
        decision_ns.append(t1 - t0)
        t2 = clock()
        pop.leave_ready(agent)
        t3 = clock()
        busy.append(agent)
        back = busy.pop(rng.randrange(len(busy)))
        t4 = clock()
        pop.make_ready(back)
        change_ns += [t3 - t2, clock() - t4]
    return choices, decision_ns, change_ns


def bench_agent_ready(
    pop: Population, waiting: int, decisions: int, rng: random.Random, baseline: bool
) -> tuple[list[str], list[int], list[int]]:
    """An agent becomes READY: take the best waiting call of its groups (queues refilled).

    Returns the choices, decision times and dequeue times (ns). `baseline` scans every
    waiting call of the agent's groups instead of looking at the queue heads.
    """
    queues = {n: WaitQueue(n) for n in pop.groups}
    lists: dict[str, list[Call]] = {n: [] for n in pop.groups}
    numbers = list(pop.groups)
    seq = 0

    def arrive() -> None:
        nonlocal seq
        seq += 1
        number = numbers[rng.randrange(len(numbers))]
        call = Call(f"c{seq}", number, "", "", rng.randrange(3), (), float(seq), seq)
        queues[number].push(call)
        lists[number].append(call)

    for _ in range(waiting):
        arrive()
    agents = list(pop.agents.values())
    choices: list[str] = []
    decision_ns, change_ns = [], []
    clock = time.perf_counter_ns
    for _ in range(decisions):
        agent = agents[rng.randrange(len(agents))]
        groups = agent.groups
        best: Call | None = None
        t0 = clock()
        if baseline:
            for g in groups:
                for call in lists[g]:
                    if best is None or call.qkey < best.qkey:
                        best = call
        else:
            best_entry = None
            for g in groups:
                entry = queues[g].top()
                if entry is not None and (best_entry is None or entry < best_entry):
                    best_entry = entry
            best = None if best_entry is None else best_entry[4]
        t1 = clock()
        decision_ns.append(t1 - t0)
        choices.append("" if best is None else best.call_id)
        if best is not None:  # dequeue: a state change of the call, timed apart
            t2 = clock()
            queues[best.group].leave(best)
            best.status = CallStatus.OFFERED
            change_ns.append(clock() - t2)
            lists[best.group].remove(best)
        arrive()
    return choices, decision_ns, change_ns


def bench_engine(site: Site, commands: int, rng: random.Random) -> list[int]:
    """Acd.handle per command (arrive, answer, end) with every agent logged on and READY."""
    snapshot = {
        "sessions": [
            {
                "user_id": u.user_id,
                "station": f"s{i}",
                "state": "ready",
                "reason_code": None,
                "wrapup_code": None,
                "since": float(i),
                "pending": None,
                "calls_handled": 0,
                "last_group": None,
                "wrapup_until": None,
                "time_in_state": [],
            }
            for i, u in enumerate(site.users)
        ]
    }
    acd = Acd.restore(site, snapshot, 0.0)
    numbers = [g.number for g in site.groups]
    clock = time.perf_counter_ns
    samples: list[int] = []
    now = 10_000.0
    handle: Callable[[c.Command, float], object] = acd.handle
    for i in range(commands // 3):
        now += 0.01
        t0 = clock()
        events = handle(c.CallArrived(f"e{i}", numbers[rng.randrange(len(numbers))]), now)
        t1 = clock()
        samples.append(t1 - t0)
        offer = next((e for e in events if type(e).__name__ == "OfferCall"), None)  # type: ignore[union-attr, attr-defined]
        if offer is None:
            continue
        t0 = clock()
        handle(c.CallAnswered(f"e{i}", offer.user_id), now)  # type: ignore[attr-defined]
        t1 = clock()
        handle(c.CallEnded(f"e{i}"), now)
        t2 = clock()
        samples += [t1 - t0, t2 - t1]
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small load, a few seconds")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=50_000)
    parser.add_argument("--groups-per-agent", type=int, default=10)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument(
        "--ready-share", type=float, default=0.02, help="share of agents READY in the arrivals run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.groups, args.waiting, args.decisions = 2_000, 100, 10_000, 4_000
    rng = random.Random(2010)
    started = time.monotonic()
    site = build_site(args.agents, args.groups, args.groups_per_agent, rng)
    members = statistics.mean(len(g.members) for g in site.groups)
    print(
        f"{args.agents} agents, {args.groups} groups ({args.groups_per_agent} groups per agent, "
        f"{members:.0f} members per group), {args.waiting} waiting calls, {args.decisions} decisions each"
    )
    runs = {}
    for baseline in (True, False):  # same seeds: both runs see the same calls and agents
        runs[baseline] = bench_call_arrivals(
            Population(site), args.decisions, args.ready_share, random.Random(1), baseline
        )
    if runs[True][0] != runs[False][0]:
        raise AssertionError("call arrivals: routing and baseline chose different agents")
    fast, slow, change = runs[False][1], runs[True][1], runs[False][2]
    report("call arrives -> agent", fast, slow)
    print(
        f"{'  state change':<22} (leave or enter READY, {args.groups_per_agent} groups each)"
        f"  p50 {percentile(change, 0.5):6.2f} µs  p99 {percentile(change, 0.99):6.2f} µs"
    )
    for baseline in (True, False):
        runs[baseline] = bench_agent_ready(
            Population(site), args.waiting, args.decisions, random.Random(2), baseline
        )
    if runs[True][0] != runs[False][0]:
        raise AssertionError("agent ready: routing and baseline chose different calls")
    fast2, slow2, dequeue = runs[False][1], runs[True][1], runs[False][2]
    report("agent ready -> call", fast2, slow2)
    print(
        f"{'  state change':<22} (dequeue the chosen call)"
        f"  p50 {percentile(dequeue, 0.5):6.2f} µs  p99 {percentile(dequeue, 0.99):6.2f} µs"
    )
    r, p = report("all decisions", fast + fast2, slow + slow2)
    engine = bench_engine(site, args.decisions, rng)
    print(
        f"{'Acd.handle (engine)':<22} {len(engine) / (sum(engine) / 1e9):>12,.0f} commands/s"
        f"  p50 {percentile(engine, 0.5):6.2f} µs  p99 {percentile(engine, 0.99):6.2f} µs (events included)"
    )
    ok = p <= 10.0 and r >= 50.0
    print(
        f"targets: p99 <= 10 µs per decision, >= 50x baseline: {'met' if ok else 'NOT met'}"
        f" (p99 {p:.2f} µs, ratio {r:.1f}x); {time.monotonic() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
