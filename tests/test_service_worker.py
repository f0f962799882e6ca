"""The HTML edition's service worker in Chromium (Playwright, Debian's chromium), against real origins on 127.0.0.1.

The demo mirror is built once, signed, with two public addresses: origin A and origin B (B sends
`Access-Control-Allow-Origin: *`, as GitHub Pages does). A third origin, C, is in no genuine list.

- failover: open a page on A; stop A; open another page at A's address -> the worker serves it from B, with a
  "served from" notice; stop B too -> both pages still read, from the worker's offline copies (the first page's
  images too); C gets nothing; a block page on A (no marker of ours) sends the worker to B as well;
- a mirror list on A that lists only C, forged (bad signature, another key) or older than the worker's -> ignored:
  the failover goes to B and C gets no request; a genuine newer list that lists C -> taken (the control case);
- worker disabled (`editions.service_worker = false`): the page loads itself and its images, nothing more.

Timings of each scenario are printed (pytest -s).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite
from newsmirror.editions.html import render_site
from newsmirror.pipeline import run_once
from newsmirror.publish import mirrorlist, signing
from newsmirror.publish.commit import write_files
from newsmirror.progress import QUIET, Reporter
from newsmirror.state.store import Store

import chromium
from conftest import make_config
from origins import Origin

CACHED = "([url]) => caches.open('newsmirror-offline').then(c => c.match(url)).then(r => !!r)"
ACTIVATED = "() => navigator.serviceWorker.ready.then(r => r.active && r.active.state === 'activated')"
KEPT_IMAGES = """() => caches.open('newsmirror-offline').then(cache => Promise.all(
    [...document.images].map(i => new URL(i.getAttribute('src'), location.href))
        .map(u => cache.match(u.origin + u.pathname).then(r => [u.pathname, !!r]))))"""
CHECKED = ("([key]) => caches.open('newsmirror-offline').then(c => c.match(key))"
           ".then(r => r ? r.json() : null)")


@pytest.fixture(scope="module")
def browser(built):  # the mirror is built first: Playwright's sync API runs an event loop
    with chromium.launched() as instance:
        yield instance


class Built:
    def __init__(self, root: Path, config, key: mirrorlist.MirrorKey, a: Origin, b: Origin, c: Origin):
        self.root, self.config, self.key, self.a, self.b, self.c = root, config, key, a, b, c
        self.pages = sorted(str(p.relative_to(root)) for p in (root / "site" / "pages").rglob("*.html"))[:3]

    def title(self, page: str) -> str:
        text = (self.root / page).read_text(encoding="utf-8")
        return text.split("<h1>", 1)[1].split("</h1>", 1)[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sw")
    root = directory / "mirror"
    a, b, c = Origin(root), Origin(root, cors=True), Origin(root, cors=True)
    keys = signing.generate_keys(directory / "keys" / "mirror.key")
    with DemoSite(public_host=DEMO_HOST) as site:
        config = make_config(site, directory, signing_key=str(keys.secret), public_base_urls=[a.base, b.base])
        run_once(config, Reporter(QUIET))
    yield Built(root, config, mirrorlist.load_key(config), a, b, c)
    for origin in (a, b, c):
        origin.stop()


@pytest.fixture
def origins(built):
    """A, B and C up, their logs and replaced files reset."""
    for origin in (built.a, built.b, built.c):
        if origin.server is None:
            origin.start()
        origin.requests.clear()
        origin.replaced.clear()
    yield built
    for origin in (built.a, built.b):
        if origin.server is None:
            origin.start()


def wait_until(page, script: str, arg: object = None, timeout: float = 15.0) -> object:
    """Poll `script` (which may return a promise: `evaluate` awaits it) until it gives a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {script} {arg}")
        time.sleep(0.05)


def open_and_keep(page, url: str) -> float:
    """Open `url`; wait until the worker is active and keeps an offline copy of it. Returns the seconds taken."""
    started = time.monotonic()
    page.goto(url)
    wait_until(page, ACTIVATED)
    wait_until(page, CACHED, [url])
    return time.monotonic() - started


def test_failover_to_the_other_mirror_then_offline_copies(browser, origins):
    built = origins
    first, second = built.pages[0], built.pages[1]
    context = browser.new_context()
    page = context.new_page()
    try:
        kept = open_and_keep(page, built.a.base + first)
        built.a.stop()
        started = time.monotonic()
        page.goto(built.a.base + second)
        notice = page.locator(".served-from").inner_text(timeout=15_000)
        failover = time.monotonic() - started
        assert f"Served from 127.0.0.1:{built.b.port}" in notice
        assert page.locator("h1").inner_text() == built.title(second)
        assert page.url == built.a.base + second  # the reader stays at the address they asked for
        assert built.b.asked("/" + second) == 1

        built.b.stop()
        started = time.monotonic()
        page.goto(built.a.base + first)
        assert page.locator("h1").inner_text() == built.title(first)
        assert page.locator(".served-from").count() == 0
        kept_images = page.evaluate(KEPT_IMAGES)  # the first page's images were kept with it
        assert kept_images and all(found for _, found in kept_images), kept_images
        page.goto(built.a.base + second)
        assert page.locator("h1").inner_text() == built.title(second)
        offline = time.monotonic() - started
        assert built.c.requests == []
        print(f"\nworker active and page kept: {kept:.2f} s; failover A->B: {failover:.2f} s; "
              f"two offline pages: {offline:.2f} s; requests to C: {len(built.c.requests)}")
    finally:
        context.close()


