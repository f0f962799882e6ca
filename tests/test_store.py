import sqlite3

import pytest

from newsmirror.records import Article, ImageRef
from newsmirror.state.articles import article_from_json, article_to_json
from newsmirror.state.schema import MIGRATIONS
from newsmirror.state.store import Store


def test_migrations_numbered_and_idempotent(tmp_path):
    path = tmp_path / "state.db"
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
    with Store(path) as store:  # reopening applies nothing twice
        assert store.schema_version == len(MIGRATIONS)
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"articles", "article_channels", "fetch_cache", "images", "views", "runs", "failures", "remotes"} <= tables


def test_transaction_rolls_back_everything(tmp_path):
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.ensure_article("a", "https://n.example/a", "world", "2026-01-01")
                raise RuntimeError("killed")
        assert store.article("a") is None


def test_article_record_round_trip():
    article = Article(url="https://n.example/a", title="标题", text="Text", body_html="<p>Text</p>",
                      published="2026-01-02T03:04:05Z", lead_image=ImageRef("https://i.example/a.jpg", "alt", "cap"),
                      images=(ImageRef("https://i.example/a.jpg", "alt", "cap"),))
    assert article_from_json(article_to_json(article)) == article


def test_failure_keeps_published_article_ok_and_counts_views():
    with Store(":memory:") as store, store.transaction():
        store.ensure_article("a", "https://n.example/a", "world", "t0")
        store.mark_failed("a", "fetch", "HTTP 500", "t1", "t0")
        assert store.article("a").status == "failed" and store.article("a").attempts == 1
        store.save_article("a", Article("https://n.example/a", "T", "x", "<p>x</p>"), "h", None, "t2")
        store.mark_failed("a", "fetch", "HTTP 503", "t3", "t2")
        assert store.article("a").status == "ok"  # the page stays published
        store.add_views("pages/world/a.md", "2026-11-25", 2)
        store.add_views("pages/world/a.md", "2026-11-25", 1)
        assert store.top_pages("2026-11-01", 5) == [("pages/world/a.md", 3)]
