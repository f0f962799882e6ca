"""The hot list: ranking with a window and time decay (pure), and hot_list over a real SQLite state."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from newsmirror.views import hot
from newsmirror.config import parse_config
from newsmirror.records import Article
from newsmirror.views.hot import hot_list
from newsmirror.state.store import Store

TODAY = date(2026, 11, 26)


def test_article_id_of_every_page_kind():
    assert hot.article_id("pages/world/abc123.md") == "abc123"
    assert hot.article_id("site/pages/world/abc123.html") == "abc123"
    assert hot.article_id("site/zh-hant/pages/world/abc123.html") == "abc123"
    assert hot.article_id("pages/world/abc123.md?abc123") == "abc123"
    assert hot.article_id("indexes/world.md") is None
    assert hot.article_id("README.md") is None


def test_views_of_one_article_add_up_across_its_pages():
    rows = [("pages/w/a.md", "2026-11-26", 3), ("site/pages/w/a.html", "2026-11-26", 4),
            ("site/zh-hant/pages/w/a.html", "2026-11-26", 1), ("pages/w/b.md", "2026-11-26", 7)]
    assert hot.scores(rows, TODAY, 7, 0) == {"a": 8.0, "b": 7.0}
    assert hot.rank(rows, TODAY, 7, 0) == ["a", "b"]


def test_decay_lets_recent_views_beat_older_ones():
    rows = [("pages/w/old.md", "2026-11-22", 100),  # 4 days ago
            ("pages/w/new.md", "2026-11-26", 40)]
    assert hot.rank(rows, TODAY, 7, 0) == ["old", "new"]  # no decay: raw sums
    scores = hot.scores(rows, TODAY, 7, 2.0)  # half-life 2 days: 100 views 4 days ago weigh 25
    assert scores["old"] == pytest.approx(25.0) and scores["new"] == pytest.approx(40.0)
    assert hot.rank(rows, TODAY, 7, 2.0) == ["new", "old"]


def test_window_excludes_older_and_future_days_and_junk_rows():
    rows = [("pages/w/a.md", "2026-11-20", 5),  # day 1 of a 7-day window ending today
            ("pages/w/b.md", "2026-11-19", 500),  # 8 days: outside
            ("pages/w/c.md", "2026-11-27", 500),  # tomorrow (a clock ahead): ignored
            ("pages/w/d.md", "not-a-day", 500), ("indexes/hot.md", "2026-11-26", 500),
            ("pages/w/e.md", "2026-11-26", 0)]
    assert hot.rank(rows, TODAY, 7, 0) == ["a"]
    assert hot.window_start(TODAY, 7) == date(2026, 11, 20)
    assert hot.window_start(TODAY, 1) == TODAY


def test_ties_rank_by_id():
    rows = [("pages/w/b.md", "2026-11-26", 2), ("pages/w/a.md", "2026-11-26", 2)]
    assert hot.rank(rows, TODAY, 7, 2.0) == ["a", "b"]


def test_hot_list_reads_state_keeps_only_published_articles_and_hot_size(tmp_path):
    text = '[mirror]\nstate = "state.db"\nhot_size = 2\nhot_days = 3\n[counter]\nhot_half_life_days = 1.0\n'
    config = parse_config(text, tmp_path / "newsmirror.toml", tmp_path)
    stamp = "2026-11-01T00:00:00+00:00"
    with Store(config.state_path) as store:
        for ident in ("a", "b", "c", "gone"):
            url = f"https://news.example.org/{ident}"
            store.ensure_article(ident, url, "world", stamp)
            store.add_channels(ident, ("world",), stamp)
            if ident != "gone":  # never published (failed): not listed however often viewed
                store.save_article(ident, Article(url, ident.upper(), "t", "<p>t</p>"), "h", None, stamp)
        store.add_view_counts([
            ("pages/world/a.md", "2026-11-24", 40),  # 2 days ago: weighs 10 with a one-day half-life
            ("site/pages/world/b.html", "2026-11-26", 12),
            ("pages/world/c.md", "2026-11-25", 11), ("site/pages/world/c.html", "2026-11-25", 11),  # 22 -> 11
            ("pages/world/gone.md", "2026-11-26", 1000),
            ("pages/world/a.md", "2026-11-20", 10_000),  # outside the 3-day window
        ])
        now = datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc)
        assert [s.id for s in hot_list(config, store, now)] == ["b", "c"]
        wider = config.model_copy(update={"mirror": config.mirror.model_copy(update={"hot_size": 5})})
        assert [s.id for s in hot_list(wider, store, now)] == ["b", "c", "a"]
        # a clock in another zone counts by the UTC day: 01:00 on the 27th at +08:00 is still the 26th in UTC
        from datetime import timedelta
        east = datetime(2026, 11, 27, 1, 0, tzinfo=timezone(timedelta(hours=8)))
        assert [s.id for s in hot_list(wider, store, east)] == ["b", "c", "a"]


def test_pixel_views_reach_the_hot_list_the_home_pages_and_both_editions(demo_site, tmp_path):
    """The whole loop: pages embed the pixel, the counter counts requests for it, the next run ranks them."""
    import re
    import urllib.request
    from urllib.parse import urlsplit

    from conftest import make_config
    from test_counter import Running

    from newsmirror.views.counter import CounterOptions
    from newsmirror.pipeline import RunRequest, run_once
    from newsmirror.progress import QUIET, Reporter

    config = make_config(demo_site, tmp_path, counter_pixel="https://counter.example/p/{path}")
    run_once(config, Reporter(QUIET))
    root = config.output_dir
    with Store(config.state_path) as store:
        first, second = store.published_articles()[2:4]
    running = Running(config, CounterOptions(flush_seconds=0.2))
    try:
        for state, times in ((first, 2), (second, 5)):
            md = (root / f"pages/{state.channel}/{state.id}.md").read_text("utf-8")
            html = (root / f"site/pages/{state.channel}/{state.id}.html").read_text("utf-8")
            for page in (md, html):
                pixel = re.search(r'<img src="(https://counter\.example/p/[^"]+)"', page)[1]
                for _ in range(times):
                    with urllib.request.urlopen(f"http://127.0.0.1:{running.port}{urlsplit(pixel).path}") as reply:
                        assert reply.headers["Cache-Control"] == "no-store"
    finally:
        running.stop()
    run_once(config, Reporter(QUIET), RunRequest(only=()))
    hot_md = (root / "indexes/hot.md").read_text("utf-8")
    assert hot_md.index(f"{second.id}.md") < hot_md.index(f"{first.id}.md")
    home = (root / "README.md").read_text("utf-8")
    section = home.split(f"## [{config.labels.hot}](indexes/hot.md)", 1)[1].split("\n## ", 1)[0]
    assert section.index(f"{second.id}.md") < section.index(f"{first.id}.md")
    site_home = (root / "site/index.html").read_text("utf-8")
    hot_html = site_home.split('<ol class="ls">', 1)[1].split("</ol>", 1)[0]
    assert hot_html.index(f"{second.id}.html") < hot_html.index(f"{first.id}.html")
    assert f"{second.id}.html" in (root / "site/indexes/hot.html").read_text("utf-8")
