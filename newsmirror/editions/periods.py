"""The periods offline editions are built for (pure): a UTC day ("2026-03-02") or an ISO week ("2026-W09").

    period_of(day, "daily" | "weekly") -> Period(label, first day, the day after the last)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Period:
    label: str  # "2026-03-02" (daily) or "2026-W09" (weekly, ISO week)
    start: date
    end: date  # the day after its last day

    def holds(self, key: str) -> bool:
        return self.start.isoformat() <= key[:10] < self.end.isoformat()


def period_of(day: date, every: str) -> Period:
    if every == "weekly":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + timedelta(days=7))
    return Period(day.isoformat(), day, day + timedelta(days=1))


def periods_between(first: date, last: date, every: str) -> list[Period]:
    """Every period from the one holding `first` to the one holding `last`, oldest first."""
    found, period = [], period_of(first, every)
    while period.start <= last:
        found.append(period)
        period = period_of(period.end, every)
    return found
