"""Re-checks, versions and removals: the queries behind the re-check stage and the revisions and removed lists.

    rechecks       article -> its next conditional GET (`due`) and which configured delay that is (`step`)
    revisions      every text an article had at its source: number 1 is the first, kept once it was edited
    source_events  when a re-check found an article edited, removed, or back after a removal
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from newsmirror.records import Article, ArticleState
from newsmirror.state.articles import article_from_json, article_to_json


@dataclass(frozen=True)
class Revision:
    number: int  # 1 is the first text seen
    seen: str  # ISO time this text was first seen
    article: Article


@dataclass(frozen=True)
class Due:
    state: ArticleState
    step: int  # which of the configured delays after first seen this check is


class RevisionQueries:
    """Mixed into `Store`; every method reads or writes `self.db` (in the caller's transaction for writes)."""

    db: sqlite3.Connection

    # -- the re-check schedule ----------------------------------------------------------------------------------

    def schedule_recheck(self, article_id: str, due: str, step: int) -> None:
        self.db.execute("INSERT INTO rechecks (article_id, due, step) VALUES (?, ?, ?) ON CONFLICT(article_id) "
                        "DO UPDATE SET due = excluded.due, step = excluded.step", (article_id, due, step))

    def end_rechecks(self, article_id: str) -> None:
        self.db.execute("DELETE FROM rechecks WHERE article_id = ?", (article_id,))

    def due_rechecks(self, now: str, limit: int) -> list[Due]:
        """Published articles whose re-check is due at `now`, longest waiting first, at most `limit` (an index
        range: a run with nothing due reads no article)."""
        rows = self.db.execute("SELECT article_id, step FROM rechecks WHERE due <= ? ORDER BY due, article_id "
                               "LIMIT ?", (now, limit)).fetchall()
        if not rows:
            return []
        steps = {r["article_id"]: r["step"] for r in rows}
        marks = ",".join("?" * len(steps))
        states = {s.id: s for s in self._article_states(f"WHERE a.id IN ({marks})", tuple(steps))}  # type: ignore[attr-defined]
        return [Due(states[r["article_id"]], r["step"]) for r in rows if r["article_id"] in states]

    def recheck_backlog(self, now: str) -> tuple[int, int]:
        """(re-checks due now, re-checks scheduled in all)."""
        due = self.db.execute("SELECT count(*) FROM rechecks WHERE due <= ?", (now,)).fetchone()[0]
        return due, self.db.execute("SELECT count(*) FROM rechecks").fetchone()[0]

    # -- versions -----------------------------------------------------------------------------------------------

    def add_revision(self, article_id: str, seen: str, article: Article) -> int:
        """Keep `article` as the article's next version; returns its number."""
        number = self.revision_count(article_id) + 1
        self.db.execute("INSERT INTO revisions (article_id, number, seen, record) VALUES (?, ?, ?, ?)",
                        (article_id, number, seen, article_to_json(article)))
        return number

    def revision_count(self, article_id: str) -> int:
        return self.db.execute("SELECT count(*) FROM revisions WHERE article_id = ?", (article_id,)).fetchone()[0]

    def revisions(self, article_id: str) -> list[Revision]:
        """Every kept version, oldest first."""
        rows = self.db.execute("SELECT number, seen, record FROM revisions WHERE article_id = ? ORDER BY number",
                               (article_id,))
        return [Revision(r["number"], r["seen"], article_from_json(r["record"])) for r in rows]

    # -- what happened at the source ------------------------------------------------------------------------------

    def record_source_event(self, article_id: str, at: str, kind: str, reason: str = "") -> None:
        """kind: edited | removed | reappeared."""
        self.db.execute("INSERT INTO source_events (article_id, at, kind, reason) VALUES (?, ?, ?, ?)",
                        (article_id, at, kind, reason))

    def source_event_counts(self, since: str) -> dict[str, int]:
        rows = self.db.execute("SELECT kind, count(*) AS n FROM source_events WHERE at >= ? GROUP BY kind", (since,))
        return {r["kind"]: r["n"] for r in rows}

    def removal_reasons(self, article_ids: list[str]) -> dict[str, str]:
        """The reason of each article's latest removal event."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        rows = self.db.execute(f"SELECT article_id, reason FROM source_events WHERE kind = 'removed' AND "
                               f"article_id IN ({marks}) ORDER BY id", tuple(article_ids))
        return {r["article_id"]: r["reason"] for r in rows}

    def removed_articles(self, limit: int) -> list[ArticleState]:
        """Published articles whose original is gone at the source, newest removal first. The unary `+` keeps
        SQLite on the partial index of removals (a few rows) rather than the status index (every article)."""
        return self._article_states(  # type: ignore[attr-defined]
            "WHERE a.removed_at IS NOT NULL AND +a.status = 'ok' ORDER BY a.removed_at DESC, a.id LIMIT ?", (limit,))
