"""The ZIM edition with real tools: the demo mirror's HTML edition packed with libzim, checked by Debian's zimcheck,
served by kiwix-serve and read in Chromium (main page, an article's images, Kiwix's full-text search in Chinese and
English). Plus the page rewriting that makes the edition work inside Kiwix, on small pages.

kiwix-serve runs with XAPIAN_CJK_NGRAM=1: the index holds CJK n-grams whatever the language (libzim 9.2), but
Debian's kiwix-serve 3.3 (libzim 8.1) splits a Chinese query into n-grams only with it, so without it a word of
three or more characters is not found (measured; two-character words are).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest

from newsmirror import layout
from newsmirror.demo.content import GBK_SLUG, LAZY_SLUG
from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite
from newsmirror.editions.zim import ZimMeta, build_zim, plan_entries, reader_policy, rewrite_page, zim_name
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter

import chromium
from conftest import make_config
from test_html_browser import assert_images_decode

CHINESE_WORD = "说书人"  # inside "修缮期间，说书人李先生一直在社区活动中心临时演出" (the GBK demo article)
ENGLISH_WORD = "observatory"  # inside a caption and a sentence of the lazy-image demo article
ORIGIN = "https://mirror.example.org/news/"


# -- rewriting pages for Kiwix (pure) -------------------------------------------------------------------------


PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'sha256-x'; form-action 'none'">
<title>茶馆 · Mirror</title></head><body><article><h1>茶馆</h1>
<p><a href="../../search.html">Search</a> <a href="../../index.html#top">home</a>
<a href="https://mirror.example.org/news/site/pages/city/b.html">https://mirror.example.org/news/site/pages/city/b.html</a>
<a href="../../offline/index.html">offline</a> <a href="https://elsewhere.example/x">out</a> <a href="#n">note</a>
<a href="../../pages/city/%E8%8C%B6.html">encoded</a></p>
<img src="../../../assets/ab/1.webp" alt="kept" onerror="alert(1)"><img src="../../../assets/ab/gone.webp" alt="missing">
</article><script data-sw="../../sw.js">navigator.serviceWorker.register("sw.js")</script></body></html>"""
PACKED = {"site/index.html", "site/pages/city/b.html", "assets/ab/1.webp", "site/pages/city/茶.html"}


def test_a_page_for_kiwix_keeps_relative_links_and_drops_what_kiwix_cannot_use():
    html, title, front, targets = rewrite_page("site/pages/city/a.html", PAGE.encode(), (ORIGIN,),
                                               lambda target: target in PACKED)
    doc = lxml.html.document_fromstring(html)
    links = {a.text: a.get("href") for a in doc.iter("a")}
    assert "Search" not in links  # the Pagefind page is not packed: Kiwix has its own search box
    assert links["home"] == "../../index.html#top"
    assert links[ORIGIN + "site/pages/city/b.html"] == "b.html"  # the mirror's own address, made relative
    assert links["offline"] == ORIGIN + "site/offline/index.html"  # not packed: the online copy
    assert links["out"] == "https://elsewhere.example/x" and links["note"] == "#n"
    assert links["encoded"] == "%E8%8C%B6.html"  # found under its decoded name, written encoded again
    assert [(img.get("alt"), img.get("onerror")) for img in doc.iter("img")] == [("kept", None)]
    assert doc.find(".//script") is None
    policy = doc.find(".//meta[@http-equiv]").get("content")
    assert "script-src 'self' 'unsafe-inline'" in policy and "form-action 'self'" in policy
    assert "sha256" not in policy
    assert (title, front) == ("茶馆 · Mirror", True)
    assert targets == PACKED


def test_without_a_public_address_a_link_to_what_is_not_packed_is_dropped():
    html, *_ = rewrite_page("site/pages/city/a.html", PAGE.encode(), (), lambda target: target in PACKED)
    doc = lxml.html.document_fromstring(html)
    assert "offline" not in {a.text for a in doc.iter("a")}
    # the absolute address is not known as the mirror's own: it stays an outside link
    assert any(a.get("href") == ORIGIN + "site/pages/city/b.html" for a in doc.iter("a"))


def test_policy_and_name():
    assert reader_policy("default-src 'self'; script-src 'sha256-a'; form-action 'none'") == \
        "default-src 'self'; script-src 'self' 'unsafe-inline'; form-action 'self'"
    assert zim_name("Demo News Mirror", "eng,zho") == "demo-news-mirror_eng"
    assert zim_name("新闻镜像", "zho").startswith("mirror-") and zim_name("新闻镜像", "zho").endswith("_zho")


