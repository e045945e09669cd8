"""The group report: offered, answered, abandoned, overflowed calls, speed of answer and
service level per monitored group, folded from the journal one record at a time.

A call is counted in the interval it entered the group (`CallEntered`: it arrived there, or
overflowed into it), whatever happens to it later, so the figures of an interval add up:
offered = answered + abandoned + overflowed + still waiting or refused at the end. Waits are
the ACD's `waited` (time since the call arrived at the ACD, overflow hops included): what the
caller heard. Definitions (T = the group's service level threshold, S = the site's
short-abandon threshold):

- answered within T: answered calls with waited <= T
- short abandoned: abandoned calls with waited < S (left out of the rates below)
- service level = answered within T / (answered + abandoned - short abandoned)
- abandon rate = (abandoned - short abandoned) / (offered - short abandoned)
- average speed of answer = sum of answered waits / answered
- longest wait = the longest `waited` of a call answered or abandoned in the group

As the IP Office tip requires, groups that are not monitored (and collective "group mode"
groups, which cannot be) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.reports.intervals import ReportQuery
from acdgate.acd.site import GroupMode, Site


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group in one interval (or over the whole range)."""

    start: float
    end: float
    number: str
    name: str
    threshold_seconds: int  # the service level threshold T
    offered: int  # calls that entered the group (arrived or overflowed in)
    answered: int
    answered_in_threshold: int
    abandoned: int  # all abandoned calls, short ones included
    short_abandoned: int
    overflowed: int  # calls that left it for its overflow group
    answer_wait_seconds: float  # the sum of answered calls' waits
    longest_wait: float

    @property
    def asa_seconds(self) -> float:
        """Average speed of answer: mean wait of answered calls (0 without answers)."""
        return self.answer_wait_seconds / self.answered if self.answered else 0.0

    @property
    def service_level(self) -> float | None:
        """Percent answered within the threshold; None when no call counts."""
        base = self.answered + self.abandoned - self.short_abandoned
        return 100.0 * self.answered_in_threshold / base if base else None

    @property
    def abandon_rate(self) -> float | None:
        """Percent of offered calls abandoned, short abandons left out; None without calls."""
        base = self.offered - self.short_abandoned
        return 100.0 * (self.abandoned - self.short_abandoned) / base if base > 0 else None


@dataclass(slots=True)
class _Counts:
    offered: int = 0
    answered: int = 0
    in_threshold: int = 0
    abandoned: int = 0
    short: int = 0
    overflowed: int = 0
    wait: float = 0.0
    longest: float = 0.0


class GroupFold:
    """Takes journal records in order (`entered` ...), then gives the rows."""

    def __init__(self, query: ReportQuery, site: Site) -> None:
        self.query = query
        self.short_abandon = site.reports.short_abandon_seconds
        self.groups = {
            g.number: g for g in site.groups if g.monitored and g.mode is not GroupMode.COLLECTIVE
        }
        self.thresholds = {
            n: g.service_level_seconds if g.service_level_seconds is not None
            else site.reports.service_level_seconds
            for n, g in self.groups.items()
        }
        self._calls: dict[str, float] = {}  # call id -> interval it entered its current group in
        self._counts: dict[tuple[float, str], _Counts] = {}
        self._totals = {n: _Counts() for n in self.groups}

    def _cells(self, call_id: str, group: str, *, done: bool = True) -> list[_Counts]:
        """The interval cell and the total of the call's current group, if it is counted."""
        bucket = self._calls.pop(call_id, None) if done else self._calls.get(call_id)
        if bucket is None or group not in self.groups:
            return []
        return [self._counts[(bucket, group)], self._totals[group]]

    def entered(self, at: float, call_id: str, group: str) -> None:
        if group not in self.groups or not self.query.contains(at):
            self._calls.pop(call_id, None)  # counted in another period, or not reported on
            return
        bucket = self.query.bucket_of(at)
        self._calls[call_id] = bucket
        cell = self._counts.get((bucket, group))
        if cell is None:
            cell = self._counts[(bucket, group)] = _Counts()
        for c in (cell, self._totals[group]):
            c.offered += 1

    def answered(self, call_id: str, group: str, waited: float) -> None:
        within = waited <= self.thresholds.get(group, 0)
        for c in self._cells(call_id, group):
            c.answered += 1
            c.in_threshold += within
            c.wait += waited
            c.longest = max(c.longest, waited)

    def abandoned(self, call_id: str, group: str, waited: float) -> None:
        short = waited < self.short_abandon
        for c in self._cells(call_id, group):
            c.abandoned += 1
            c.short += short
            c.longest = max(c.longest, waited)

    def overflowed(self, call_id: str, from_group: str) -> None:
        for c in self._cells(call_id, from_group):
            c.overflowed += 1

    def _row(self, start: float, end: float, number: str, c: _Counts) -> GroupRow:
        g = self.groups[number]
        return GroupRow(start, end, number, g.name, self.thresholds[number], c.offered, c.answered,
                        c.in_threshold, c.abandoned, c.short, c.overflowed, c.wait, c.longest)

    def rows(self) -> list[GroupRow]:
        """One row per interval of the range and monitored group (zeros where nothing
        happened, so charts show every interval), by interval then group."""
        out = []
        for start, end in self.query.buckets():
            bucket = self.query.bucket_of(start)
            for number in self.groups:
                out.append(self._row(start, end, number, self._counts.get((bucket, number), _Counts())))
        return out

    def totals(self) -> list[GroupRow]:
        """One row per monitored group over the whole range."""
        q = self.query
        return [self._row(q.start, q.end, n, c) for n, c in self._totals.items()]
