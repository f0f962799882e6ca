"""Article rows: what plan and render read about each article, and the writes `Store.apply` makes for it.

Each article's extracted record is kept as JSON (`article_to_json`), so pages can be re-rendered without fetching.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Iterable

from newsmirror.records import Article, ArticleState, ImageRef


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



class ArticleRows:
    """Reads `ArticleState`s; shared by the article and the channel queries."""

    db: sqlite3.Connection

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


class ArticlesMixin(ArticleRows):
    """Queries and writes of single articles (by id or URL), retention and the URL map."""

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

    def page_of_url(self, url: str) -> tuple[str, str] | None:
        """(article id, primary channel) of the page for a canonical URL, as in `url_map`."""
        row = self.db.execute("SELECT id, channel FROM articles WHERE url = ? AND status = 'ok' AND retired IS NULL",
                              (url,)).fetchone()
        return (row["id"], row["channel"]) if row else None

    def retired_at(self, stamp: str) -> list[str]:
        return [r["id"] for r in self.db.execute("SELECT id FROM articles WHERE retired = ?", (stamp,))]
