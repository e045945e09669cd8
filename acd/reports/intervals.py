"""Report periods: the date range `[start, end)` cut into 15, 30 or 60 minute intervals, or days.

Intervals and days are aligned on UTC (a day is 00:00-24:00 UTC), so a report does not depend
on the host's time zone and re-reporting a past period gives the same rows. A stretch of agent
time or a call is put in the interval its moment falls in; a stretch that crosses a boundary
(midnight included) is split at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

DAY_SECONDS = 86_400


class Granularity(StrEnum):
    """How a report cuts its range: `--interval 15|30|60|day`."""

    MINUTES_15 = "15"
    MINUTES_30 = "30"
    MINUTES_60 = "60"
    DAY = "day"

    @property
    def seconds(self) -> int:
        """The length of one interval."""
        return DAY_SECONDS if self is Granularity.DAY else int(self.value) * 60


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What to report: the range `[start, end)` in epoch seconds and how to cut it."""

    start: float
    end: float
    granularity: Granularity = Granularity.MINUTES_60
    size: int = field(init=False, repr=False, compare=False)  # seconds of one interval

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(f"the report range is empty: end {self.end} is not after start {self.start}")
        object.__setattr__(self, "size", self.granularity.seconds)  # read once per event: cached

    def bucket_of(self, moment: float) -> float:
        """The start of the interval `moment` falls in (not clipped to the range)."""
        return (moment // self.size) * self.size

    def buckets(self) -> Iterator[tuple[float, float]]:
        """Every interval of the range, as (start, end) clipped to the range, in order."""
        lo = self.bucket_of(self.start)
        size = self.size
        while lo < self.end:
            yield max(lo, self.start), min(lo + size, self.end)
            lo += size

    def split(self, since: float, until: float) -> Iterator[tuple[float, float]]:
        """`[since, until)` clipped to the range and cut at interval boundaries: (bucket start,
        seconds) for each piece, in order."""
        lo, hi = max(since, self.start), min(until, self.end)
        size = self.size
        while lo < hi:
            bucket = (lo // size) * size
            piece_end = min(bucket + size, hi)
            yield bucket, piece_end - lo
            lo = piece_end

    def contains(self, moment: float) -> bool:
        """True when `moment` is inside `[start, end)`."""
        return self.start <= moment < self.end


def utc_text(moment: float) -> str:
    """`2026-11-22 09:30:00` for epoch seconds, in UTC."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def utc_iso(moment: float) -> str:
    """`2026-11-22T09:30:00Z` for epoch seconds (JSON and CSV)."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str) -> float:
    """Epoch seconds, or an ISO 8601 date or date-time (UTC unless it names an offset);
    ValueError with a reason otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use e.g. 2026-11-22, 2026-11-22T09:30Z or epoch seconds)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def day_start(moment: float) -> float:
    """00:00 UTC of the day `moment` falls in."""
    return float(int(moment // DAY_SECONDS) * DAY_SECONDS)
