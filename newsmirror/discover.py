"""Discover (pure parsing): turn a source's fetched bytes into article candidates.

Feeds are parsed from bytes we fetched (never from a URL), listing pages with the source's CSS selectors, sitemaps
(including news sitemaps and one level of sitemap indexes) with lxml.
"""

from __future__ import annotations

import calendar
import json
import time
import zlib
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html
from lxml.cssselect import CSSSelector

from newsmirror.config import Source
from newsmirror.records import Candidate, NewsmirrorError, Stage


class DiscoverError(NewsmirrorError):
    def __init__(self, url: str, reason: str):
        super().__init__(url, Stage.DISCOVER, reason)


def iso_from_struct(value: time.struct_time | None) -> str | None:
    if not value:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(value)))


def _http_url(url: str) -> bool:
    return urlsplit(url).scheme in {"http", "https"}


SAFE_XML = dict(resolve_entities=False, no_network=True, huge_tree=False)


def trim_feed(body: bytes, max_items: int, feed_url: str) -> bytes:
    """Refuse feeds that declare XML entities (billion laughs); keep only the first `max_items` entries, so a
    feed of 100 000 items costs one lxml pass rather than a feedparser parse of everything. Bytes that are not
    well-formed XML go to feedparser's forgiving parser unchanged."""
    try:
        root = etree.fromstring(body, etree.XMLParser(**SAFE_XML))
    except etree.XMLSyntaxError:
        if b"<!ENTITY" in body[:65536]:
            raise DiscoverError(feed_url, "feed declares XML entities (refused: entity expansion)") from None
        return body
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and list(dtd.iterentities()):
        raise DiscoverError(feed_url, "feed declares XML entities (refused: entity expansion)")
    entries = list(root.iter("{*}item", "{*}entry"))
    if len(entries) <= max_items:
        return body
    for extra in entries[max_items:]:
        extra.getparent().remove(extra)
    return etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=True)


def parse_feed(body: bytes, source: Source, feed_url: str) -> list[Candidate]:
    """RSS 0.9x/1.0/2.0, Atom and JSON Feed entries, in feed order (at most `max_items`)."""
    if body.lstrip()[:1] == b"{":
        return parse_json_feed(body, source, feed_url)
    body = trim_feed(body, source.max_items, feed_url)
    parsed = feedparser.parse(body, response_headers={"content-location": feed_url})
    if not parsed.entries:
        cause = parsed.get("bozo_exception")
        reason = f"not a feed ({cause})" if parsed.bozo and cause else "feed has no entries"
        raise DiscoverError(feed_url, reason)
    candidates = []
    for entry in parsed.entries[: source.max_items]:
        link = entry.get("link") or ""
        if not link and isinstance(entry.get("id"), str) and _http_url(entry["id"]):
            link = entry["id"]
        link = urljoin(feed_url, link.strip()) if link.strip() else ""
        if not link or not _http_url(link):
            continue
        # dict.get: feedparser's own lookup silently maps a missing "updated" to "published" (with a warning)
        updated = iso_from_struct(dict.get(entry, "updated_parsed"))
        published = iso_from_struct(dict.get(entry, "published_parsed")) or updated
        version = dict.get(entry, "updated") or dict.get(entry, "published") or None
        candidates.append(Candidate(
            url=link, channel=source.channel, source=source.name, title=(entry.get("title") or None),
            published=published, updated=updated, source_version=version,
        ))
    if not candidates and parsed.bozo:  # a broken document whose fragments yielded no usable entry
        raise DiscoverError(feed_url, f"not a feed ({parsed.get('bozo_exception')})")
    return candidates


