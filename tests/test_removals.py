"""Removals found by re-checks: 404/410 and a redirect to the home page enter the removed list (Markdown, HTML,
Atom), newest first; a re-published article leaves it and its re-appearance is recorded; a not-found or stub
body counts as a removal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from conftest import make_config
from newsmirror.pipeline import run_once
from newsmirror.records import Article
from newsmirror.run.recheck import placeholder_reason, redirected_home
from newsmirror.state.store import Store
from newsmirror.status import status_lines

T = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
ATOM = "{http://www.w3.org/2005/Atom}"


def test_gone_pages_are_told_apart_from_articles():
    old = Article("u", "Harbour news", "A long article. " * 100, "")
    assert placeholder_reason(Article("u", "Page not found", "Sorry, this page does not exist.", ""), old)
    assert placeholder_reason(Article("u", "t", "该文章已被删除。", ""), None)
    assert placeholder_reason(Article("u", "t", "Short.", ""), old)  # a stub where 1,600 characters were
    assert placeholder_reason(Article("u", "t", "A long article. " * 90, ""), old) is None
    brief = Article("u", "Search goes on", "The cause was not found yet.", "")
    assert placeholder_reason(brief, brief) is None  # a brief that always said so is no notice
    assert redirected_home("http://s.test/articles/a.html", "http://s.test/")
    assert not redirected_home("http://s.test/articles/a.html", "http://s.test/articles/b.html")
    assert not redirected_home("http://s.test/", "http://s.test/")


def test_remove_redirect_and_republish_over_runs(demo_site, tmp_path, monkeypatch):
    site = demo_site
    config = make_config(site, tmp_path)
    first, second = [a for a in site._listed if a.serve == "html"][2:4]
    run_once(config, now=T)
    root = config.output_dir
    assert not (root / "indexes/removed.md").exists()  # no list while nothing was removed

    site.set_status(first.path, 410)
    run_once(config, now=T + timedelta(hours=2))
    site.redirect(second.path, "/")
    run_once(config, now=T + timedelta(hours=7))

    listed = (root / "indexes/removed.md").read_text(encoding="utf-8")
    assert listed.index(second.title) < listed.index(first.title)  # newest removal first
    assert "redirected to the site's home page" in listed and "HTTP 410" in listed
    page = (root / f"pages/{first.channel}/{first.slug}.md").read_text(encoding="utf-8")
    assert config.labels.removed in page  # the page stays, with the notice
    html = (root / "site/indexes/removed.html").read_text(encoding="utf-8")
    assert f"{first.slug}.html" in html and f"{second.slug}.html" in html
    feed = ET.fromstring((root / "site/feeds/removed.xml").read_bytes())
    assert [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")] == [second.title, first.title]

    site.set_status(first.path, None)  # re-published
    run_once(config, now=T + timedelta(hours=25))
    listed = (root / "indexes/removed.md").read_text(encoding="utf-8")
    assert first.title not in listed and second.title in listed
    page = (root / f"pages/{first.channel}/{first.slug}.md").read_text(encoding="utf-8")
    assert config.labels.removed not in page
    with Store(config.state_path) as store:
        kinds = [r["kind"] for r in store.db.execute("SELECT kind FROM source_events WHERE article_id = ? "
                                                     "ORDER BY id", (first.slug,))]
        assert kinds == ["removed", "reappeared"]
    monkeypatch.setenv("NEWSMIRROR_NOW", (T + timedelta(hours=25)).isoformat())
    status = "\n".join(status_lines(config))
    assert "at the source in the last 7 days: 0 edited, 2 removed, 1 back after a removal" in status
    assert "re-checks: 0 due now" in status


def test_a_channel_can_keep_its_removals_off_the_list(demo_site, tmp_path):
    site = demo_site
    config = make_config(site, tmp_path)
    gone = next(a for a in site._listed if a.serve == "html")
    channels = dict(config.channels)
    channels[gone.channel] = channels[gone.channel].model_copy(update={"removed_list": False})
    config = config.model_copy(update={"channels": channels})
    run_once(config, now=T)
    site.set_status(gone.path, 404)
    run_once(config, now=T + timedelta(hours=2))
    assert not (config.output_dir / "indexes/removed.md").exists()  # its only removal is not listed
    with Store(config.state_path) as store:
        assert store.article(gone.slug).removed_at is not None  # but recorded, and the page has its notice


def test_the_removed_list_reads_the_removals_index_not_every_article(tmp_path):
    """Every run reads the removed list for the home pages: on a big mirror it must come from the partial index of
    removals (a few rows), not from a scan of every published article (0.35 s at 100,000)."""
    with Store(tmp_path / "state.db") as store:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        store.removed_articles(200)
        store.db.set_trace_callback(None)
        query = next(s for s in statements if "removed_at IS NOT NULL" in s)
        plan = " ".join(row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + query))
    assert "articles_removed" in plan, plan
