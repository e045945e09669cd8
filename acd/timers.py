"""The engine's timers: one heap of deadlines, no polling.

Ring-no-answer, wrap-up end, overflow and PIN lockout end are all entries of one heap;
`next_deadline()` tells the gateway when to call `advance(now)` next. Cancelling or
re-arming a timer only updates `_live`; the old heap entry is skipped when it surfaces.
"""

from __future__ import annotations

import heapq
from enum import Enum


class TimerKind(Enum):
    NO_ANSWER = "no-answer"  # key: call id
    WRAPUP_END = "wrapup-end"  # key: user id
    OVERFLOW = "overflow"  # key: call id
    LOCKOUT_END = "lockout-end"  # key: user id


class Timers:
    """A heap of (deadline, seq, kind, key); at most one live timer per (kind, key)."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, str]] = []
        self._live: dict[tuple[TimerKind, str], int] = {}
        self._seq = 0

    def set(self, kind: TimerKind, key: str, deadline: float) -> None:
        """Arm (or re-arm) the timer `(kind, key)` for `deadline`."""
        self._seq += 1
        self._live[(kind, key)] = self._seq
        heapq.heappush(self._heap, (deadline, self._seq, kind, key))

    def cancel(self, kind: TimerKind, key: str) -> None:
        """Disarm the timer `(kind, key)` if armed."""
        self._live.pop((kind, key), None)

    def armed(self, kind: TimerKind, key: str) -> bool:
        """Whether `(kind, key)` is armed."""
        return (kind, key) in self._live

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            _, seq, kind, key = heap[0]
            if self._live.get((kind, key)) == seq:
                return
            heapq.heappop(heap)

    def next_deadline(self) -> float | None:
        """The earliest armed deadline, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> tuple[TimerKind, str] | None:
        """Disarm and return the earliest timer due at `now`, or None."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, kind, key = heapq.heappop(self._heap)
        del self._live[(kind, key)]
        return kind, key
