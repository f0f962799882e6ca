"""Re-checks and versions: the schedule, churn that is no edit, edits and reverts kept as versions, the revisions
pages (word-level diff; characters for Chinese), over several runs of the demo site with a fixed clock."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from conftest import make_config
from test_html_browser import VIEWPORTS, Served, browser  # noqa: F401 - the module's Chromium fixture
from newsmirror.editions.textdiff import changes, inline_diff
from newsmirror.pipeline import run_once
from newsmirror.run.recheck import churn_key, next_check
from newsmirror.state.store import Store

T = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
SOURCES = 3  # the demo config's feeds and listing page: read on every run


def test_schedule_decays_and_ends():
    hours = [1, 6, 24]
    assert next_check(T, hours, T) == (0, T + timedelta(hours=1))
    assert next_check(T, hours, T + timedelta(hours=2), 1) == (1, T + timedelta(hours=6))
    assert next_check(T, hours, T + timedelta(hours=30), 1) is None  # a late run skips what it missed
    assert next_check(T, [], T) is None


def test_churn_is_masked_but_words_and_numbers_in_text_are_not():
    same = [("1,204 views · 36 comments · 10:32", "2,877 views · 41 comments · 16:05"),
            ("Updated 2026-03-01 08:00. Rain.", "Updated 2026-03-02 14:30. Rain."),
            ("阅读 1200 · 评论 3", "阅读 5400 · 评论 17"),
            ("Posted 3 hours ago", "Posted 5 hours ago")]
    for old, new in same:
        assert churn_key("t", old) == churn_key("t", new), (old, new)
    assert churn_key("t", "Three people were hurt.") != churn_key("t", "Thirty people were hurt.")
    assert churn_key("t", "3 people were hurt.") != churn_key("t", "30 people were hurt.")
    assert churn_key("t", "a  b\n\nc") == churn_key("t", "a b c")


def test_diff_marks_words_and_single_chinese_characters():
    assert inline_diff("the old bridge", "the new bridge") == (("=", "the "), ("-", "old"), ("+", "new"),
                                                               ("=", " bridge"))
    pieces = inline_diff("市政府今天宣布公园开放", "市政府昨天宣布公园关闭")
    assert ("-", "今") in pieces and ("+", "昨") in pieces and ("-", "开放") in pieces and ("+", "关闭") in pieces
    found, after = changes("one\n\ntwo\n\nthree", "one\n\ntwo!\n\nthree")
    assert [c.unchanged_before for c in found] == [1] and after == 1


def _articles(site):
    en = next(a for a in site._listed if a.lang != "zh" and a.serve == "html")
    zh = next(a for a in site._listed if a.lang == "zh" and a.serve == "html")
    return en, zh


def _words(site, article) -> tuple[str, str]:
    """A sentence of the article's body, and the same with one word changed."""
    text = next(b[1] for b in article.body if b[0] == "p")
    phrase = re.findall(r"[A-Za-z]+(?: [A-Za-z]+){4,}", text)[-1]  # plain words: the same in the page's HTML
    return phrase, phrase.replace(" ", " newly ", 1)


def test_edit_revert_and_churn_over_runs(demo_site, tmp_path):
    site = demo_site
    config = make_config(site, tmp_path)
    en, zh = _articles(site)
    site.set_churn(zh.slug, "1,204 views · 36 comments · 10:32")
    run_once(config, now=T)

    before = len(site.requests)
    run_once(config, now=T + timedelta(minutes=30))  # nothing due: the sources only
    assert len(site.requests) - before == SOURCES

    old, new = _words(site, en)
    site.replace_text(en.slug, old, new)
    site.replace_text(zh.slug, "气象局", "气象台")  # two characters of one word
    site.set_churn(zh.slug, "2,877 views · 41 comments · 16:05")
    run_once(config, now=T + timedelta(hours=2))
    with Store(config.state_path) as store:
        assert [r.number for r in store.revisions(en.slug)] == [1, 2]
        assert store.revisions(zh.slug)[-1].article.text.count("气象台") >= 1
        assert "newly" in store.revisions(en.slug)[1].article.text

    site.replace_text(en.slug, new, old)  # reverted: a third version, the same text as the first
    site.set_churn(zh.slug, "9,999 views · 50 comments · 22:47")  # churn alone
    run_once(config, now=T + timedelta(hours=7))
    with Store(config.state_path) as store:
        versions = store.revisions(en.slug)
        assert [v.number for v in versions] == [1, 2, 3] and versions[2].article.text == versions[0].article.text
        assert len(store.revisions(zh.slug)) == 2  # the counts changed again: no version

    root = config.output_dir
    page = (root / f"pages/{en.channel}/{en.slug}.md").read_text(encoding="utf-8")
    assert f"(3 {config.labels.versions})]({en.slug}.revisions.md)" in page
    revisions = (root / f"pages/{en.channel}/{en.slug}.revisions.md").read_text(encoding="utf-8")
    assert "~~newly~~" in revisions and "**newly**" in revisions
    zh_html = (root / f"site/pages/{zh.channel}/{zh.slug}.revisions.html").read_text(encoding="utf-8")
    assert re.search(r"<del>局</del><ins>台</ins>", zh_html), zh_html
    assert (root / f"site/zh-hant/pages/{zh.channel}/{zh.slug}.revisions.html").is_file()  # the converted twin
    html_page = (root / f"site/pages/{en.channel}/{en.slug}.html").read_text(encoding="utf-8")
    assert f'href="{en.slug}.revisions.html"' in html_page


