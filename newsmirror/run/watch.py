"""`newsmirror watch`: repeat a run at an interval with jitter; a failing run is reported, the next tick tries again.

SIGTERM or SIGINT asks for a clean stop: a sleeping loop exits at once, a running pass finishes first (a second
signal stops at once; a killed run is redone by the next one anyway).
"""

from __future__ import annotations

import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from newsmirror.errors import NewsmirrorError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, default_unit: str = "m") -> float:
    """"30m", "90s", "1.5h", "1d" -> seconds; a bare number is in `default_unit`."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 90s, 30m, 2h, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or default_unit).lower()]


class StopFlag:
    """Set by SIGTERM/SIGINT; `wait` sleeps until the timeout or the flag, whichever comes first."""

    def __init__(self) -> None:
        self.event = threading.Event()

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> None:
        self.event.wait(max(0.0, seconds))

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        def handle(signum: int, _frame: object) -> None:
            if self.event.is_set():  # the second signal: stop now
                raise SystemExit(128 + signum)
            self.event.set()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def watch(run: Callable[[], None], interval: float, runs: int | None = None,
          on_error: Callable[[Exception], None] = print, sleep: Callable[[float], None] | None = None,
          jitter: float = 0.0, stop: StopFlag | None = None, rng: random.Random | None = None) -> int:
    """Call `run` every `interval` seconds (start to start) plus a random 0..`jitter` seconds, until `runs` runs
    or a stop signal; returns the number of runs done."""
    stop = stop or StopFlag()
    sleep = sleep or stop.wait
    rng = rng or random.Random()
    done = 0
    while (runs is None or done < runs) and not stop.stopped:
        started = time.monotonic()
        try:
            run()
        except (NewsmirrorError, OSError) as exc:
            on_error(exc)
        done += 1
        if (runs is not None and done >= runs) or stop.stopped:
            break
        sleep(max(0.0, interval - (time.monotonic() - started)) + (rng.uniform(0, jitter) if jitter > 0 else 0.0))
    return done
