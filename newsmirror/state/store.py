"""All SQL lives here: the state database next to the mirror (articles, fetch cache, runs, failures, views).

Schema changes are numbered migrations (`schema.py`) applied in order; `PRAGMA user_version` records the last one.
Writes happen inside `transaction()`; a run commits its state only after the mirror is published.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from newsmirror.records import Article, ImageRef, NewsmirrorError, Stage
from newsmirror.state.schema import MIGRATIONS

if TYPE_CHECKING:  # decide imports this module (ArticleState); only the type flows back
    from newsmirror.run.decide import ArticleUpdate


@dataclass(frozen=True)
class ArticleState:
    """What plan and render need to know about a stored article."""

    id: str
    url: str
    channel: str
    channels: tuple[str, ...]
    title: str | None
    published: str | None
    status: str
    attempts: int
    next_retry: str | None
    source_version: str | None
    content_hash: str | None
    first_seen: str
    retired: str | None = None  # when retention removed its page (the entry then links to the original URL)
    removed_at: str | None = None  # when the original answered 404/410 (the page stays, with a notice)
    edited_at: str | None = None  # when a re-fetch last found the original edited
    source: str | None = None  # the configured source that announced it ("" for `add`; None: not recorded)

    @property
    def date(self) -> str:
        return self.published or self.first_seen


@dataclass(frozen=True)
class Failure:
    at: str
    url: str
    stage: str
    reason: str


def article_to_json(article: Article) -> str:
    def image(ref: ImageRef | None) -> dict | None:
        return None if ref is None else {"src": ref.src, "alt": ref.alt, "caption": ref.caption}

    data = {
        "url": article.url, "title": article.title, "text": article.text, "body_html": article.body_html,
        "published": article.published, "updated": article.updated, "author": article.author,
        "lead_image": image(article.lead_image), "images": [image(i) for i in article.images],
        "language": article.language,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def article_from_json(text: str) -> Article:
    data = json.loads(text)
    lead = data.pop("lead_image")
    images = data.pop("images")
    return Article(
        **data,
        lead_image=ImageRef(**lead) if lead else None,
        images=tuple(ImageRef(**i) for i in images),
    )


class StateError(NewsmirrorError):
    """The state database cannot be used (unreadable, locked, full, or from a newer newsmirror)."""

    def __init__(self, path: str, reason: str, stage: Stage = Stage.STATE):
        super().__init__(path, stage, reason)


class Store:
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

    # -- articles -------------------------------------------------------------------------------------------

    def _article_states(self, where: str = "", params: tuple = ()) -> list[ArticleState]:
        rows = self.db.execute(
            "SELECT a.*, (SELECT group_concat(channel, ' ') FROM "
            "  (SELECT channel FROM article_channels c WHERE c.article_id = a.id ORDER BY added, channel)) AS chans "
            f"FROM articles a {where}",
            params,
        ).fetchall()
        return [
            ArticleState(
                id=r["id"], url=r["url"], channel=r["channel"],
                channels=tuple((r["chans"] or "").split()), title=r["title"], published=r["published"],
                status=r["status"], attempts=r["attempts"], next_retry=r["next_retry"],
                source_version=r["source_version"], content_hash=r["content_hash"], first_seen=r["first_seen"],
                retired=r["retired"], removed_at=r["removed_at"], edited_at=r["edited_at"], source=r["source"],
            )
            for r in rows
        ]

    def articles_by_url(self, urls: list[str]) -> dict[str, ArticleState]:
        found: dict[str, ArticleState] = {}
        for start in range(0, len(urls), 500):
            chunk = urls[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for state in self._article_states(f"WHERE a.url IN ({marks})", tuple(chunk)):
                found[state.url] = state
        return found

    def article(self, article_id: str) -> ArticleState | None:
        states = self._article_states("WHERE a.id = ?", (article_id,))
        return states[0] if states else None

    def failed_articles(self) -> list[ArticleState]:
        return self._article_states("WHERE a.status IN ('pending', 'failed')")  # != 'ok' would read every row

    def published_articles(self, channel: str | None = None) -> list[ArticleState]:
        """Articles that have a page, newest first (by published date, then first seen, then id)."""
        order = "ORDER BY coalesce(a.published, a.first_seen) DESC, a.id DESC"
        if channel is None:
            return self._article_states(f"WHERE a.status = 'ok' {order}")
        return self._article_states(
            "WHERE a.status = 'ok' AND a.id IN (SELECT article_id FROM article_channels WHERE channel = ?) "
            + order, (channel,)
        )

    def articles_linking_to(self, urls: list[str]) -> set[str]:
        """Ids of pages still in the mirror whose article text mentions one of `urls` (to re-render their links);
        one pass over the records, only in a run that retires something."""
        if not urls:
            return set()
        rows = self.db.execute("SELECT id, record FROM articles WHERE status = 'ok' AND retired IS NULL")
        return {r["id"] for r in rows if r["record"] and any(url in r["record"] for url in urls)}

    def retention_candidates(self, channel: str, keep_newest: int | None, before_day: str | None
                             ) -> list[ArticleState]:
        """Pages living in `channel`, not yet retired, beyond its newest `keep_newest` or dated before
        `before_day` (YYYY-MM-DD); positions count every published page of the channel, newest first."""
        return self._article_states(
            "JOIN (SELECT id AS ranked_id, row_number() OVER (ORDER BY coalesce(published, first_seen) DESC, id DESC)"
            "  - 1 AS position FROM articles WHERE status = 'ok' AND channel = ?) r ON r.ranked_id = a.id "
            "WHERE a.retired IS NULL AND ((? IS NOT NULL AND r.position >= ?) "
            "  OR (? IS NOT NULL AND substr(coalesce(a.published, a.first_seen), 1, 10) < ?)) ORDER BY a.id",
            (channel, keep_newest, keep_newest, before_day, before_day))

    def retire(self, article_ids: list[str], now: str) -> None:
        self.db.executemany("UPDATE articles SET retired = ? WHERE id = ? AND retired IS NULL",
                            [(now, article_id) for article_id in article_ids])

    def ids_in_use(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """Stored id -> URL; only for `ids` when given (what a run's new candidates would take)."""
        if ids is None:
            return {r["id"]: r["url"] for r in self.db.execute("SELECT id, url FROM articles")}
        wanted, found = sorted(set(ids)), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.db.execute(f"SELECT id, url FROM articles WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            found.update({r["id"]: r["url"] for r in rows})
        return found

    def ensure_article(self, article_id: str, url: str, channel: str, now: str, source: str | None = None) -> None:
        """Create the article's row (once); `source` is kept from the first source that names it."""
        self.db.execute(
            "INSERT INTO articles (id, url, channel, first_seen, last_seen, source) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen, "
            "source = coalesce(articles.source, excluded.source)",
            (article_id, url, channel, now, now, source),
        )

    def add_channels(self, article_id: str, channels: tuple[str, ...], now: str) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO article_channels (article_id, channel, added) VALUES (?, ?, ?)",
            [(article_id, c, now) for c in channels],
        )

    def save_article(self, article_id: str, article: Article, content_hash: str, source_version: str | None,
                     now: str) -> None:
        self.db.execute(
            "UPDATE articles SET title = ?, published = ?, updated = ?, content_hash = ?, record = ?, "
            "status = 'ok', attempts = 0, last_error = NULL, last_stage = NULL, next_retry = NULL, "
            "source_version = coalesce(?, source_version), last_seen = ?, removed_at = NULL, "
            "last_changed = CASE WHEN content_hash IS ? THEN last_changed ELSE ? END WHERE id = ?",
            (article.title, article.published, article.updated, content_hash, article_to_json(article),
             source_version, now, content_hash, now, article_id),
        )

    def apply(self, updates: Iterable["ArticleUpdate"], run_id: int, now: str) -> None:
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

    def mark_removed(self, article_id: str, now: str) -> bool:
        """The original is gone at its source: keep the page, note when (the first time). True if newly noted."""
        return self.db.execute(
            "UPDATE articles SET removed_at = ?, last_seen = ?, attempts = 0, next_retry = NULL "
            "WHERE id = ? AND removed_at IS NULL", (now, now, article_id),
        ).rowcount > 0

    def mark_edited(self, article_id: str, now: str) -> None:
        self.db.execute("UPDATE articles SET edited_at = ? WHERE id = ?", (now, article_id))

    def mark_seen(self, article_id: str, source_version: str | None, now: str) -> None:
        self.db.execute(
            "UPDATE articles SET last_seen = ?, source_version = coalesce(?, source_version) WHERE id = ?",
            (now, source_version, article_id),
        )

    def mark_failed(self, article_id: str, stage: str, reason: str, next_retry: str | None, now: str,
                    unpublish: bool = False) -> None:
        """A failed attempt. A published article stays published (its page stays) unless `unpublish`: its
        page could not be made, so it leaves the lists until a retry succeeds."""
        self.db.execute(
            "UPDATE articles SET status = CASE WHEN status = 'ok' AND NOT ? THEN 'ok' ELSE 'failed' END, "
            "attempts = attempts + 1, last_error = ?, last_stage = ?, next_retry = ?, last_seen = ? WHERE id = ?",
            (unpublish, reason, stage, next_retry, now, article_id),
        )

    def article_record(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT record FROM articles WHERE id = ?", (article_id,)).fetchone()
        return article_from_json(row["record"]) if row and row["record"] else None

    def url_map(self) -> dict[str, tuple[str, str]]:
        """Canonical URL -> (article id, primary channel) for every article with a page."""
        rows = self.db.execute("SELECT url, id, channel FROM articles WHERE status = 'ok' AND retired IS NULL")
        return {r["url"]: (r["id"], r["channel"]) for r in rows}

    # -- incremental rendering: one channel's entries a slice at a time, never the whole mirror ---------------

    # EXISTS probes article_channels per row of the ordered index (an IN list is rebuilt for every query); a range
    # on the key alone (SQLite uses no index for a row-value range on an expression) starts the scan in place
    _IN_CHANNEL = ("a.status = 'ok' AND EXISTS (SELECT 1 FROM article_channels c WHERE c.article_id = a.id "
                   "AND c.channel = ?)")
    _CHANNEL_JOIN = ("FROM article_channels c JOIN articles a INDEXED BY articles_id_order ON a.id = c.article_id "
                     "WHERE c.channel = ? AND a.status = 'ok'")

    def published_batches(self, size: int = 500) -> Iterator[list[ArticleState]]:
        """`published_articles()` a batch at a time (keyset pagination: never the whole mirror in memory)."""
        order = "ORDER BY coalesce(a.published, a.first_seen) DESC, a.id DESC LIMIT ?"
        batch = self._article_states(f"WHERE a.status = 'ok' {order}", (size,))
        while batch:
            yield batch
            last = batch[-1]
            batch = self._article_states(f"WHERE a.status = 'ok' AND (coalesce(a.published, a.first_seen), a.id) "
                                         f"< (?, ?) {order}", (last.first_seen if last.published is None else last.published, last.id, size))

    def channel_names(self) -> list[str]:
        """Every channel that lists an article (read from the channel index, not by counting articles)."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT channel FROM article_channels ORDER BY channel")]

    def channel_count(self, channel: str) -> int:
        return self.db.execute(f"SELECT count(*) {self._CHANNEL_JOIN}", (channel,)).fetchone()[0]

    def channel_slice(self, channel: str, offset: int, limit: int) -> list[ArticleState]:
        """Entries `offset` .. `offset + limit` of `published_articles(channel)` (newest first)."""
        return self._article_states(f"WHERE {self._IN_CHANNEL} ORDER BY coalesce(a.published, a.first_seen) DESC, "
                                    "a.id DESC LIMIT ? OFFSET ?", (channel, limit, offset))

    def channel_newer(self, channel: str, key: str, article_id: str, limit: int) -> list[ArticleState]:
        """The `limit` entries just newer than (key, id) in the channel, oldest first (keyset paging)."""
        return self._article_states(f"WHERE {self._IN_CHANNEL} AND coalesce(a.published, a.first_seen) >= ? AND "
                                    "(coalesce(a.published, a.first_seen), a.id) > (?, ?) "
                                    "ORDER BY coalesce(a.published, a.first_seen), a.id LIMIT ?",
                                    (channel, key, key, article_id, limit))

    def channel_position(self, channel: str, article_id: str) -> int | None:
        """How many of the channel's entries are newer than this article (its index, newest first)."""
        row = self.db.execute("SELECT coalesce(published, first_seen) AS k FROM articles WHERE id = ?",
                              (article_id,)).fetchone()
        if row is None:
            return None
        return self.db.execute(f"SELECT count(*) FROM articles a WHERE {self._IN_CHANNEL} AND "
                               "coalesce(a.published, a.first_seen) >= ? AND "
                               "(coalesce(a.published, a.first_seen), a.id) > (?, ?)",
                               (channel, row["k"], row["k"], article_id)).fetchone()[0]

    def channels_of(self, ids: Iterable[str]) -> dict[str, set[str]]:
        """Channel -> which of `ids` it lists."""
        found: dict[str, set[str]] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.db.execute("SELECT article_id, channel FROM article_channels WHERE article_id IN "
                                   f"({','.join('?' * len(chunk))})", chunk)
            for r in rows:
                found.setdefault(r["channel"], set()).add(r["article_id"])
        return found

    def page_of_url(self, url: str) -> tuple[str, str] | None:
        """(article id, primary channel) of the page for a canonical URL, as in `url_map`."""
        row = self.db.execute("SELECT id, channel FROM articles WHERE url = ? AND status = 'ok' AND retired IS NULL",
                              (url,)).fetchone()
        return (row["id"], row["channel"]) if row else None

    def retired_at(self, stamp: str) -> list[str]:
        return [r["id"] for r in self.db.execute("SELECT id FROM articles WHERE retired = ?", (stamp,))]

    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def save_setting(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def counts(self) -> dict[str, dict[str, int]]:
        rows = self.db.execute(
            "SELECT c.channel, a.status, count(*) AS n FROM article_channels c JOIN articles a ON a.id = c.article_id "
            "GROUP BY c.channel, a.status"
        )
        result: dict[str, dict[str, int]] = {}
        for r in rows:
            result.setdefault(r["channel"], {})[r["status"]] = r["n"]
        return result

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

    # -- views ----------------------------------------------------------------------------------------------

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

    # -- images ---------------------------------------------------------------------------------------------
    # images: source URL -> content-addressed asset (status 'ok'), or the last failure (status 'failed', attempts
    # counts failures in a row). image_uses: which article (by URL) shows which source image.

    def image_assets(self, srcs: list[str]) -> dict[str, str]:
        """Source URL -> asset path, for those of `srcs` already localised."""
        found: dict[str, str] = {}
        for start in range(0, len(srcs), 500):
            chunk = srcs[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT src, asset_path FROM images WHERE status = 'ok' AND asset_path IS NOT NULL "
                f"AND src IN ({marks})", tuple(chunk),
            )
            found.update((r["src"], r["asset_path"]) for r in rows)
        return found

    def save_image(self, src: str, asset_path: str, sha256: str) -> None:
        self.db.execute(
            "INSERT INTO images (src, asset_path, sha256, status, attempts, last_error) "
            "VALUES (?, ?, ?, 'ok', 0, NULL) ON CONFLICT(src) DO UPDATE SET asset_path = excluded.asset_path, "
            "sha256 = excluded.sha256, status = 'ok', attempts = 0, last_error = NULL",
            (src, asset_path, sha256),
        )

    def fail_image(self, src: str, error: str) -> None:
        """Record one more failed attempt; a localised image keeps its old asset path but is no longer used."""
        self.db.execute(
            "INSERT INTO images (src, status, attempts, last_error) VALUES (?, 'failed', 1, ?) "
            "ON CONFLICT(src) DO UPDATE SET status = 'failed', attempts = attempts + 1, "
            "last_error = excluded.last_error",
            (src, error),
        )

    def image_state(self, src: str) -> sqlite3.Row | None:
        """The images row (src, asset_path, sha256, status, attempts, last_error) or None."""
        return self.db.execute("SELECT * FROM images WHERE src = ?", (src,)).fetchone()

    def set_image_uses(self, article_url: str, srcs: list[str]) -> None:
        """The source images `article_url` still shows by their source URL (replaces the previous list)."""
        self.db.execute("DELETE FROM image_uses WHERE article_url = ?", (article_url,))
        self.db.executemany(
            "INSERT OR IGNORE INTO image_uses (src, article_url) VALUES (?, ?)", [(s, article_url) for s in srcs]
        )

    def articles_with_failed_images(self, max_attempts: int) -> list[str]:
        """Ids of published articles showing an image whose localisation failed fewer than `max_attempts` times:
        re-localise their stored record (`article_record`), save it and re-render the page."""
        rows = self.db.execute(
            "SELECT DISTINCT a.id FROM image_uses u JOIN images i ON i.src = u.src "
            "JOIN articles a ON a.url = u.article_url "
            "WHERE i.status = 'failed' AND i.attempts < ? AND a.status = 'ok' ORDER BY a.id",
            (max_attempts,),
        )
        return [r["id"] for r in rows]

    def failed_images(self, limit: int = 20) -> list[sqlite3.Row]:
        """Images that failed, most attempts first: rows of (src, attempts, last_error)."""
        return self.db.execute(
            "SELECT src, attempts, last_error FROM images WHERE status = 'failed' "
            "ORDER BY attempts DESC, src LIMIT ?", (limit,),
        ).fetchall()

    # -- remotes --------------------------------------------------------------------------------------------
    # One row per configured remote (by name). `target` is "<edition> <branch> <url>": when it changes the remote
    # is treated as new. failures counts failed pushes in a row.

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
