"""End to end: the demo site on 127.0.0.1 -> a real git mirror and a real SQLite state file."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from newsmirror.publish import commit as publish_module
from newsmirror.clock import utcnow
from newsmirror.demo import site as demo
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import Reporter, QUIET
from newsmirror.records import Candidate
from newsmirror.state.store import Store

from conftest import make_config


def run(config, **kwargs):
    return run_once(config, Reporter(QUIET), **kwargs)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def page_for(root: Path, slug: str) -> Path:
    found = list(root.glob(f"pages/*/{slug}.md"))
    assert len(found) == 1, f"{slug}: {found}"
    return found[0]


def test_first_run_mirrors_every_article(mirror_config):
    summary = run(mirror_config)
    root = mirror_config.output_dir
    assert summary.failed == 0 and summary.new >= 40 and summary.publish.commit
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    files = tree(root)
    pages = [p for p in files if p.startswith("pages/") and p.endswith(".md")]
    assert len(pages) == summary.new
    assert all(p[:-3] + ".png" in files for p in pages)  # a QR code per page
    assert {"README.md", "indexes/hot.md"} <= set(files)
    for channel in demo.CHANNELS:
        assert f"indexes/{channel}.md" in files
    text = "\n".join(files[p].decode("utf-8") for p in pages)
    for phrase in demo.BOILERPLATE_PHRASES:
        assert phrase not in text, phrase
    hot = files["indexes/hot.md"].decode()
    assert mirror_config.labels.hot_empty in hot


def test_article_page_anatomy(mirror_config):
    run(mirror_config)
    root = mirror_config.output_dir
    page = page_for(root, demo.LAZY_SLUG).read_text("utf-8")
    labels = mirror_config.labels
    menu = page.split("\n\n")[2] if page.split("\n\n")[1].startswith("*") else page.split("\n\n")[1]
    assert menu.startswith(f"[{labels.home}](../../README.md) | ")
    assert f"[{labels.hot}](../../indexes/hot.md)" in menu
    assert page.count(menu) == 2  # menu at the top and at the bottom
    assert mirror_config.mirror.promo_markdown in page
    share = mirror_config.mirror.public_base_urls[0] + "pages/"
    assert share in page and f"![QR code]({demo.LAZY_SLUG}.png)" in page
    assert f"{labels.original}: <http://{'news.demo.test'}" in page
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    local = [src for src in images if src.startswith("../../assets/")]
    assert local and all((root / "pages" / "x" / src).resolve().is_file() for src in local)
    assert not any(src.startswith("http") for src in images)  # copied next to the article, never hot-linked
    assert "placeholder" not in page  # the lazy image was promoted
    order = [page.index(x) for x in (menu, share, labels.original)]
    assert order == sorted(order)


def test_gbk_page_without_charset_is_decoded(mirror_config):
    run(mirror_config)
    page = page_for(mirror_config.output_dir, demo.GBK_SLUG).read_text("utf-8")
    title = page.splitlines()[0]
    assert re.search(r"[\u4e00-\u9fff]{2,}", title), title
    assert "\ufffd" not in page


def test_article_in_two_channels_stored_once_listed_twice(mirror_config):
    run(mirror_config)
    root = mirror_config.output_dir
    page_for(root, demo.SHARED_SLUG)
    listed = [p for p in (root / "indexes").glob("*.md") if f"{demo.SHARED_SLUG}.md" in p.read_text("utf-8")]
    assert len(listed) == 2


def test_links_between_articles_are_relative(mirror_config):
    run(mirror_config)
    pages = "\n".join(p.read_text("utf-8") for p in mirror_config.output_dir.glob("pages/*/*.md"))
    assert re.search(r"\]\(\.\./[a-z]+/[a-z0-9-]+\.md\)", pages)
    assert "](/articles" not in pages


def test_second_run_changes_nothing(mirror_config):
    run(mirror_config)
    root = mirror_config.output_dir
    before = {p: (root / p).stat().st_mtime_ns for p in tree(root)}
    summary = run(mirror_config)
    assert summary.new == summary.updated == summary.failed == 0
    assert summary.publish.commit is None and summary.publish.written == ()
    assert {p: (root / p).stat().st_mtime_ns for p in tree(root)} == before
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"


def test_changed_article_is_rerendered(demo_site, mirror_config):
    run(mirror_config)
    root = mirror_config.output_dir
    demo_site.edit_article(demo.LAZY_SLUG, "A late correction paragraph was added to this story.")
    summary = run(mirror_config)
    assert summary.updated == 1 and summary.new == 0
    assert "late correction paragraph" in page_for(root, demo.LAZY_SLUG).read_text("utf-8")
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"


def test_failed_article_is_recorded_and_retried(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path, retry_base_minutes=0)
    url = next(u for u in demo_site.article_urls() if demo.LAZY_SLUG in u)
    path = url.split("/", 3)[3]
    demo_site.set_status("/" + path, 500)
    first = run(config)
    assert first.failed == 1 and first.new >= 39
    failure = first.failures[0]
    assert failure.url.endswith(path) and failure.stage.value == "fetch" and "HTTP 500" in failure.error
    with Store(config.state_path) as store:
        assert store.recent_failures(1)[0].url.endswith(path)
    demo_site.set_status("/" + path, None)
    second = run(config)
    assert second.new == 1 and second.failed == 0
    page_for(config.output_dir, demo.LAZY_SLUG)


def test_source_down_does_not_stop_the_run(demo_site, mirror_config):
    feed = next(s for s in mirror_config.sources if s.kind == "feed")
    demo_site.set_status(feed.url.split("news.demo.test", 1)[1], 503)
    summary = run(mirror_config)
    assert summary.sources_failed == 1 and summary.sources_read >= 2 and summary.new > 0
    assert any(feed.url in f.error and "[fetch]" in f.error for f in summary.failures)


def test_crash_before_commit_converges(demo_site, tmp_path, monkeypatch):
    crashed = make_config(demo_site, tmp_path / "a")
    clean = make_config(demo_site, tmp_path / "b")

    def die(self, message, paths=()):
        raise KeyboardInterrupt("killed during commit")

    with monkeypatch.context() as patch:
        patch.setattr(publish_module.GitRepo, "commit_all", die)
        with pytest.raises(KeyboardInterrupt):
            run(crashed)
    with Store(crashed.state_path) as store:
        assert store.published_articles() == []  # state was not committed
    run(crashed)
    run(clean)
    assert tree(crashed.output_dir) == tree(clean.output_dir)
    assert git(crashed.output_dir, "status", "--porcelain") == ""


def test_add_creates_a_curated_channel(demo_site, mirror_config):
    run(mirror_config)
    url = f"http://news.demo.test{demo_site.article_urls()[0].split(demo_site.base_url, 1)[1]}"
    summary = run(mirror_config, request=RunRequest(only=(Candidate(url, "picks", "manual"),), force=True))
    assert summary.failed == 0
    index = (mirror_config.output_dir / "indexes" / "picks.md").read_text("utf-8")
    assert "../pages/" in index
    assert "picks" in (mirror_config.output_dir / "README.md").read_text("utf-8").lower()


def test_archive_pages_leave_nothing_orphaned(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path, index_page_size=5)
    run(config)
    root = config.output_dir
    with Store(config.state_path) as store:
        for channel in demo.CHANNELS:
            ids = {s.id for s in store.published_articles(channel)}
            listed = set()
            for index in root.glob(f"indexes/{channel}*.md"):
                listed |= set(re.findall(r"\(\.\./pages/[a-z]+/([A-Za-z0-9_-]+)\.md\)", index.read_text("utf-8")))
            assert ids == listed, channel


def test_hot_list_ranks_by_views(mirror_config):
    run(mirror_config)
    with Store(mirror_config.state_path) as store, store.transaction():
        top = store.published_articles()[3]
        store.add_views(f"pages/{top.channel}/{top.id}.md", (utcnow() - timedelta(days=1)).date().isoformat(), 9)
    run(mirror_config, request=RunRequest(only=()))
    hot = (mirror_config.output_dir / "indexes" / "hot.md").read_text("utf-8")
    assert "1. [" in hot and f"{top.id}.md" in hot


def test_site_rules_and_browser_fallback_through_the_pipeline(demo_site, tmp_path):
    """A `urls` source with render_js mirrors a page whose body is built by script; a rules file strips a block."""
    (tmp_path / "rules.txt").write_text("# drop the sidebar-like share block\nstrip_id_or_class: share\n")
    base = make_config(demo_site, tmp_path)
    from newsmirror.config import Source

    js_source = Source(name="live", kind="urls", channel="live", urls=[demo_site.js_article_url()], render_js=True,
                       rules="rules.txt")
    config = base.model_copy(update={"sources": [js_source]})
    summary = run(config)
    assert summary.new == 1 and summary.failed == 0, summary.failures
    page = next(config.output_dir.glob("pages/live/*.md")).read_text("utf-8")
    assert "Kilometre 10: a group of eleven men leads" in page


def test_bad_rules_file_is_a_config_error(demo_site, tmp_path):
    from newsmirror.config import ConfigError, Source

    (tmp_path / "bad.txt").write_text("body: //div[\n")
    base = make_config(demo_site, tmp_path)
    source = Source(name="x", kind="urls", channel="x", urls=[demo_site.article_urls()[0]], rules="bad.txt")
    with pytest.raises(ConfigError, match=r"(?s)sources \(x\)\.rules.*bad\.txt:1"):
        run(base.model_copy(update={"sources": [source]}))


def test_failed_image_leaves_placeholder_and_is_retried(demo_site, mirror_config):
    demo_site.set_status("/images/comet-over-hills.jpg", 404)
    first = run(mirror_config)
    assert first.failed == 0 and first.new >= 40  # an image never fails its article
    page = page_for(mirror_config.output_dir, demo.LAZY_SLUG)
    assert f"[{mirror_config.labels.image_unavailable}" in page.read_text("utf-8")
    assert any(f.url.endswith("comet-over-hills.jpg") and f.stage == "image"
               for f in Store(mirror_config.state_path).recent_failures(50))
    from newsmirror.status import status_lines

    waiting = status_lines(mirror_config)
    assert any("comet-over-hills.jpg" in line and "404" in line for line in waiting[waiting.index(
        "images waiting for a retry (placeholders shown meanwhile):"):])
    demo_site.set_status("/images/comet-over-hills.jpg", None)
    second = run(mirror_config)
    text = page.read_text("utf-8")
    assert mirror_config.labels.image_unavailable not in text and "../../assets/" in text
    assert second.publish.commit is not None


def test_images_are_deduplicated_and_small(mirror_config):
    run(mirror_config)
    assets = list((mirror_config.output_dir / "assets").rglob("*.webp"))
    assert assets and all(a.stat().st_size <= mirror_config.images.max_bytes for a in assets)
    pages = "\n".join(p.read_text("utf-8") for p in mirror_config.output_dir.glob("pages/*/*.md"))
    referenced = set(re.findall(r"assets/[0-9a-f]{2}/[0-9a-f]+\.webp", pages))
    assert referenced == {str(a.relative_to(mirror_config.output_dir)) for a in assets}
