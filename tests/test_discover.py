import pytest

from newsmirror.config import Source
from newsmirror.sources.discover import DiscoverError, parse_feed, parse_listing, parse_sitemap, parse_url_list

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>/a/one.html</link><guid>1</guid><pubDate>Mon, 02 Mar 2026 08:00:00 +0800</pubDate></item>
<item><title>Two</title><link>https://n.example/a/two.html</link></item>
<item><title>Bad</title><link>javascript:alert(1)</link></item>
<item><title>No link at all</title><description>x</description></item>
</channel></rss>"""


def source(kind="feed", **extra):
    return Source(name="s", kind=kind, channel="world", url="https://n.example/feed", **extra)


def test_rss_entries_resolved_and_dated():
    found = parse_feed(RSS, source(), "https://n.example/feed.xml").candidates
    assert [c.url for c in found] == ["https://n.example/a/one.html", "https://n.example/a/two.html"]
    assert found[0].published == "2026-03-02T00:00:00Z" and found[0].title == "One"


def test_malformed_feed_is_a_discover_error():
    with pytest.raises(DiscoverError, match=r"https://n.example/feed.xml \[discover\]"):
        parse_feed(b"<html><body>not a feed</body></html>", source(), "https://n.example/feed.xml")


def test_listing_uses_selector_and_dedupes():
    html = """<nav><a href="/about">About</a></nav><ul class="list"><li><a class="h" href="/a/1.html">First</a>
    <a class="h" href="/a/1.html#c">First again</a></li><li><a class="h" href="a/2.html">Second</a></li></ul>"""
    found = parse_listing(html, source("listing", link_selector="ul.list a.h"), "https://n.example/ch/").candidates
    assert [(c.url, c.title) for c in found] == [("https://n.example/a/1.html", "First"),
                                                  ("https://n.example/ch/a/2.html", "Second")]
    with pytest.raises(DiscoverError, match="no links match"):
        parse_listing(html, source("listing", link_selector="div.none a"), "https://n.example/ch/")


def test_news_sitemap_and_index():
    xml = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://n.example/a/old.html</loc><lastmod>2026-01-01</lastmod></url>
      <url><loc>https://n.example/a/new.html</loc><news:news><news:publication_date>2026-03-01T10:00:00Z</news:publication_date>
      <news:title>New</news:title></news:news></url></urlset>"""
    discovered = parse_sitemap(xml, source("sitemap"), "https://n.example/sitemap.xml")
    found, children = discovered.candidates, discovered.children
    assert [c.url for c in found] == ["https://n.example/a/new.html", "https://n.example/a/old.html"]
    assert found[0].title == "New" and children == []
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>/s1.xml</loc></sitemap>
    </sitemapindex>"""
    assert parse_sitemap(index, source("sitemap"), "https://n.example/sitemap.xml").children == ["https://n.example/s1.xml"]


def test_url_list():
    found = parse_url_list(Source(name="p", kind="urls", channel="picks", urls=["https://n.example/x", "ftp://no"])).candidates
    assert [c.url for c in found] == ["https://n.example/x"]


def test_json_feed():
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
      {"id": "1", "url": "/a/one.html", "title": "One", "date_published": "2026-03-02T08:00:00+08:00"},
      {"id": "2", "external_url": "https://n.example/a/two.html", "date_modified": "2026-03-03T00:00:00Z"},
      {"id": "3", "content_text": "no link"}]}"""
    found = parse_feed(body, source(), "https://n.example/feed.json").candidates
    assert [(c.url, c.published) for c in found] == [("https://n.example/a/one.html", "2026-03-02T00:00:00Z"),
                                                      ("https://n.example/a/two.html", "2026-03-03T00:00:00Z")]
    with pytest.raises(DiscoverError, match="not a JSON Feed"):
        parse_feed(b'{"items": 3}', source(), "https://n.example/feed.json")
