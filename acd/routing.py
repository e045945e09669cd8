"""Routing structures: per-group waiting-call queues and per-group sets of READY members.

Every routing decision is a look at the top of a heap or a bisect into a sorted list, never
a scan of all members or of all waiting calls, and nothing is polled: the engine calls in
here when a call arrives, when an agent becomes READY and when a timer fires (compare
Asterisk's app_queue, which re-checks every member for every waiting caller each second).

Deletion is lazy. An entry stays in its heap when its call stops waiting or its agent stops
being READY; it is recognised as stale (the call's `token`, the agent's `ready_epoch`,
state and membership no longer match) and dropped when it reaches the top. Heaps are
rebuilt when stale entries outnumber live ones, so memory stays proportional to the live set.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right, insort
from dataclasses import dataclass
from enum import Enum

from acdgate.acd.agents import Agent
from acdgate.acd.site import Group, GroupMode
from acdgate.acd.states import AgentState

_READY = AgentState.READY


class CallStatus(Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class CallView:
    """A frozen snapshot of a routed call."""

    call_id: str
    group: str
    status: CallStatus
    priority: int
    arrived: float
    offered_to: tuple[str, ...]
    user_id: str | None


class Call:
    """A routed call the ACD is handling (removed once it has ended)."""

    __slots__ = (
        "ani",
        "answered_at",
        "arrived",
        "call_id",
        "data",
        "dnis",
        "group",
        "hops",
        "offered_to",
        "overflow_at",
        "priority",
        "seq",
        "status",
        "token",
        "user_id",
    )

    def __init__(
        self,
        call_id: str,
        group: str,
        ani: str,
        dnis: str,
        priority: int,
        data: tuple[tuple[str, str], ...],
        arrived: float,
        seq: int,
    ) -> None:
        self.call_id = call_id
        self.group = group
        self.ani = ani
        self.dnis = dnis
        self.priority = priority
        self.data = data
        self.arrived = arrived  # kept across ring-no-answer and overflow: queue order
        self.seq = seq  # arrival order, breaks ties of equal arrival times
        self.status = CallStatus.WAITING
        self.token = 0  # bumped on every push into a wait queue (stale heap entries)
        self.offered_to: list[str] = []  # ringing agents (several in a collective group)
        self.user_id: str | None = None  # the agent who answered
        self.answered_at = 0.0
        self.overflow_at: float | None = None
        self.hops = 0  # overflows so far (bounds overflow cycles between groups)

    def view(self) -> CallView:
        """A frozen snapshot."""
        return CallView(
            call_id=self.call_id,
            group=self.group,
            status=self.status,
            priority=self.priority,
            arrived=self.arrived,
            offered_to=tuple(self.offered_to),
            user_id=self.user_id,
        )

    def key(self) -> tuple[int, float, int]:
        """Queue order: higher priority first, then earlier arrival."""
        return (-self.priority, self.arrived, self.seq)


_QueueEntry = tuple[int, float, int, int, Call]


class WaitQueue:
    """A group's waiting calls: a heap by (priority, arrival) plus a heap by arrival (LQT)."""

    __slots__ = ("_by_arrival", "_heap", "count", "number")

    def __init__(self, number: str) -> None:
        self.number = number
        self._heap: list[_QueueEntry] = []
        self._by_arrival: list[tuple[float, int, int, Call]] = []
        self.count = 0  # calls waiting (CIQ); the heaps may hold stale entries too

    def _live(self, call: Call, token: int) -> bool:
        return (
            call.token == token and call.status is CallStatus.WAITING and call.group == self.number
        )

    def push(self, call: Call) -> None:
        """Add a waiting call at the position its priority and original arrival give it."""
        call.token += 1
        call.status = CallStatus.WAITING
        call.group = self.number
        prio, arrived, seq = call.key()
        heapq.heappush(self._heap, (prio, arrived, seq, call.token, call))
        heapq.heappush(self._by_arrival, (arrived, seq, call.token, call))
        self.count += 1
        if len(self._heap) > 2 * self.count + 64:
            self._compact()

    def leave(self) -> None:
        """A call of this queue stopped waiting (offered, abandoned, overflowed)."""
        self.count -= 1

    def head(self) -> Call | None:
        """The call to serve next, or None."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if self._live(entry[4], entry[3]):
                return entry[4]
            heapq.heappop(heap)
        return None

    def oldest_arrival(self) -> float | None:
        """Arrival time of the call waiting longest (for LQT)."""
        heap = self._by_arrival
        while heap:
            entry = heap[0]
            if self._live(entry[3], entry[2]):
                return entry[0]
            heapq.heappop(heap)
        return None

    def waiting(self) -> list[Call]:
        """The waiting calls in service order (O(n log n): for snapshots and tests)."""
        return [e[4] for e in sorted(self._heap) if self._live(e[4], e[3])]

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._live(e[4], e[3])]
        heapq.heapify(self._heap)
        self._by_arrival = [e for e in self._by_arrival if self._live(e[3], e[2])]
        heapq.heapify(self._by_arrival)


class ReadyMembers:
    """The READY, enabled members of one group, ordered by the group's mode."""

    __slots__ = ("index", "number")

    def __init__(self, group: Group) -> None:
        self.number = group.number
        self.index = {user_id: i for i, user_id in enumerate(group.members)}

    def eligible(self, agent: Agent) -> bool:
        """READY and with membership of this group enabled."""
        return agent.state is _READY and self.number not in agent.disabled

    def add(self, agent: Agent) -> None:
        """The agent became READY (or had its membership enabled while READY)."""
        raise NotImplementedError

    def pick(self) -> Agent | None:
        """The member to offer the next call to, or None."""
        raise NotImplementedError

    def offered(self, agent: Agent) -> None:
        """A call of this group was offered to `agent` (circular mode remembers it)."""

    def all_ready(self) -> list[Agent]:
        """Every eligible member, in member order (collective mode rings them all)."""
        raise NotImplementedError