def test_search_bundle_service_worker_and_offline_files_stay_out(tmp_path):
    site = tmp_path / "site"
    for path in ("index.html", "search.html", "search.js", "sw.js", "pagefind/pagefind.js", "offline/zim/a.zim",
                 "zh-hant/search.html", "zh-hant/index.html", "feeds/all.xml", "pages/c/a.png"):
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(b"<!doctype html><title>t</title><a href='search.html'>s</a>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "unused.webp").write_bytes(b"x")
    paths = {entry.path: entry.mimetype for entry in plan_entries(tmp_path, site)}
    assert paths == {"site/index.html": "text/html", "site/zh-hant/index.html": "text/html",
                     "site/feeds/all.xml": "application/atom+xml", "site/pages/c/a.png": "image/png"}


# -- the demo mirror through zimcheck, kiwix-serve and Chromium ----------------------------------------------


def demo_meta(config, day: date = date(2026, 3, 2)) -> ZimMeta:
    return ZimMeta(title=config.mirror.title, description=config.mirror.description or config.mirror.title,
                   language="eng", creator="newsmirror", publisher="newsmirror", main_path="index.html",
                   origins=tuple(layout.public_bases(config, html=True)), day=day)


@pytest.fixture(scope="module")
def demo_zim(tmp_path_factory):
    for tool in ("zimcheck", "kiwix-serve"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install -y zim-tools kiwix-tools")
    directory = tmp_path_factory.mktemp("zim")
    with DemoSite(public_host=DEMO_HOST) as site:
        config = make_config(site, directory)
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop running in this thread
            summary = pool.submit(run_once, config, Reporter(QUIET)).result()
        assert summary.failed == 0 and summary.new >= 40
    site_dir = config.output_dir / layout.html_dir(config)
    started = time.perf_counter()
    path = build_zim(site_dir, directory / "demo.zim", demo_meta(config))
    print(f"\nZIM of the demo mirror: {path.stat().st_size} bytes in {time.perf_counter() - started:.2f} s")
    return config, site_dir, path


def test_the_same_pages_give_the_same_bytes(demo_zim, tmp_path):
    config, site_dir, path = demo_zim
    again = build_zim(site_dir, tmp_path / "again.zim", demo_meta(config))
    assert again.read_bytes() == path.read_bytes()
    other_day = build_zim(site_dir, tmp_path / "later.zim", demo_meta(config, date(2026, 3, 3)))
    assert other_day.read_bytes()[8:24] != path.read_bytes()[8:24]  # the UUID follows the content (its Date)


def test_zimcheck_finds_no_error(demo_zim):
    _, _, path = demo_zim
    result = subprocess.run(["zimcheck", "-A", str(path)], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Overall Test Status: Pass" in result.stdout, result.stdout + result.stderr
    assert "ERROR" not in result.stdout


class KiwixServe:
    def __init__(self, zim: Path):
        self.book = zim.stem
        for _ in range(5):  # a free port can be taken between asking and binding: try another
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            self.process = subprocess.Popen(["kiwix-serve", "-i", "127.0.0.1", "-p", str(port), str(zim)],
                                            env={**os.environ, "XAPIAN_CJK_NGRAM": "1"},
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.origin = f"http://127.0.0.1:{port}"
            if self._ready():
                return
            self.close()
        pytest.fail("kiwix-serve did not start")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.origin}/{self.book}/", timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        return False

    def content(self, path: str) -> str:
        return f"{self.origin}/{self.book}/{path}"

    def search(self, word: str) -> str:
        return f"{self.origin}/search?content={self.book}&pattern={quote(word)}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def kiwix(demo_zim):
    server = KiwixServe(demo_zim[2])
    yield server
    server.close()


@pytest.fixture(scope="module")
def page():
    with chromium.launched() as browser:
        yield browser.new_page()


def test_kiwix_shows_the_main_page_and_an_article_with_its_images(demo_zim, kiwix, page):
    config, site_dir, _ = demo_zim
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(kiwix.content(""), wait_until="load")  # the main page, by Kiwix's redirect
    assert page.url.endswith("/site/index.html")
    assert page.locator("h1").first.inner_text() == config.mirror.title
    assert page.locator("a[href^='pages/']").count() >= 10
    assert page.locator("#kiwixsearchbox").count() == 1  # Kiwix's own toolbar, its scripts not blocked
    for slug in (GBK_SLUG, LAZY_SLUG):
        article = next(site_dir.glob(f"pages/*/{slug}.html")).relative_to(site_dir.parent).as_posix()
        page.goto(kiwix.content(article), wait_until="load")
        assert page.locator("article img").count() > 0
        assert_images_decode(page, "article img")  # from assets/, outside the site directory
        assert_images_decode(page, "footer img")  # the QR code
    page.wait_for_load_state("networkidle")
    assert blocked == []


def pages_with(site_dir: Path, word: str) -> set[str]:
    """Every packed HTML page whose text holds the word (paths in the ZIM)."""
    return {entry.path for entry in plan_entries(site_dir.parent, site_dir)
            if entry.content is not None and word in lxml.html.document_fromstring(entry.content).text_content()}


@pytest.mark.parametrize("word, slug", [(CHINESE_WORD, GBK_SLUG), (ENGLISH_WORD, LAZY_SLUG)])
def test_kiwix_full_text_search_finds_a_word_from_inside_a_sentence(demo_zim, kiwix, page, word, slug):
    _, site_dir, _ = demo_zim
    expected = pages_with(site_dir, word)
    article = next(site_dir.glob(f"pages/*/{slug}.html")).relative_to(site_dir.parent).as_posix()
    assert article in expected
    page.goto(kiwix.search(word), wait_until="load")
    found = {href.split(f"/{kiwix.book}/", 1)[1]
             for href in page.locator(".results a").evaluate_all("links => links.map(a => a.href)")}
    assert article in found, (word, sorted(found))
    assert found <= expected, sorted(found - expected)  # no page without the word
