"""`newsmirror watch`: repeat a run at a fixed interval; a failing run is reported, the next tick tries again."""

from __future__ import annotations

import time
from collections.abc import Callable

from newsmirror.records import NewsmirrorError


def watch(run: Callable[[], None], interval: float, runs: int | None = None,
          on_error: Callable[[Exception], None] = print, sleep: Callable[[float], None] = time.sleep) -> int:
    """Call `run` every `interval` seconds (measured start to start) until `runs` runs; returns runs done."""
    done = 0
    while runs is None or done < runs:
        started = time.monotonic()
        try:
            run()
        except (NewsmirrorError, OSError) as exc:
            on_error(exc)
        done += 1
        if runs is not None and done >= runs:
            break
        sleep(max(0.0, interval - (time.monotonic() - started)))
    return done
