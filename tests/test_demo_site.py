"""The bundled demo site: a real server on 127.0.0.1, checked with httpx, feedparser, lxml and Pillow."""

from __future__ import annotations

import io
import re

import feedparser
import httpx
import pytest
from lxml import html as lxml_html
from PIL import Image

from newsmirror.config import parse_config
from newsmirror.demo import content
from newsmirror.demo.site import (BOILERPLATE_PHRASES, CHANNELS, FEEDS, GBK_SLUG, JS_SLUG, LAZY_SLUG, SHARED_SLUG,
                                  DemoSite, demo_config_text)


@pytest.fixture(scope="module")
def site():
    with DemoSite() as s:
        yield s


@pytest.fixture(scope="module")
def client(site):
    with httpx.Client(base_url=site.base_url, timeout=5) as c:
        yield c


@pytest.fixture()
def fresh():
    """A site of its own, for tests that edit articles or force statuses."""
    with DemoSite() as s, httpx.Client(base_url=s.base_url, timeout=5) as c:
        yield s, c


def _doc(response: httpx.Response):
    return lxml_html.fromstring(response.content, base_url=str(response.url))


def _body_text(page) -> str:
    return page.cssselect("div.article-body")[0].text_content()


def test_channels_and_article_count(site, client):
    assert len(CHANNELS) >= 3 and set(CHANNELS.values()) == {"rss", "atom", "listing"}
    urls = site.article_urls()
    assert len(urls) >= 40 and len(set(urls)) == len(urls)
    assert site.js_article_url() not in urls
    for channel in CHANNELS:
        langs = {a.lang for a in site.channel_articles(channel)}
        assert langs == {"en", "zh"}, channel
    home = _doc(client.get("/"))
    assert {f"/{ch}/" for ch in CHANNELS} <= set(home.xpath("//a/@href"))


def test_every_article_page_has_metadata_and_boilerplate(site, client):
    for url in site.article_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        page = _doc(response)
        article = page.cssselect("article")[0]
        assert article.cssselect("h1") and article.cssselect("p.byline time[datetime]")
        assert page.xpath("//meta[@property='og:title']/@content")
        assert page.xpath("//link[@rel='canonical']/@href") == [url]
        for selector in ("nav", "aside.sidebar", "div.related", "section.comments", "div.share",
                         "div.cookie-banner", "footer"):
            assert page.cssselect(selector), (url, selector)
        paragraphs = page.cssselect("div.article-body > p")
        assert 3 <= len(paragraphs) <= 40, url


def test_boilerplate_phrases_are_on_pages_but_not_in_bodies(site, client):
    page_text = client.get(site.base_url + "/articles/coral-nursery.html").text
    assert sum(phrase in page_text for phrase in BOILERPLATE_PHRASES) >= 8
    for article in content.load_articles().values():
        body = article.text() + article.title + article.summary
        assert not [p for p in BOILERPLATE_PHRASES if p in body], article.slug


def test_article_shapes():
    articles = [a for a in content.load_articles().values() if a.serve != "js"]
    kinds = {block[0] for a in articles for block in a.body}
    assert {"p", "h2", "ul", "ol", "quote", "figure", "lazy"} <= kinds
    longest_zh = max(len(a.text()) for a in articles if a.lang == "zh")
    assert longest_zh >= 2500


def test_rss_feed(site, client):
    response = client.get(FEEDS["science"])
    assert response.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "rss20"
    assert len(feed.entries) == len(site.channel_articles("science"))
    for entry in feed.entries:
        assert entry.title and entry.summary and entry.id and entry.published_parsed
        assert re.fullmatch(r"\w{3}, \d\d \w{3} 2026 \d\d:\d\d:\d\d \+0000", entry.published)
        assert client.get(entry.link).status_code == 200


def test_atom_feed(site, client):
    response = client.get(FEEDS["city"])
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "atom10"
    assert len(feed.entries) == len(site.channel_articles("city"))
    for entry in feed.entries:
        assert entry.id.startswith("tag:") and entry.summary and entry.updated_parsed
        assert re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", entry.published)