def parse_json_feed(body: bytes, source: Source, feed_url: str) -> list[Candidate]:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org), which feedparser does not read."""
    try:
        data = json.loads(body)
        items = data["items"]
        if not isinstance(items, list):
            raise TypeError("'items' is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise DiscoverError(feed_url, f"not a JSON Feed ({exc})") from exc
    candidates = []
    for item in items[: source.max_items]:
        if not isinstance(item, dict):
            continue
        raw = str(item.get("url") or item.get("external_url") or "").strip()
        link = urljoin(feed_url, raw) if raw else ""
        if not link or not _http_url(link):
            continue
        published, updated = _iso(item.get("date_published")), _iso(item.get("date_modified"))
        candidates.append(Candidate(
            url=link, channel=source.channel, source=source.name, title=item.get("title") or None,
            published=published or updated, updated=updated,
            source_version=item.get("date_modified") or item.get("date_published") or None,
        ))
    if not candidates:
        raise DiscoverError(feed_url, "feed has no entries")
    return candidates


def _iso(value: object) -> str | None:
    """An RFC 3339 date as ISO 8601 UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_listing(page_html: str, source: Source, page_url: str) -> list[Candidate]:
    """Article links on a channel listing page, chosen by `link_selector` (CSS)."""
    try:
        tree = lxml_html.document_fromstring(page_html)
    except (etree.ParserError, ValueError) as exc:
        raise DiscoverError(page_url, f"listing page does not parse: {exc}") from exc
    base = tree.xpath("string(//base/@href)") or page_url
    seen: set[str] = set()
    candidates = []
    for link in CSSSelector(source.link_selector)(tree):
        href = (link.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        url = urljoin(urljoin(page_url, base), href).split("#", 1)[0]
        if url in seen or not _http_url(url):
            continue
        seen.add(url)
        title_node = link
        if source.title_selector:
            found = CSSSelector(source.title_selector)(link)
            title_node = found[0] if found else link
        title = " ".join(title_node.text_content().split()) or None
        candidates.append(Candidate(url=url, channel=source.channel, source=source.name, title=title))
        if len(candidates) >= source.max_items:
            break
    if not candidates:
        raise DiscoverError(page_url, f"no links match selector {source.link_selector!r}")
    return candidates


SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit on an uncompressed sitemap


def gunzip_capped(body: bytes, limit: int, url: str) -> bytes:
    """A .xml.gz body served as a file (no Content-Encoding), inflated to at most `limit` bytes."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DiscoverError(url, f"sitemap is not valid gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise DiscoverError(url, f"sitemap larger than {limit} bytes once decompressed")
    return data


def parse_sitemap(body: bytes, source: Source, sitemap_url: str) -> tuple[list[Candidate], list[str]]:
    """(article candidates, child sitemap URLs) from a sitemap, news sitemap or sitemap index (plain or gzip)."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_capped(body, MAX_SITEMAP_BYTES, sitemap_url)
    try:
        root = etree.fromstring(body, etree.XMLParser(**SAFE_XML))
    except etree.XMLSyntaxError as exc:
        raise DiscoverError(sitemap_url, f"sitemap is not valid XML: {exc}") from exc
    children = [
        (loc.text or "").strip() for loc in root.iter(f"{SITEMAP_NS}loc")
        if loc.getparent() is not None and loc.getparent().tag == f"{SITEMAP_NS}sitemap"
    ]
    entries = []
    for url_node in root.iter(f"{SITEMAP_NS}url"):
        loc = (url_node.findtext(f"{SITEMAP_NS}loc") or "").strip()
        if not loc or not _http_url(urljoin(sitemap_url, loc)):
            continue
        lastmod = (url_node.findtext(f"{SITEMAP_NS}lastmod") or "").strip() or None
        news_date = (url_node.findtext(f"{NEWS_NS}news/{NEWS_NS}publication_date") or "").strip() or None
        title = (url_node.findtext(f"{NEWS_NS}news/{NEWS_NS}title") or "").strip() or None
        entries.append(Candidate(
            url=urljoin(sitemap_url, loc), channel=source.channel, source=source.name, title=title,
            published=news_date or lastmod, updated=lastmod, source_version=lastmod or news_date,
        ))
    # Newest first when dates are known, so max_items keeps the recent ones.
    entries.sort(key=lambda c: c.published or "", reverse=True)
    if not entries and not children:
        raise DiscoverError(sitemap_url, "sitemap lists no URLs")
    return entries[: source.max_items], [urljoin(sitemap_url, c) for c in children if c]


def parse_url_list(source: Source) -> list[Candidate]:
    return [
        Candidate(url=url.strip(), channel=source.channel, source=source.name)
        for url in source.urls[: source.max_items]
        if _http_url(url.strip())
    ]
