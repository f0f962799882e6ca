"""Channel queries for incremental rendering: one channel's entries a slice at a time, never the whole mirror."""

from __future__ import annotations

from typing import Iterable, Iterator

from newsmirror.config import Config
from newsmirror.records import ArticleState
from newsmirror.state.articles import ArticleRows


class ChannelsMixin(ArticleRows):
    """Which channels list which articles, and one channel's entries in pages."""

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

    def counts(self) -> dict[str, dict[str, int]]:
        rows = self.db.execute(
            "SELECT c.channel, a.status, count(*) AS n FROM article_channels c JOIN articles a ON a.id = c.article_id "
            "GROUP BY c.channel, a.status"
        )
        result: dict[str, dict[str, int]] = {}
        for r in rows:
            result.setdefault(r["channel"], {})[r["status"]] = r["n"]
        return result


def all_channels(config: Config, store: ChannelsMixin) -> list[str]:
    """Every configured channel, then those only the state still lists (a channel removed from the config)."""
    names = config.channel_names()
    return names + sorted(c for c in store.channel_names() if c not in names)