def test_shared_article_in_two_feeds(site, client):
    url = f"{site.base_url}/articles/{SHARED_SLUG}.html"
    links = {ch: [e.link for e in feedparser.parse(client.get(path).content).entries] for ch, path in FEEDS.items()}
    assert all(url in found for found in links.values())


def test_listing_page_needs_the_selector(site, client):
    assert "sports" not in FEEDS
    response = client.get("/sports/")
    page = _doc(response)
    page.make_links_absolute(str(response.url))
    listed = [a.get("href") for a in page.cssselect("ul.article-list a.headline")]
    expected = [site.base_url + a.path for a in site.channel_articles("sports")]
    assert listed == expected
    sidebar = {a.get("href") for a in page.cssselect("aside.sidebar a")}
    assert sidebar - set(expected)  # a loose "a[href*=articles]" would pick other channels' articles
    assert client.get("/sports").status_code == 301


def test_gbk_article_without_declared_charset(site, client):
    response = client.get(f"/articles/{GBK_SLUG}.html")
    assert response.headers["content-type"] == "text/html"
    assert b"charset" not in response.content.lower()
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    text = response.content.decode("gb18030")
    assert content.load_articles()[GBK_SLUG].title in text and "茶馆" in text


def test_lazy_image_and_images(site, client):
    page = _doc(client.get(f"/articles/{LAZY_SLUG}.html"))
    lazy = page.cssselect("img[data-src]")[0]
    assert lazy.get("src") == "/static/placeholder.gif" and lazy.get("data-src").startswith("/images/")
    assert client.get("/static/placeholder.gif").headers["content-type"] == "image/gif"
    figure = page.cssselect("figure figcaption span.credit")
    assert figure and figure[0].text_content().startswith("Photo:")
    names = sorted(content.image_names())
    assert any(n.endswith(".png") for n in names) and any(n.endswith(".jpg") for n in names)
    seen = set()
    for name in names[::5] + [lazy.get("data-src").removeprefix("/images/")]:
        response = client.get(f"/images/{name}")
        kind = "png" if name.endswith(".png") else "jpeg"
        assert response.headers["content-type"] == f"image/{kind}"
        assert 1000 < len(response.content) < 60_000
        image = Image.open(io.BytesIO(response.content))
        assert image.format.lower() == kind and image.size == content.IMAGE_SIZES[name[-3:]]
        seen.add(response.content)
    assert len(seen) == len(names[::5]) + 1
    assert client.get("/images/missing.jpg").status_code == 404


def test_in_article_links(site, client):
    hrefs = []
    for slug in ("spring-rain-forecast", "night-sky-comet", "riverside-greenway"):
        response = client.get(f"/articles/{slug}.html")
        body = _doc(response).cssselect("div.article-body")[0]
        hrefs += [(str(response.url), a.get("href")) for a in body.cssselect("a")]
    assert any(h.startswith(site.base_url) for _, h in hrefs)
    assert any(not h.startswith(("http", "/")) for _, h in hrefs)
    for page_url, href in hrefs:
        assert client.get(httpx.URL(page_url).join(href)).status_code == 200, href


def test_js_article(site, client):
    response = client.get(site.js_article_url())
    page = _doc(response)
    assert page.cssselect("#story-body")[0].text_content().strip() == ""
    assert "createElement" in response.text and "Kiprop" in response.text
    for path in FEEDS.values():
        assert JS_SLUG not in client.get(path).text
    assert client.get(f"/articles/{JS_SLUG}.html").status_code == 404


def test_conditional_get(site, client):
    for path in (f"/articles/{SHARED_SLUG}.html", f"/articles/{GBK_SLUG}.html", FEEDS["science"], FEEDS["city"]):
        first = client.get(path)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert client.get(path, headers={"If-Modified-Since": "Thu, 01 Jan 2026 00:00:00 GMT"}).status_code == 200


