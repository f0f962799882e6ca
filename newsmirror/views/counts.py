"""Counts in memory per day and page, and the thread that writes them to the state database."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from newsmirror.config import Config
from newsmirror.errors import Stage, StateError
from newsmirror.state.store import Store
from newsmirror.views.targets import load_targets


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


class Writer:
    """Owns the SQLite connection on one thread: flushes counts, reloads targets."""

    def __init__(self, config: Config):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counter-writer")
        self._store: Store | None = None

    def _db(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.state_path)
        return self._store

    def flush(self, counts: dict[str, dict[str, int]]) -> Future:
        return self.pool.submit(self._state, self._flush, counts)

    def _flush(self, counts: dict[str, dict[str, int]]) -> int:
        store = self._db()
        rows = [(page, day, n) for day, pages in counts.items() for page, n in pages.items() if n]
        if rows:
            store.add_view_counts(rows)
        return sum(n for _, _, n in rows)

    def targets(self) -> Future:
        return self.pool.submit(self._state, lambda: load_targets(self.config, self._db()))

    def _state(self, work: Callable[..., Any], *args: object) -> Any:
        """`work(*args)`, its SQLite errors as one line naming the state file (never a traceback)."""
        try:
            return work(*args)
        except sqlite3.Error as exc:
            raise StateError.from_sqlite(self.config.state_path, exc, Stage.STATE) from exc

    def close(self) -> None:
        def close_db() -> None:
            if self._store is not None:
                self._store.close()
        self.pool.submit(close_db).result()
        self.pool.shutdown()



def merge_counts(into: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    """Add day -> page -> views `counts` into `into` (counts a failed flush hands back)."""
    for day, pages in counts.items():
        day_counts = into.setdefault(day, {})
        for page, n in pages.items():
            day_counts[page] = day_counts.get(page, 0) + n
