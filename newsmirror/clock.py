"""One clock for a run's time: now, or the fixed instant in NEWSMIRROR_NOW, so reruns and crash tests are reproducible.

Everything a run records or publishes takes its time here: the run's stamp, commit messages, state rows, remote
push records, imported views, `compact`'s message. `wallclock()` is for what is about real elapsed time and is
read by people, not stored: the stamps `watch` prints before each line (a fixed NEWSMIRROR_NOW would print the
same instant for every run of a schedule that really runs every 30 minutes).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

ENV = "NEWSMIRROR_NOW"


def utcnow() -> datetime:
    """The run's now: NEWSMIRROR_NOW (ISO 8601, any offset) when set, else the system clock; UTC, whole seconds."""
    fixed = os.environ.get(ENV)
    if fixed:
        moment = datetime.fromisoformat(fixed)
        if moment.tzinfo is None:  # a naive instant is taken as UTC, not as the machine's local time
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).replace(microsecond=0)
    return wallclock()


def wallclock() -> datetime:
    """The system clock, UTC, whole seconds (never NEWSMIRROR_NOW)."""
    return datetime.now(timezone.utc).replace(microsecond=0)
