"""View counts per page and day (the counter's and the log import's), and which access logs were imported."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Callable


class ViewCountsMixin:
    db: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[None]]

    def add_views(self, page: str, day: str, count: int = 1) -> None:
        self.db.execute(
            "INSERT INTO views (page, day, count) VALUES (?, ?, ?) "
            "ON CONFLICT(page, day) DO UPDATE SET count = count + excluded.count",
            (page, day, count),
        )

    def top_pages(self, since_day: str, limit: int) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT page, sum(count) AS n FROM views WHERE day >= ? GROUP BY page ORDER BY n DESC, page LIMIT ?",
            (since_day, limit),
        )
        return [(r["page"], r["n"]) for r in rows]

    def add_view_counts(self, rows: list[tuple[str, str, int]]) -> None:
        """Add (page, day, count) rows in one transaction (the counter's batched flush)."""
        with self.transaction():
            for page, day, count in rows:
                self.add_views(page, day, count)

    def views_since(self, since_day: str) -> list[tuple[str, str, int]]:
        """(page, day, count) for every day from `since_day` on (the hot list's window)."""
        rows = self.db.execute("SELECT page, day, count FROM views WHERE day >= ? ORDER BY page, day", (since_day,))
        return [(r["page"], r["day"], r["count"]) for r in rows]

    def imported_lines(self, fingerprint: str) -> int:
        """How many lines of the access log with this fingerprint were imported before (0: never)."""
        row = self.db.execute("SELECT lines FROM view_imports WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return row["lines"] if row else 0

    def record_import(self, fingerprint: str, lines: int, now: str) -> None:
        self.db.execute(
            "INSERT INTO view_imports (fingerprint, lines, imported) VALUES (?, ?, ?) "
            "ON CONFLICT(fingerprint) DO UPDATE SET lines = excluded.lines, imported = excluded.imported",
            (fingerprint, lines, now),
        )

    def forget_import(self, fingerprint: str) -> None:
        self.db.execute("DELETE FROM view_imports WHERE fingerprint = ?", (fingerprint,))
