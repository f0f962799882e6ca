"""Runs, their failures, and the fetch cache (conditional GET validators per URL)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    at: str
    url: str
    stage: str
    reason: str



class RunsMixin:
    db: sqlite3.Connection

    # -- fetch cache ----------------------------------------------------------------------------------------

    def cache_entry(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM fetch_cache WHERE url = ?", (url,)).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def save_cache(self, url: str, etag: str | None, last_modified: str | None, now: str) -> None:
        if not etag and not last_modified:
            self.db.execute("DELETE FROM fetch_cache WHERE url = ?", (url,))
            return
        self.db.execute(
            "INSERT INTO fetch_cache (url, etag, last_modified, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
            "fetched_at = excluded.fetched_at",
            (url, etag, last_modified, now),
        )

    # -- runs and failures ----------------------------------------------------------------------------------

    def start_run(self, now: str) -> int:
        return self.db.execute("INSERT INTO runs (started) VALUES (?)", (now,)).lastrowid

    def finish_run(self, run_id: int, now: str, new: int, updated: int, unchanged: int, failed: int,
                   commit_id: str | None) -> None:
        self.db.execute(
            "UPDATE runs SET finished = ?, new = ?, updated = ?, unchanged = ?, failed = ?, commit_id = ? "
            "WHERE id = ?",
            (now, new, updated, unchanged, failed, commit_id, run_id),
        )

    def record_failure(self, run_id: int | None, url: str, stage: str, reason: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO failures (run_id, at, url, stage, reason) VALUES (?, ?, ?, ?, ?)",
            (run_id, now, url, stage, reason),
        )

    def recent_failures(self, limit: int = 20) -> list[Failure]:
        rows = self.db.execute(
            "SELECT at, url, stage, reason FROM failures ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [Failure(r["at"], r["url"], r["stage"], r["reason"]) for r in rows]

    def last_run(self) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
