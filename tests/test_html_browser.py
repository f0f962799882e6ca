"""The HTML edition in a real browser (headless Debian Chromium through Playwright), served from 127.0.0.1.

- the demo mirror, every page type: zero requests to any other host (request counts per page type are printed and
  written next to the screenshots), screenshots at 390x844 and 1280x800;
- a synthetic mirror whose articles point at local assets/ images: every image decodes, Chinese text is laid out
  in a CJK font (Chromium's own report of the fonts used, not tofu);
- a hostile article: no dialog, no script, no request leaves the host;
- search: sampled Chinese substrings, in both editions, and the search box (tests/test_search_browser.py, which
  uses this module's fixtures).

Screenshots go to $NEWSMIRROR_SCREENSHOTS if set (e.g. benchmarks/out/html-edition), else to pytest's tmp dir.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsmirror.demo import site as demo
from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.publish.commit import write_files
from newsmirror.layout import page_path
from newsmirror.editions.html import render_site
from newsmirror.editions.search import build_search
from newsmirror.editions.serve import make_server
from newsmirror.state.store import Store

import chromium
from conftest import make_config
from test_render_html import HOSTILE_TITLE, synthetic_site

CJK_CHARACTER = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def browser():
    with chromium.launched() as instance:
        yield instance


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    directory = Path(os.environ.get("NEWSMIRROR_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Served:
    def __init__(self, root: Path):
        self.root = root
        self.server = make_server(root, 0, quiet=True, home="site")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def demo_mirror(tmp_path_factory):
    """The demo site mirrored (small index pages, so archive pages exist; an s2t edition), HTML edition + search."""
    directory = tmp_path_factory.mktemp("demo")
    with DemoSite(public_host=DEMO_HOST) as site:
        config = make_config(site, directory, index_page_size=5)
        config = config.model_copy(update={"editions": config.editions.model_copy(update={"convert": "s2t"})})
        # in a thread of its own: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            summary = pool.submit(run_once, config, Reporter(QUIET)).result()
        assert summary.failed == 0 and summary.new >= 40
    with Store(config.state_path) as store:
        channels = {name: store.published_articles(name) for name in config.channel_names()}
        published = store.published_articles()
        articles = [(s, store.article_record(s.id)) for s in published]
        pages_by_url = {url: page_path(channel, i) for url, (i, channel) in store.url_map().items()}
        files = render_site(config, articles, channels, published[:3], pages_by_url, records=store.article_record)
    write_files(config.output_dir, files)
    build_search(config.output_dir / config.editions.html_dir, config)
    served = Served(config.output_dir)
    yield config, served
    served.close()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "mirror"
    config, _ = synthetic_site(root)
    served = Served(root)
    yield config, served
    served.close()


class Recorder:
    """Every request of a browser context; requests to any other origin are recorded and aborted."""

    def __init__(self, context, origin: str):
        self.origin = origin
        self.requests: list[str] = []
        self.foreign: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    def take(self) -> list[str]:
        taken, self.requests = self.requests, []
        return taken


def open_context(browser, viewport: str, origin: str):
    context = browser.new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1,
                                  is_mobile=viewport == "phone", has_touch=viewport == "phone")
    return context, Recorder(context, origin)


def demo_pages(root: Path) -> dict[str, str]:
    """One page of every type (paths from the mirror root)."""
    site = root / "site"
    zh_article = next(site.glob(f"pages/*/{demo.GBK_SLUG}.html"))  # Chinese, with a figure
    en_article = next(site.glob(f"pages/*/{demo.LAZY_SLUG}.html"))  # English, with a (lazy) image
    archive = sorted(site.glob("indexes/science-*.html"))[0]
    rel = lambda p: str(p.relative_to(root))  # noqa: E731
    return {
        "home": "site/index.html", "channel": "site/indexes/city.html", "archive": rel(archive),
        "hot": "site/indexes/hot.html", "article_zh": rel(zh_article), "article_en": rel(en_article),
        "converted_article": rel(zh_article).replace("site/", "site/zh-hant/", 1),
        "converted_home": "site/zh-hant/index.html", "search": "site/search.html?q=%E8%8C%B6%E9%A6%86",
        "feed": "site/feeds/all.xml",
    }


def test_demo_mirror_every_page_type_loads_nothing_from_another_host(browser, demo_mirror, shots):
    config, served = demo_mirror
    pages = demo_pages(config.output_dir)
    counts: dict[str, dict[str, int]] = {}
    loaded: dict[str, list[str]] = {}
    for viewport in VIEWPORTS:
        context, recorder = open_context(browser, viewport, served.origin)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for kind, path in pages.items():
            response = page.goto(served.url(path), wait_until="load")
            assert response is not None and response.status == 200, (kind, path)
            if kind == "search":
                page.wait_for_selector(".pagefind-ui__result-link", timeout=15_000)
            page.wait_for_load_state("networkidle")
            requests = recorder.take()
            counts.setdefault(kind, {})[viewport] = len(requests)
            loaded[kind] = sorted({urlsplit(r).path.rsplit("/", 1)[-1] for r in requests})
            if kind in ("home", "article_zh", "article_en", "converted_article", "search", "channel"):
                page.screenshot(path=str(shots / f"demo-{kind}-{viewport}.png"), full_page=kind != "search")
            if kind.startswith(("article", "converted_article")):
                # images are local files (once localised) or placeholders: never a request to the source's host
                assert page.locator("article img, article .ph").count() > 0
                assert_images_decode(page, "article img")
        assert recorder.foreign == [], recorder.foreign
        assert errors == []
        context.close()
    (shots / "demo-requests.json").write_text(json.dumps({"counts": counts, "files": loaded}, indent=1,
                                                         sort_keys=True, ensure_ascii=False))
    print(f"\nrequests per page type: {json.dumps(counts, sort_keys=True)}\nscreenshots: {shots}")
    assert counts["article_zh"]["phone"] <= 3  # the page, its QR code, nothing else that must load


def test_local_images_decode_and_chinese_is_laid_out_in_a_cjk_font(browser, synthetic, shots):
    _, served = synthetic
    for viewport in VIEWPORTS:
        context, recorder = open_context(browser, viewport, served.origin)
        page = context.new_page()
        page.goto(served.url("site/pages/city/city-8.html"), wait_until="load")
        assert page.locator("img").count() == 4  # lead, two body images, QR code (the remote one: a placeholder)
        assert_images_decode(page, "img")
        assert page.locator(".ph").count() == 1
        heading = page.locator("h1").bounding_box()
        assert heading and heading["width"] > 100 and heading["height"] > 20
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        for selector in ("h1", "article > p:nth-of-type(2)"):  # every Chinese character drawn from a CJK font
            chinese = len(CJK_CHARACTER.findall(page.locator(selector).first.inner_text()))
            fonts = platform_fonts(page, selector)
            drawn = sum(f["glyphCount"] for f in fonts if "CJK" in f["familyName"])
            assert chinese > 10 and drawn >= chinese, (selector, fonts)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / f"local-images-{viewport}.png"), full_page=True)
        assert recorder.foreign == []
        context.close()


def assert_images_decode(page, selector: str) -> None:
    images = page.locator(selector)
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()  # body images load lazily
        page.wait_for_function("img => img.complete", arg=image.element_handle(), timeout=10_000)
        assert image.evaluate("img => img.naturalWidth") > 0, image.get_attribute("src")


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium actually used for the text of the first element matching `selector`."""
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    session.detach()
    return fonts


