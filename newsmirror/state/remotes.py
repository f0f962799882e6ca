"""Push state per configured remote (what it has received, its last error, failures in a row)."""

from __future__ import annotations

import sqlite3


class RemotesMixin:
    """One row per configured remote (by name). `target` is "<edition> <branch> <url>": when it changes the remote
    is treated as new. failures counts failed pushes in a row."""

    db: sqlite3.Connection

    def remote_state(self, name: str) -> sqlite3.Row | None:
        """(name, target, last_pushed, remote_head, last_error, updated, last_success, failures) or None."""
        return self.db.execute("SELECT * FROM remotes WHERE name = ?", (name,)).fetchone()

    def save_remote_pushed(self, name: str, target: str, pushed: str, remote_head: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO remotes (name, target, last_pushed, remote_head, last_error, updated, last_success, "
            "failures) VALUES (?, ?, ?, ?, NULL, ?, ?, 0) ON CONFLICT(name) DO UPDATE SET target = excluded.target, "
            "last_pushed = excluded.last_pushed, remote_head = excluded.remote_head, last_error = NULL, "
            "updated = excluded.updated, last_success = excluded.last_success, failures = 0",
            (name, target, pushed, remote_head, now, now),
        )

    def save_remote_error(self, name: str, target: str, error: str, now: str) -> None:
        self.db.execute(
            "INSERT INTO remotes (name, target, last_error, updated, failures) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT(name) DO UPDATE SET last_error = excluded.last_error, updated = excluded.updated, "
            "failures = failures + 1, "
            "last_pushed = CASE WHEN target IS excluded.target THEN last_pushed END, "
            "remote_head = CASE WHEN target IS excluded.target THEN remote_head END, "
            "target = excluded.target",
            (name, target, error, now),
        )
