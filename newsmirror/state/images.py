"""Localised images: source URL -> content-addressed asset, failed attempts, and which article shows which image."""

from __future__ import annotations

import sqlite3


class ImagesMixin:
    """images: source URL -> content-addressed asset (status 'ok'), or the last failure (status 'failed', attempts
    counts failures in a row). image_uses: which article (by URL) shows which source image."""

    db: sqlite3.Connection

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