def test_edit_article_changes_page_etag_and_feeds(fresh):
    site, client = fresh
    path = f"/articles/{SHARED_SLUG}.html"
    before = client.get(path)
    feeds_before = {p: client.get(p) for p in FEEDS.values()}
    site.edit_article(SHARED_SLUG, "Update: the bureau now expects a drier final week.")
    after = client.get(path)
    assert after.headers["etag"] != before.headers["etag"]
    assert "drier final week" in _body_text(_doc(after))
    assert client.get(path, headers={"If-None-Match": before.headers["etag"]}).status_code == 200
    assert client.get(path, headers={"If-Modified-Since": before.headers["last-modified"]}).status_code == 200
    for feed_path, old in feeds_before.items():
        new = client.get(feed_path)
        assert new.headers["etag"] != old.headers["etag"]
        assert new.headers["last-modified"] != old.headers["last-modified"]
        url = site.base_url + path
        entry = lambda r: next(e for e in feedparser.parse(r.content).entries if e.link == url)  # noqa: E731
        assert entry(new).updated_parsed > entry(old).updated_parsed
        assert entry(new).published == entry(old).published
    with DemoSite() as other, httpx.Client() as c:  # edits are per instance
        assert "drier final week" not in c.get(other.base_url + path).text


def test_set_status(fresh):
    site, client = fresh
    path = FEEDS["science"]
    site.set_status(path, 500)
    assert client.get(path).status_code == 500
    site.set_status(f"/articles/{SHARED_SLUG}.html", 404)
    assert client.get(f"/articles/{SHARED_SLUG}.html?x=1").status_code == 404
    site.set_status(path, None)
    assert client.get(path).status_code == 200
    assert ("GET", path) in site.requests


def test_unknown_path_and_quiet_server(fresh, capfd):
    site, client = fresh
    assert client.get("/no/such/page").status_code == 404
    assert client.head("/").status_code == 200
    assert site.requests[-2:] == [("GET", "/no/such/page"), ("HEAD", "/")]
    assert capfd.readouterr().err == ""


def test_content_is_deterministic(site, client):
    with DemoSite() as other, httpx.Client(base_url=other.base_url) as c:
        for path in ("/feeds/science.rss", "/feeds/city.atom", "/sports/", f"/articles/{GBK_SLUG}.html",
                     "/images/rain-over-harbour.jpg"):
            a = client.get(path).content.replace(site.base_url.encode(), b"BASE")
            b = c.get(path).content.replace(other.base_url.encode(), b"BASE")
            assert a == b, path


def test_demo_config_parses(site):
    text = demo_config_text(site.base_url, output="out", state="out.db")
    config = parse_config(text, "demo.toml")
    assert config.mirror.output == "out" and config.mirror.state == "out.db"
    assert config.labels.home == "首页" and config.mirror.title == "Demo News Mirror"
    kinds = {s.channel: s.kind for s in config.sources}
    assert kinds == {"science": "feed", "city": "feed", "sports": "listing"}
    for source in config.sources:
        assert source.url.startswith(site.base_url)
        slug = re.search(source.id_pattern, site.article_urls()[0]).group(1)
        assert slug in content.load_articles()
    assert text.count("#") > 20  # commented for users


def test_public_host_names_the_site_independently_of_the_port():
    pages = []
    for _ in range(2):
        with DemoSite(public_host="news.demo.test") as s, httpx.Client(base_url=s.base_url) as c:
            assert s.article_urls()[0].startswith(s.base_url + "/articles/")
            assert s.public_url == "http://news.demo.test"
            feed = feedparser.parse(c.get(FEEDS["city"]).content)
            assert all(e.link.startswith("http://news.demo.test/") for e in feed.entries)
            paths = ("/", "/sports/", FEEDS["science"], f"/articles/{SHARED_SLUG}.html")
            pages.append([c.get(path).content for path in paths])
            assert s.base_url.encode() not in b"".join(pages[-1])
    assert pages[0] == pages[1]