def test_a_block_page_sends_the_worker_to_the_other_mirror(browser, origins):
    """A answers, but with a page that is not ours (a block page without the edition's marker): B serves it."""
    built = origins
    first, second = built.pages[0], built.pages[1]
    built.a.replaced[second] = b"<!doctype html><title>Blocked</title><p>Access to this resource is restricted.</p>"
    context = browser.new_context()
    page = context.new_page()
    try:
        open_and_keep(page, built.a.base + first)
        page.goto(built.a.base + second)
        notice = page.locator(".served-from").inner_text(timeout=15_000)
        assert f"Served from 127.0.0.1:{built.b.port}" in notice
        assert page.locator("h1").inner_text() == built.title(second)
        assert built.a.asked("/" + second) == 1 and built.b.asked("/" + second) == 1
    finally:
        context.close()


def _list_of(built: Built, html: list[str], sequence: int) -> bytes:
    body = {**mirrorlist.addresses(built.config), "public_key": built.key.line, "sequence": sequence,
            "time": "2026-12-07T00:00:00+00:00"}
    body["editions"] = {**body["editions"], "html": html}  # type: ignore[dict-item]
    return mirrorlist.encode(body)


def _forged(built: Built, kind: str, directory: Path) -> tuple[bytes, bytes]:
    c_only = _list_of(built, [built.c.base], 99)
    if kind == "tampered":  # a genuine signature of another list, the bytes changed to list C
        genuine = _list_of(built, [built.a.base, built.b.base], 99)
        return c_only, signing.sign(genuine, built.key.secret, "newsmirror mirrors sequence 99")
    if kind == "other-key":
        other = signing.generate_keys(directory / "other.key")
        secret = signing.load_secret_key(other.secret, built.root)
        return c_only, signing.sign(c_only, secret, "newsmirror mirrors sequence 99")
    if kind == "older":  # genuinely signed, but older than the list built into the worker (sequence 1)
        older = _list_of(built, [built.c.base], 0)
        return older, signing.sign(older, built.key.secret, "newsmirror mirrors sequence 0")
    assert kind == "newer-genuine"
    newer = _list_of(built, [built.c.base, built.b.base], 2)
    return newer, signing.sign(newer, built.key.secret, "newsmirror mirrors sequence 2")


@pytest.mark.parametrize("kind", ["tampered", "other-key", "older", "newer-genuine"])
def test_a_list_the_worker_cannot_trust_is_ignored(browser, origins, tmp_path, kind):
    built = origins
    data, signature = _forged(built, kind, tmp_path)
    built.a.replaced.update({"mirrors.json": data, "mirrors.json.minisig": signature})
    first, second = built.pages[0], built.pages[2]
    context = browser.new_context()
    page = context.new_page()
    try:
        open_and_keep(page, built.a.base + first)
        checked = wait_until(page, CHECKED, [built.a.base + "__newsmirror__/checked"])  # A's list, judged
        assert checked["base"] == built.a.base
        assert checked["taken"] == (kind == "newer-genuine")
        assert checked["signed"] == (kind in ("older", "newer-genuine"))  # signed by the mirror's key
        built.a.stop()
        started = time.monotonic()
        page.goto(built.a.base + second)
        notice = page.locator(".served-from").inner_text(timeout=15_000)
        elapsed = time.monotonic() - started
        assert page.locator("h1").inner_text() == built.title(second)
        if kind == "newer-genuine":  # the control: a list the worker trusts is used, C first
            assert f"127.0.0.1:{built.c.port}" in notice
            assert built.c.asked("/" + second) == 1
        else:
            assert f"127.0.0.1:{built.b.port}" in notice
            assert built.c.requests == []
        print(f"\n{kind}: served from {notice.split()[-1]} in {elapsed:.2f} s; requests to C: {built.c.requests}")
    finally:
        context.close()


def test_without_the_worker_a_page_asks_for_nothing_more(browser, origins, tmp_path):
    """The same article page rendered with the worker off: it loads itself and its images; on, it adds sw.js."""
    built = origins
    off_root = tmp_path / "off"
    shutil.copytree(built.root / "assets", off_root / "assets")
    config = built.config.model_copy(update={"editions": built.config.editions.model_copy(
        update={"service_worker": False})})
    page_path = built.pages[0]
    article_id = Path(page_path).stem
    with Store(built.config.state_path) as store:
        state = store.article(article_id)
        article = store.article_record(article_id)
        write_files(off_root, [f for f in render_site(config, [(state, article)], {}, [], {})
                               if f.path == page_path or f.path.endswith(".png")])
    assert "<script" not in (off_root / page_path).read_text(encoding="utf-8")
    origin = Origin(off_root)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(origin.base + page_path, wait_until="networkidle")
        images = page.eval_on_selector_all("img", "imgs => imgs.filter(i => i.complete && i.currentSrc)"
                                                  ".map(i => new URL(i.currentSrc).pathname)")
        assert origin.requests[0] == "/" + page_path
        assert sorted(origin.requests[1:]) == sorted(images)  # the page's images that loaded, nothing else
        assert not [p for p in origin.requests if p.endswith(("sw.js", "mirrors.json", ".minisig"))]

        built.a.requests.clear()
        page.goto(built.a.base + page_path, wait_until="networkidle")
        assert built.a.asked("/site/sw.js") == 1  # with the worker on, the page registers it
        print(f"\nworker off: {len(origin.requests)} requests ({json.dumps(origin.requests)}); "
              f"worker on: {len(built.a.requests)}")
    finally:
        context.close()
        origin.stop()
