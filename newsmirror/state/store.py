"""The state database next to the mirror: its connection, migrations, transactions and settings.

All SQL lives in this package: `Store` gathers the query groups, one module each (articles, channels, runs and
the fetch cache, view counts, images, remotes). Schema changes are numbered migrations (`schema.py`) applied in
order; `PRAGMA user_version` records the last one. Writes happen inside `transaction()`; a run commits its state
only after the mirror is published.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from newsmirror.errors import StateError
from newsmirror.records import ArticleUpdate
from newsmirror.state.articles import ArticlesMixin
from newsmirror.state.channels import ChannelsMixin
from newsmirror.state.images import ImagesMixin
from newsmirror.state.remotes import RemotesMixin
from newsmirror.state.revisions import RevisionQueries
from newsmirror.state.runs import RunsMixin
from newsmirror.state.schema import MIGRATIONS
from newsmirror.state.view_counts import ViewCountsMixin


class Store(ArticlesMixin, ChannelsMixin, RunsMixin, ViewCountsMixin, ImagesMixin, RemotesMixin, RevisionQueries):
    def __init__(self, path: Path | str, timeout: float = 30.0):
        """`timeout`: seconds to wait for another process's lock on the file before "database is locked"."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode = WAL")
            self._depth = 0
            self.migrate()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StateError(self.path, f"state schema {current} is newer than this newsmirror knows "
                                        f"({len(MIGRATIONS)}): use a newer newsmirror with this state file")
        for number in range(current + 1, len(MIGRATIONS) + 1):
            with self.transaction():
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error:  # e.g. disk full: the transaction is still open; end it, keep nothing
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        finally:
            self._depth = 0

    def apply(self, updates: Iterable[ArticleUpdate], run_id: int, now: str) -> None:
        """Write what `decide` decided, each update exactly as it says (in the caller's transaction)."""
        for u in updates:
            if u.kind != "channels":
                self.ensure_article(u.article_id, u.url, u.channel, now, u.source)
            self.add_channels(u.article_id, u.channels, now)
            if u.kind == "removed":
                if u.newly:
                    self.mark_removed(u.article_id, now)
                    self.record_failure(run_id, u.url, u.stage or "", u.reason or "", now)
            elif u.kind == "failed":
                self.mark_failed(u.article_id, u.stage or "", u.reason or "", u.retry_at, now)
                self.record_failure(run_id, u.url, u.stage or "", u.reason or "", now)
            elif u.kind == "not_modified":
                self.mark_seen(u.article_id, u.source_version, now)
            elif u.article is not None:  # new, updated, unchanged
                self.save_article(u.article_id, u.article, u.content_hash or "", u.source_version, now)
                self.save_cache(u.url, u.etag, u.last_modified, now)
                for src, reason in u.image_failures:
                    self.record_failure(run_id, src, "image", reason, now)
                if u.kind == "updated":
                    self.mark_edited(u.article_id, now)

    # -- settings: small named values (caches and markers a run keeps) ----------------------------------

    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def save_setting(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
