"""Routing structures: per-group waiting-call queues and per-group sets of READY members.

Every routing decision is a look at the top of a heap or a bisect into a sorted list, never
a scan of all members or of all waiting calls, and nothing is polled: the engine calls in
here when a call arrives, when an agent becomes READY and when a timer fires (compare
Asterisk's app_queue, which re-checks every member for every waiting caller each second).

READY members are kept eagerly in sorted key lists (an agent leaving READY is removed from
each of its groups by bisect). Waiting calls are in heaps with lazy deletion: a call taken
from the head is popped at once; one that leaves from the middle (abandoned, overflowed)
stays until it surfaces and is recognised as stale by its `token`, status and group. Heaps
are rebuilt when stale entries outnumber live ones, so memory follows the live set.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from enum import Enum
from typing import Any

from acdgate.acd.agents import Agent
from acdgate.acd.site import Group, GroupMode


class CallStatus(Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"


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
        "qkey",
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
        # queue order: higher priority first, then earlier arrival (fixed for the call's life)
        self.qkey = (-priority, arrived, seq)
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
        prio, arrived, seq = call.qkey
        heapq.heappush(self._heap, (prio, arrived, seq, call.token, call))
        heapq.heappush(self._by_arrival, (arrived, seq, call.token, call))
        self.count += 1
        if len(self._heap) + len(self._by_arrival) > 4 * self.count + 128:
            self._compact()

    def leave(self, call: Call) -> None:
        """`call` stopped waiting here (offered, abandoned, overflowed).

        The heap top is kept live: a call taken from the head is popped now, and stale
        entries of calls that left from the middle are dropped as they surface.
        """
        self.count -= 1
        heap = self._heap
        if heap and heap[0][4] is call:
            heapq.heappop(heap)
        while heap and not self._live(heap[0][4], heap[0][3]):
            heapq.heappop(heap)
        if self._by_arrival and self._by_arrival[0][3] is call:
            heapq.heappop(self._by_arrival)

    def top(self) -> _QueueEntry | None:
        """The head entry `(-priority, arrival, seq, token, call)`, or None (always live)."""
        return self._heap[0] if self._heap else None

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
    """The READY, enabled members of one group, as a sorted list of keys (bisect).

    The engine adds a member when it enters READY (or its membership is enabled while
    READY) and discards it when it leaves READY (or is disabled): O(log n) search plus a
    short memmove, and the pick is the first key, or a bisect for circular mode.
    """

    __slots__ = ("_agents", "_keys", "_sorted", "index", "number")

    def __init__(self, group: Group) -> None:
        self.number = group.number
        self.index = {user_id: i for i, user_id in enumerate(group.members)}
        self._sorted: list[Any] = []  # keys, ascending; every key ends with the member index
        self._keys: dict[str, Any] = {}  # user id -> its key in _sorted
        self._agents: dict[int, Agent] = {}  # member index -> agent

    def key(self, agent: Agent) -> Any:
        """The sort key of a READY agent; None: never offered calls of this group."""
        return self.index[agent.user_id]

    def add(self, agent: Agent) -> None:
        """The agent entered READY (or had its membership enabled while READY)."""
        if agent.user_id in self._keys:
            return
        key = self.key(agent)
        if key is None:
            return
        self._keys[agent.user_id] = key
        self._agents[self.index[agent.user_id]] = agent
        if not self._sorted or self._sorted[-1] < key:
            self._sorted.append(key)  # most idle: keys grow with time, always appended
        else:
            insort(self._sorted, key)

    def discard(self, agent: Agent) -> None:
        """The agent left READY (or had its membership disabled)."""
        key = self._keys.pop(agent.user_id, None)
        if key is not None:
            del self._sorted[bisect_left(self._sorted, key)]

    def _agent(self, key: Any) -> Agent:
        return self._agents[key if isinstance(key, int) else key[-1]]

    def pick(self) -> Agent | None:
        """The member to offer the next call to, or None."""
        return self._agent(self._sorted[0]) if self._sorted else None

    def offered(self, agent: Agent) -> None:
        """A call of this group was offered to `agent` (circular mode remembers it)."""

    def all_ready(self) -> list[Agent]:
        """Every READY member, in this group's order (collective mode rings them all)."""
        return [self._agent(k) for k in self._sorted]

    def __len__(self) -> int:
        return len(self._sorted)


class CircularReady(ReadyMembers):
    """Circular: the next READY member after the one last offered, wrapping around."""

    __slots__ = ("last",)

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self.last = -1  # member index last offered a call

    def pick(self) -> Agent | None:
        keys = self._sorted
        if not keys:
            return None
        pos = bisect_right(keys, self.last)
        return self._agent(keys[pos if pos < len(keys) else 0])

    def offered(self, agent: Agent) -> None:
        self.last = self.index[agent.user_id]


class IdleReady(ReadyMembers):
    """Most idle: the member that entered READY longest ago, key (idle since, index).

    Skills mode: key (-level in the group's skill, idle since, index); members without
    the skill are never added.
    """

    __slots__ = ("_levels",)

    def __init__(self, group: Group, levels: dict[str, int] | None = None) -> None:
        super().__init__(group)
        self._levels = levels  # None: most idle; else the members' skill levels

    def key(self, agent: Agent) -> Any:
        i = self.index[agent.user_id]
        if self._levels is None:
            return (agent.idle_since, i)
        level = self._levels.get(agent.user_id, 0)
        return (-level, agent.idle_since, i) if level > 0 else None


def ready_members_for(group: Group, levels: dict[str, int]) -> ReadyMembers:
    """The structure for `group`'s mode; `levels` maps members to their level in its skill."""
    if group.mode is GroupMode.CIRCULAR:
        return CircularReady(group)
    if group.mode is GroupMode.MOST_IDLE:
        return IdleReady(group)
    if group.mode is GroupMode.SKILLS:
        return IdleReady(group, levels)
    return ReadyMembers(group)  # LINEAR, COLLECTIVE: member order
