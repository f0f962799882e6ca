"""Text before the throttle: a connection that stalls after its first 16 KB (tests/throttle.py) still brings every
demo article page whole.

- the proxy itself: 16 KB pass, then nothing, on a fresh and on a kept-alive connection;
- every article page of the demo (both editions), served gzipped over HTTP/1.1 keep-alive through the proxy, in
  Chromium: DOMContentLoaded fires (the whole HTML arrived), the article's whole text and every caption are there,
  and nothing render-blocking is on the page (no stylesheet link, no external script);
- the control: a page too big for 16 KB does not arrive through the same proxy.

Per page: the compressed size, the bytes on the wire before the article text starts, and the seconds to
DOMContentLoaded (printed with pytest -s).
"""

from __future__ import annotations

import gzip
import random
import re
import contextlib
import socket
import statistics
import threading
import time

import pytest
from lxml import html as lxml_html

from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter

import chromium
from conftest import make_config
from origins import Origin
from throttle import LIMIT, ThrottleProxy



# the article's text and the captions the reader can see (laid out, not hidden)
SHOWN = """() => ({
    text: document.querySelector('article').textContent,
    captions: [...document.querySelectorAll('figcaption')].filter(c => c.checkVisibility()).map(c => c.innerText),
})"""


def _normal(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    directory = tmp_path_factory.mktemp("throttle")
    with DemoSite(public_host=DEMO_HOST) as site:
        config = make_config(site, directory)
        run_once(config, Reporter(QUIET))
    return config.output_dir


@pytest.fixture(scope="module")
def browser(mirror):  # the mirror is built first: Playwright's sync API runs an event loop
    with chromium.launched() as instance:
        yield instance


def _upstream(payload: bytes, requests: int) -> tuple[socket.socket, threading.Thread]:
    """A server that answers each of `requests` lines on one connection with `payload`."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(ConnectionError):  # the proxy may drop a stalled connection
            for _ in range(requests):
                if not connection.recv(1024):
                    return
                connection.sendall(payload)
            connection.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _read(sock: socket.socket, wait: float = 0.5) -> bytes:
    sock.settimeout(wait)
    got = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            got += data
    except TimeoutError:
        pass
    return got


def test_the_proxy_passes_16_kb_then_stalls():
    listener, _ = _upstream(b"x" * 10_000, requests=3)
    with listener, ThrottleProxy(listener.getsockname()[1]) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        with client:
            client.sendall(b"one\n")
            assert len(_read(client)) == 10_000  # under the limit: whole
            client.sendall(b"two\n")  # the same connection, kept alive: 6,384 more bytes pass, then nothing
            assert len(_read(client)) == LIMIT - 10_000
            client.sendall(b"three\n")
            assert _read(client) == b""
        assert proxy.delivered == [LIMIT] and proxy.stalled == 1


def _article_pages(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "site").rglob("pages/*/*.html"))


def _expected(root, path: str) -> tuple[str, list[str], int]:
    """The article's whole text, its captions, and the page's bytes before the article starts."""
    data = (root / path).read_bytes()
    tree = lxml_html.fromstring(data)
    article = tree.find(".//article")
    captions = [_normal(c.text_content()) for c in article.iter("figcaption")]
    return _normal(article.text_content()), captions, data.index(b"<article")


def test_every_demo_article_arrives_whole_through_the_throttle(mirror, browser):
    pages = _article_pages(mirror)
    assert len(pages) >= 40  # both editions of the demo's articles
    origin = Origin(mirror, gzip=True)
    context = browser.new_context(service_workers="block")  # a first visit: no worker yet
    page = context.new_page()
    rows, delivered, stalled = [], [], 0
    try:
        for path in pages:
            text, captions, before = _expected(mirror, path)
            html = (mirror / path).read_text(encoding="utf-8")
            assert not re.search(r"<link[^>]+stylesheet|<script[^>]+src=", html), path  # nothing render-blocking
            with ThrottleProxy(origin.port) as proxy:  # a new address per page: its own, fresh connections
                started = time.monotonic()
                page.goto(f"http://127.0.0.1:{proxy.port}/{path}", wait_until="domcontentloaded", timeout=10_000)
                seconds = time.monotonic() - started
                shown = page.evaluate(SHOWN)
                assert _normal(shown["text"]) == text, path
                assert [_normal(c) for c in shown["captions"]] == captions, path  # each one on screen
                delivered += proxy.delivered
                stalled += proxy.stalled
            rows.append((len(gzip.compress((mirror / path).read_bytes(), 6)), before, seconds))
    finally:
        context.close()
        origin.stop()
    sizes = sorted(r[0] for r in rows)
    print(f"\n{len(rows)} article pages through a {LIMIT // 1024} KB throttle: gzip size min {sizes[0]} B, "
          f"median {statistics.median(sizes):.0f} B, max {sizes[-1]} B; bytes before <article> "
          f"{min(r[1] for r in rows)}-{max(r[1] for r in rows)}; DOMContentLoaded median "
          f"{statistics.median(r[2] for r in rows):.2f} s, max {max(r[2] for r in rows):.2f} s; "
          f"{len(delivered)} connections, {stalled} of them stalled")
    assert sizes[-1] <= 14 * 1024


def test_a_page_too_big_for_16_kb_does_not_arrive(mirror, browser):
    """The control: the same proxy and browser, a page of 60 KB that gzip cannot shrink (random letters)."""
    rng = random.Random(16)
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(60_000))
    body = f"<!doctype html><title>big</title><article><p>{filler}</p><p id=end>the end</p></article>"
    origin = Origin(mirror, gzip=True)
    origin.replaced["site/control.html"] = body.encode()
    try:
        with ThrottleProxy(origin.port) as proxy:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{proxy.port}/site/control.html", wait_until="commit", timeout=10_000)
            page.wait_for_timeout(1500)
            assert page.locator("#end").count() == 0  # the end of the page never came
            assert page.evaluate("document.readyState") == "loading"
            context.close()
            assert proxy.stalled >= 1
    finally:
        origin.stop()