class LinearReady(ReadyMembers):
    """Linear (and collective): the first READY member in member order.

    Keys never change, so one entry per member suffices: a member that leaves READY and
    comes back makes its old entry live again (`_present` avoids duplicates).
    """

    __slots__ = ("_heap", "_present")

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self._heap: list[tuple[int, Agent]] = []
        self._present: set[int] = set()

    def add(self, agent: Agent) -> None:
        i = self.index[agent.user_id]
        if i not in self._present:
            self._present.add(i)
            heapq.heappush(self._heap, (i, agent))

    def pick(self) -> Agent | None:
        heap = self._heap
        while heap:
            i, agent = heap[0]
            if agent.state is _READY and self.number not in agent.disabled:
                return agent
            heapq.heappop(heap)
            self._present.discard(i)
        return None

    def all_ready(self) -> list[Agent]:
        live = sorted(e for e in self._heap if self.eligible(e[1]))
        self._heap = live  # a sorted list is a heap
        self._present = {i for i, _ in live}
        return [agent for _, agent in live]


class CircularReady(ReadyMembers):
    """Circular: the next READY member after the one last offered, wrapping around.

    A sorted list of member indexes; `bisect_right(last)` finds the next one.
    """

    __slots__ = ("_agents", "_indexes", "last")

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self._indexes: list[int] = []
        self._agents: dict[int, Agent] = {}
        self.last = -1  # member index last offered a call

    def add(self, agent: Agent) -> None:
        i = self.index[agent.user_id]
        if i not in self._agents:
            self._agents[i] = agent
            insort(self._indexes, i)

    def pick(self) -> Agent | None:
        indexes = self._indexes
        while indexes:
            pos = bisect_right(indexes, self.last)
            if pos == len(indexes):
                pos = 0
            i = indexes[pos]
            agent = self._agents[i]
            if agent.state is _READY and self.number not in agent.disabled:
                return agent
            del indexes[pos]
            del self._agents[i]
        return None

    def offered(self, agent: Agent) -> None:
        self.last = self.index[agent.user_id]

    def all_ready(self) -> list[Agent]:
        return [a for i in self._indexes if self.eligible(a := self._agents[i])]


_IdleEntry = tuple[int, float, int, int, int, Agent]


class IdleReady(ReadyMembers):
    """Most idle: the READY member that entered READY longest ago.

    Skills mode uses the same heap keyed by (-level in the required skill, idle since);
    members without the skill never enter it. The key changes on every entry into READY,
    so each entry carries the agent's `ready_epoch` and is stale once the agent moves on.
    """

    __slots__ = ("_heap", "_levels", "_seq")

    def __init__(self, group: Group, levels: dict[str, int] | None = None) -> None:
        super().__init__(group)
        self._heap: list[_IdleEntry] = []
        self._levels = levels  # None: most idle; else the members' skill levels
        self._seq = 0  # tie-breaker: entries never compare agents

    def add(self, agent: Agent) -> None:
        level = 0
        if self._levels is not None:
            level = self._levels.get(agent.user_id, 0)
            if level <= 0:
                return
        self._seq += 1
        entry = (
            -level,
            agent.idle_since,
            self.index[agent.user_id],
            self._seq,
            agent.ready_epoch,
            agent,
        )
        heapq.heappush(self._heap, entry)
        if len(self._heap) > 2 * len(self.index) + 64:
            self._compact()

    def _live(self, entry: _IdleEntry) -> bool:
        agent = entry[5]
        return (
            agent.ready_epoch == entry[4]
            and agent.state is _READY
            and self.number not in agent.disabled
        )

    def pick(self) -> Agent | None:
        heap = self._heap
        while heap:
            if self._live(heap[0]):
                return heap[0][5]
            heapq.heappop(heap)
        return None

    def all_ready(self) -> list[Agent]:
        seen: dict[str, Agent] = {}
        for entry in sorted(self._heap):
            if self._live(entry):
                seen.setdefault(entry[5].user_id, entry[5])
        return list(seen.values())

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._live(e)]
        heapq.heapify(self._heap)


def ready_members_for(group: Group, levels: dict[str, int]) -> ReadyMembers:
    """The structure for `group`'s mode; `levels` maps members to their level in its skill."""
    if group.mode is GroupMode.CIRCULAR:
        return CircularReady(group)
    if group.mode is GroupMode.MOST_IDLE:
        return IdleReady(group)
    if group.mode is GroupMode.SKILLS:
        return IdleReady(group, levels)
    return LinearReady(group)  # LINEAR, COLLECTIVE
