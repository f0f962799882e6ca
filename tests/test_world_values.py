"""Values from the world that once stopped a whole run: impossible dates, fields of the wrong JSON type, URLs that
do not parse, code blocks, hostile server answers. Each costs at most its own item, with one line naming it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import faultserver as fs
from faultserver import FaultServer, mirror_config_text
from newsmirror.config import parse_config
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.state.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SITE = "news.world.test"
FILLER = "".join(f"<p>The harbour committee met again on Tuesday to discuss the ferry timetable, item {i}, and "
                 f"agreed to publish the minutes in full next week after a second reading.</p>" for i in range(5))


def page(title: str, extra: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body><article>"
            f"<h1>{title}</h1>{FILLER}{extra}</article></body></html>")


def rss(date: str, link: str) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>Item</title>'
            f"<link>{link}</link><pubDate>{date}</pubDate></item></channel></rss>")


def atom(updated: str, link: str) -> str:
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>'
            f'<entry><title>Item</title><id>urn:e</id><link href="{link}"/><updated>{updated}</updated></entry></feed>')


def json_feed(**item: object) -> str:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [item]})


def config_for(server: FaultServer, tmp_path: Path, sources: str):
    text = mirror_config_text({SITE: server.address}, sources)
    return parse_config(text, tmp_path / "newsmirror.toml", tmp_path)


def feed_source(name: str, path: str) -> str:
    return f'[[sources]]\nname = "{name}"\nkind = "feed"\nchannel = "news"\nurl = "http://{SITE}{path}"\n'


class Collecting(Reporter):
    def __init__(self) -> None:
        super().__init__(QUIET)
        self.lines: list[str] = []

    def failure(self, line: str) -> None:
        self.lines.append(line)


# Each value alone in one feed, beside a healthy source; (feed body, content type, the article expected or None)
BAD_FEEDS = {
    "rss-zero-date": (rss("0000-00-00", f"http://{SITE}/a/zero"), "application/rss+xml", "/a/zero"),
    "atom-year-10000": (atom("9999-12-31T23:59:59-12:00", f"http://{SITE}/a/late"), "application/atom+xml",
                        "/a/late"),
    "atom-year-0": (atom("0001-01-01T00:00:00+14:00", f"http://{SITE}/a/early"), "application/atom+xml", "/a/early"),
    "json-overflow": (json_feed(url=f"http://{SITE}/a/json-date", date_published="9999-12-31T23:59:59-01:00"),
                      "application/feed+json", "/a/json-date"),
    "json-list-title": (json_feed(url=f"http://{SITE}/a/json-title", title=["a", "b"], date_modified={"x": 1}),
                        "application/feed+json", "/a/json-title"),
    "bad-port": (rss("Mon, 02 Mar 2026 08:00:00 +0000", "http://127.0.0.1:99999/x"), "application/rss+xml", None),
}


def test_bad_values_cost_only_their_item(tmp_path):
    with FaultServer() as server:
        server.route("/healthy.xml", fs.reply(rss("Mon, 02 Mar 2026 08:00:00 +0000", f"http://{SITE}/a/healthy"),
                                              "application/rss+xml"))
        server.route("/a/healthy", fs.reply(page("Healthy article")))
        sources = feed_source("healthy", "/healthy.xml")
        for name, (body, content_type, article) in BAD_FEEDS.items():
            server.route(f"/{name}.xml", fs.reply(body, content_type))
            if article:
                server.route(article, fs.reply(page(f"Article from {name}")))
            sources += feed_source(name, f"/{name}.xml")
        config = config_for(server, tmp_path, sources)
        reporter = Collecting()
        summary = run_once(config, reporter, now=NOW)
    assert summary.publish.commit is not None
    assert summary.sources_failed == 0 and summary.failed == 0, reporter.lines
    # the unusable URL is one line naming it and the stage; the impossible dates are articles, date unknown
    assert reporter.lines == ["http://127.0.0.1:99999/x [discover] invalid URL: port 99999 out of range"]
    with Store(config.state_path) as store:
        published = {state.url: state for batch in store.published_batches() for state in batch}
    expected = {f"http://{SITE}{a}" for _, _, a in BAD_FEEDS.values() if a} | {f"http://{SITE}/a/healthy"}
    assert set(published) == expected
    pages = list((config.output_dir / "pages" / "news").glob("*.md"))
    assert len(pages) == len(expected)


# -- feeds, extraction, the CLI ------------------------------------------------------------------------------------


def test_feed_without_links_names_the_problem_not_the_content_type():
    from newsmirror.config import Source
    from newsmirror.sources.discover import DiscoverError, parse_feed

    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>a</title></item>' \
           b'<item><title>b</title><description>no link</description></item></channel></rss>'
    source = Source(name="s", kind="feed", channel="news", url="https://n.example/feed")
    with pytest.raises(DiscoverError) as caught:
        parse_feed(body, source, "https://n.example/feed", "application/rss+xml")
    assert caught.value.reason == "none of the feed's 2 entries has a link"


def test_code_blocks_are_kept_in_the_text():
    from newsmirror.extract.page import extract_article

    code = "<pre><code>def harbour():\n    return 'ferry'\n</code></pre>"
    article = extract_article(page("Harbour code", code).encode(), f"http://{SITE}/a/code")
    assert "return 'ferry'" in article.text and "<pre>" in article.body_html


def cli(*args: str, cwd: Path, **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, **options)


def write_config(server: FaultServer, tmp_path: Path, sources: str = "") -> Path:
    path = tmp_path / "newsmirror.toml"
    path.write_text(mirror_config_text({SITE: server.address}, sources, fetch="timeout = 5\nretries = 1"),
                    encoding="utf-8")
    return path


def test_add_exits_1_when_the_article_was_not_mirrored(tmp_path):
    with FaultServer() as server:
        server.route("/a/ok", fs.reply(page("A good article")))
        write_config(server, tmp_path)
        gone = cli("add", f"http://{SITE}/a/missing", "--channel", "picks", cwd=tmp_path)
        assert gone.returncode == 1 and f"FAILED http://{SITE}/a/missing [fetch] HTTP 404" in gone.stderr
        assert "Traceback" not in gone.stderr
        bad = cli("add", "http://127.0.0.1:99999/x", "--channel", "picks", cwd=tmp_path)
        assert bad.returncode == 2 and "port 99999 out of range" in bad.stderr and "Traceback" not in bad.stderr
        ok = cli("add", f"http://{SITE}/a/ok", "--channel", "picks", cwd=tmp_path)
        assert ok.returncode == 0 and "1 new" in ok.stdout, ok.stderr


def test_a_long_retry_after_fails_now_and_is_retried_after_that_time(tmp_path):
    from datetime import timedelta

    with FaultServer() as server:
        server.route("/a/busy", fs.sequence(fs.status(429, {"Retry-After": "3600"}), fs.reply(page("Busy article"))))
        write_config(server, tmp_path)
        started = time.monotonic()
        added = cli("add", f"http://{SITE}/a/busy", "--channel", "picks", cwd=tmp_path)
        assert time.monotonic() - started < 30  # not three minutes of capped waits
        assert added.returncode == 1 and "the server asks to wait 3600 s" in added.stderr, added.stderr
        assert server.count("/a/busy") == 1

        # a feed run: the back-off (30 min) would retry before the server's hour is up; the server wins
        server.route("/feed.xml", fs.reply(rss("Mon, 02 Mar 2026 08:00:00 +0000", f"http://{SITE}/a/busy2"),
                                           "application/rss+xml"))
        server.route("/a/busy2", fs.sequence(fs.status(429, {"Retry-After": "3600"}), fs.reply(page("Busy two"))))
        config = config_for(server, tmp_path / "feed", feed_source("f", "/feed.xml"))
        assert run_once(config, Reporter(QUIET), now=NOW).failed == 1
        assert run_once(config, Reporter(QUIET), now=NOW + timedelta(minutes=45)).failed == 0
        assert server.count("/a/busy2") == 1  # not asked again before the hour
        assert run_once(config, Reporter(QUIET), now=NOW + timedelta(minutes=61)).new == 1
        assert server.count("/a/busy2") == 2


def test_extract_cli_goes_on_after_a_bad_file(tmp_path):
    (tmp_path / "code.html").write_text(page("Harbour code", "<pre><code>x = 1</code></pre>"))
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "good.html").write_text(page("Ferry notes"))
    result = cli("extract", "code.html", "empty.html", "good.html", "--jsonl", cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in line) for line in lines] == [False, True, False]
    assert "x = 1" in lines[0]["text"]
    assert result.returncode == 1 and result.stderr.count("FAILED") == 1 and "Traceback" not in result.stderr


# -- the machine: a full disk, a locked or newer state file, symlinks, file modes --------------------------------


def git_status(mirror: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=mirror, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
@pytest.mark.parametrize("size", ["40k", "400k", "1200k"])
def test_a_full_disk_is_one_line_and_the_tree_stays_clean(demo_site, tmp_path, size):
    """The mirror and its state on a small tmpfs (mounted in a private mount namespace): wherever the space runs
    out (state, images, pages, git), the run says so in one line, exits 1 and leaves the work tree clean."""
    from conftest import write_demo_config

    disk = tmp_path / "disk"
    disk.mkdir()
    config = write_demo_config(demo_site, disk)
    text = config.read_text().replace("[editions]\n", "[editions]\nsearch = false\n", 1)
    config.write_text(text)
    body = config.read_bytes()
    script = (f"mount -t tmpfs -o size={size} tmpfs {disk} && cat > {disk}/newsmirror.toml && "
              f"{sys.executable} -m newsmirror run --quiet --config {disk}/newsmirror.toml; echo rc=$?; "
              f"git -C {disk}/mirror status --porcelain 2>/dev/null | head -5")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], input=body, capture_output=True, timeout=180)
    out, err = result.stdout.decode(), result.stderr.decode()
    if "mount:" in err and "rc=" not in out:
        pytest.skip(f"tmpfs cannot be mounted here: {err.strip()}")
    assert "Traceback" not in err, err
    assert "rc=1" in out, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and re.search(r"\[(state|discover|plan|fetch|extract|render|publish)\]", errors[0]), err
    assert re.search(r"No space left on device|database or disk is full", errors[0]), errors
    assert out.strip().endswith("rc=1"), f"work tree not clean: {out}"


def test_a_locked_or_newer_state_file_is_one_line(demo_site, tmp_path, monkeypatch):
    import sqlite3
    from functools import partial

    from conftest import make_config
    from newsmirror import pipeline
    from newsmirror.errors import NewsmirrorError

    config = make_config(demo_site, tmp_path)
    Store(config.state_path).close()
    holder = sqlite3.connect(config.state_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(pipeline, "Store", partial(Store, timeout=0.2))
    with pytest.raises(NewsmirrorError) as caught:
        run_once(config, Reporter(QUIET), now=NOW)
    holder.execute("ROLLBACK")
    assert str(caught.value) == f"{config.state_path} [state] state database: database is locked"

    holder.close()
    # a state file from a newer newsmirror, through the CLI
    from conftest import write_demo_config
    from newsmirror.state.schema import MIGRATIONS

    path = write_demo_config(demo_site, tmp_path / "cli")
    state = tmp_path / "cli" / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("PRAGMA user_version = 99")
    result = cli("run", "--config", str(path), cwd=path.parent)
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: {state} [state] state schema 99 is newer than this newsmirror knows ({len(MIGRATIONS)}): "
        "use a newer newsmirror with this state file")


@pytest.mark.parametrize("link", ["assets", "assets/ab"])
def test_no_byte_is_written_through_a_symlink_out_of_the_mirror(demo_site, tmp_path, link):
    from conftest import make_config

    config = make_config(demo_site, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (config.output_dir / Path(link).parent).mkdir(parents=True, exist_ok=True)
    (config.output_dir / link).symlink_to(outside, target_is_directory=True)
    from newsmirror.errors import NewsmirrorError

    with pytest.raises(NewsmirrorError, match=r"\[publish\] path escapes the mirror directory"):
        run_once(config, Reporter(QUIET), now=NOW)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_mirror_files_follow_the_umask(demo_site, tmp_path, umask):
    from conftest import write_demo_config

    path = write_demo_config(demo_site, tmp_path)
    result = cli("run", "--quiet", "--config", str(path), cwd=tmp_path, preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    mirror = tmp_path / "mirror"
    modes = {oct(p.stat().st_mode & 0o777) for p in mirror.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert modes == {oct(0o666 & ~umask)}


def test_an_article_that_cannot_be_rendered_costs_only_its_page(tmp_path, monkeypatch):
    from newsmirror.editions import markdown as markdown_edition

    with FaultServer() as server:
        for slug in ("calm", "cursed"):
            server.route(f"/a/{slug}", fs.reply(page(f"The {slug} article")))
        urls = ", ".join(f'"http://{SITE}/a/{slug}"' for slug in ("calm", "cursed"))
        config = config_for(server, tmp_path, f'[[sources]]\nname = "u"\nkind = "urls"\nchannel = "news"\n'
                                              f"urls = [{urls}]\n")
        original = markdown_edition.render_article

        def broken(config, state, article, pages_by_url):
            if "cursed" in state.url:
                raise KeyError("a bug in one page")
            return original(config, state, article, pages_by_url)

        monkeypatch.setattr(markdown_edition, "render_article", broken)
        reporter = Collecting()
        summary = run_once(config, reporter, now=NOW)
        assert summary.new == 2 and summary.failed == 1 and summary.publish.commit is not None
        assert reporter.lines == [f"http://{SITE}/a/cursed [render] unexpected KeyError: 'a bug in one page'"]
        index = (config.output_dir / "indexes" / "news.md").read_text()
        assert "The calm article" in index and "cursed" not in index
        assert "cursed" not in (config.output_dir / "site" / "indexes" / "news.html").read_text()
        # fixed: the next due run fetches it again and publishes it
        monkeypatch.setattr(markdown_edition, "render_article", original)
        later = run_once(config, Reporter(QUIET), now=NOW.replace(hour=12))
        assert later.new == 1 and later.failed == 0
        assert "The cursed article" in (config.output_dir / "indexes" / "news.md").read_text()


def test_a_retried_article_keeps_its_source_settings_after_leaving_the_feed(tmp_path):
    """The source's site rules (here: a title selector and a strip) apply on the retry, after the article has
    left its feed; before sources were recorded it was retried as source "retry", without them."""
    from datetime import timedelta

    (tmp_path / "site.rules").write_text("title: css: .real-title\nstrip: css: .promo\n")
    body = ("<!doctype html><html><head><meta charset='utf-8'><title>Generic title</title></head><body><article>"
            "<h1>Generic title</h1><p class='real-title'>The ferry returns</p><div class='promo'><p>Subscribe to "
            f"the harbour letter today for weekly news of the port and its people.</p></div>{FILLER}"
            "</article></body></html>")
    with FaultServer() as server:
        server.route("/feed.xml", fs.reply(rss("Mon, 02 Mar 2026 08:00:00 +0000", f"http://{SITE}/a/ferry"),
                                           "application/rss+xml"))
        server.route("/a/ferry", fs.sequence(fs.status(404), fs.reply(body)))
        sources = feed_source("ruled", "/feed.xml") + 'rules = "site.rules"\n'
        config = config_for(server, tmp_path, sources)
        assert run_once(config, Reporter(QUIET), now=NOW).failed == 1
        # the article leaves the feed before its retry is due
        server.route("/feed.xml", fs.reply(rss("Mon, 02 Mar 2026 10:00:00 +0000", f"http://{SITE}/a/other"),
                                           "application/rss+xml"))
        server.route("/a/other", fs.reply(page("Another article")))
        assert run_once(config, Reporter(QUIET), now=NOW + timedelta(hours=2)).new == 2
    with Store(config.state_path) as store:
        ferry = next(s for b in store.published_batches() for s in b if s.url.endswith("/a/ferry"))
        article = store.article_record(ferry.id)
    assert ferry.source == "ruled"
    assert article.title == "The ferry returns" and "Subscribe" not in article.text