def test_channel_can_hide_revisions_and_max_per_run_spreads_rechecks(demo_site, tmp_path):
    site = demo_site
    config = make_config(site, tmp_path)
    en, _zh = _articles(site)
    channels = dict(config.channels)
    channels[en.channel] = channels[en.channel].model_copy(update={"revisions": False})
    config = config.model_copy(update={"channels": channels,
                                       "revisions": config.revisions.model_copy(update={"max_per_run": 10})})
    run_once(config, now=T)
    old, new = _words(site, en)
    site.replace_text(en.slug, old, new)
    pages_before = len(site.requests)
    run_once(config, now=T + timedelta(hours=2))
    assert len(site.requests) - pages_before == SOURCES + 10
    with Store(config.state_path) as store:
        due, scheduled = store.recheck_backlog((T + timedelta(hours=2)).isoformat())
        assert due > 0 and scheduled > due
    for hour in (3, 4, 5, 6):
        run_once(config, now=T + timedelta(hours=hour))
    with Store(config.state_path) as store:
        assert len(store.revisions(en.slug)) == 2  # kept in state ...
    assert not (config.output_dir / f"pages/{en.channel}/{en.slug}.revisions.md").exists()  # ... not shown


def test_retention_takes_the_revisions_pages_with_the_page(demo_site, tmp_path):
    site = demo_site
    config = make_config(site, tmp_path)
    oldest = [a for a in site.channel_articles("sports") if a.serve == "html" and a.lang != "zh"][-1]
    run_once(config, now=T)
    old, new = _words(site, oldest)
    site.replace_text(oldest.slug, old, new)
    run_once(config, now=T + timedelta(hours=2))
    files = [f"pages/sports/{oldest.slug}.revisions.md", f"site/pages/sports/{oldest.slug}.revisions.html"]
    assert all((config.output_dir / f).is_file() for f in files)
    channels = dict(config.channels)
    channels["sports"] = channels["sports"].model_copy(update={"keep_newest": 2})
    run_once(config.model_copy(update={"channels": channels}), now=T + timedelta(hours=3))
    assert not any((config.output_dir / f).exists() for f in files)
    assert not (config.output_dir / f"pages/sports/{oldest.slug}.md").exists()


def test_chinese_revisions_page_on_a_phone(demo_site, tmp_path, browser):
    site = demo_site
    config = make_config(site, tmp_path)
    _en, zh = _articles(site)
    with ThreadPoolExecutor(1) as thread:  # Playwright's loop runs in this thread; a run starts its own
        thread.submit(run_once, config, now=T).result()
        site.replace_text(zh.slug, "气象局", "气象台")
        thread.submit(run_once, config, now=T + timedelta(hours=2)).result()
    served = Served(config.output_dir)
    try:
        page = browser.new_page(viewport=VIEWPORTS["phone"])
        page.goto(served.url(f"site/pages/{zh.channel}/{zh.slug}.html"))
        page.click(f"a[href='{zh.slug}.revisions.html']")
        assert page.eval_on_selector_all("del", "els => els.map(e => e.textContent)")[:1] == ["局"]
        assert page.eval_on_selector_all("ins", "els => els.map(e => e.textContent)")[:1] == ["台"]
        assert "line-through" in page.eval_on_selector("del", "e => getComputedStyle(e).textDecorationLine")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        page.close()
    finally:
        served.close()