@pytest.mark.parametrize("path", ["site/pages/world/hostile.html", "site/zh-hant/pages/world/hostile.html"])
def test_hostile_article_runs_nothing(browser, synthetic, path):
    _, served = synthetic
    context, recorder = open_context(browser, "phone", served.origin)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(served.url(path), wait_until="load")
    page.wait_for_load_state("networkidle")
    for text in ("js link", "clickable paragraph", "data link", "styled text"):
        locator = page.get_by_text(text, exact=False).first
        if locator.count():
            locator.hover()
            locator.click(no_wait_after=True)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("() => window.__pwned") is None
    assert page.url == served.url(path)
    assert page.title().startswith(HOSTILE_TITLE.split()[0]) and "pwned" not in page.title()
    dangerous = "script:not([data-sw]), iframe, form, object, embed, svg, math, meta[http-equiv=refresh]"
    assert page.locator(dangerous).count() == 0  # our one script: the worker's registration line
    assert recorder.foreign == []
    context.close()


def test_preview_server(demo_mirror):
    _, served = demo_mirror

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.build_opener(NoRedirect).open(served.url(""))
    assert info.value.code == 302 and info.value.headers["Location"] == "/site/"
    wasm = next((served.root / "site" / "pagefind").glob("wasm.*.pagefind"))
    with urllib.request.urlopen(served.url(f"site/pagefind/{wasm.name}")) as response:
        assert response.headers["Content-Type"] == "application/octet-stream"
    with urllib.request.urlopen(served.url("site/index.html")) as response:
        assert response.headers["Content-Type"].startswith("text/html")
