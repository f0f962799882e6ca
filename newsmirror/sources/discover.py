"""Discover (pure parsing): turn a source's fetched bytes into article candidates.

Feeds are parsed from bytes we fetched (never from a URL), listing pages with the source's CSS selectors, sitemaps
(including news sitemaps and one level of sitemap indexes) with lxml.
"""

from __future__ import annotations

import calendar
import json
import time
import zlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html
from lxml.cssselect import CSSSelector

from newsmirror.config import Source
from newsmirror.ids import url_problem
from newsmirror.errors import NewsmirrorError, Stage, printable
from newsmirror.records import Candidate


class DiscoverError(NewsmirrorError):
    def __init__(self, url: str, reason: str):
        super().__init__(url, Stage.DISCOVER, reason)


@dataclass
class Discovered:
    """What one source document announced: candidates in document order, the items that could not be used (one
    failure each, naming the item's URL), and for a sitemap index its child sitemaps."""

    candidates: list[Candidate] = field(default_factory=list)
    failures: list[DiscoverError] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    def item(self, where: str, make: Callable[[], Candidate | None]) -> None:
        """Add one item's candidate; whatever goes wrong inside `make` fails that item alone (the error
        boundary of discovery: a bug shows its exception type in the reason, and never stops the source)."""
        try:
            candidate = make()
        except DiscoverError as exc:
            self.failures.append(exc)
            return
        except Exception as exc:  # noqa: BLE001 - any value from the world must cost one item at most
            self.failures.append(DiscoverError(where, f"unexpected {type(exc).__name__}: {exc}"))
            return
        if candidate is not None:
            self.candidates.append(candidate)


# Dates outside these years (once in UTC) are not real publication dates: such an item is kept, date unknown.
# The margin keeps date arithmetic (windows, retention) clear of datetime's own limits.
YEARS = range(1000, 9999)


def iso_from_struct(value: object) -> str | None:
    """feedparser's parsed date (a UTC struct_time) as ISO 8601, or None when absent or impossible."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(value), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return _format(moment)


def iso_date(value: object) -> str | None:
    """An ISO 8601 / RFC 3339 date (or a plain day) as ISO 8601 UTC; None when absent, unreadable or
    impossible. Accepts any value: a JSON Feed field may hold any JSON type."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return _format(moment)


def _format(moment: datetime) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.year in YEARS else None


def _text(value: object) -> str | None:
    """A title or similar: a non-empty string, or None (a feed may put a list or an object there)."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _version(value: object) -> str | None:
    """A source's fingerprint of an entry: a string or number as text; anything else is no fingerprint."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def _http_url(url: str) -> bool:
    try:
        return urlsplit(url).scheme in {"http", "https"}
    except ValueError:
        return False


def article_url(raw: object, base: str) -> str:
    """An item's link resolved against the document's URL; DiscoverError when it cannot be fetched."""
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        url = urljoin(base, text) if isinstance(text, str) else text
    except ValueError as exc:
        raise DiscoverError(printable(text), f"invalid URL: {exc}") from None
    problem = url_problem(url)
    if problem:
        raise DiscoverError(printable(url), problem)
    return url


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


def parse_feed(body: bytes, source: Source, feed_url: str, content_type: str | None = None) -> Discovered:
    """RSS 0.9x/1.0/2.0, Atom and JSON Feed entries, in feed order (at most `max_items`). `content_type` is the
    response's, which feedparser uses to tell a feed from a page."""
    if body.lstrip()[:1] == b"{":
        return parse_json_feed(body, source, feed_url)
    body = trim_feed(body, source.max_items, feed_url)
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.entries:
        cause = parsed.get("bozo_exception")
        reason = f"not a feed ({cause})" if parsed.bozo and cause else "feed has no entries"
        raise DiscoverError(feed_url, reason)
    found = Discovered()
    entries = parsed.entries[: source.max_items]
    for number, entry in enumerate(entries, 1):
        found.item(f"{feed_url} (entry {number})", lambda: _feed_entry(entry, source, feed_url))
    if not found.candidates and not found.failures:
        cause = parsed.get("bozo_exception") if parsed.bozo else None
        broken = f" (and it is not well-formed XML: {cause})" if cause else ""
        raise DiscoverError(feed_url, f"none of the feed's {len(entries)} entries has a link{broken}")
    return found


def _feed_entry(entry: dict, source: Source, feed_url: str) -> Candidate | None:
    link = entry.get("link")
    if not (isinstance(link, str) and link.strip()):
        guid = entry.get("id")
        link = guid if isinstance(guid, str) and _http_url(guid.strip()) else None
    if link is None:
        return None  # an entry without a link is no article (a note, a podcast episode ...)
    # dict.get: feedparser's own lookup silently maps a missing "updated" to "published" (with a warning)
    updated = iso_from_struct(dict.get(entry, "updated_parsed"))
    return Candidate(
        url=article_url(link, feed_url), channel=source.channel, source=source.name, title=_text(entry.get("title")),
        published=iso_from_struct(dict.get(entry, "published_parsed")) or updated, updated=updated,
        source_version=_version(dict.get(entry, "updated") or dict.get(entry, "published")),
    )


def parse_json_feed(body: bytes, source: Source, feed_url: str) -> Discovered:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org), which feedparser does not read. Any field may hold any JSON
    type: what is not of the type the spec says is treated as absent."""
    try:
        data = json.loads(body)
        items = data["items"]
        if not isinstance(items, list):
            raise TypeError("'items' is not a list")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DiscoverError(feed_url, f"not a JSON Feed ({type(exc).__name__}: {exc})") from exc
    found = Discovered()
    items = items[: source.max_items]
    for number, item in enumerate(items, 1):
        found.item(f"{feed_url} (item {number})", lambda: _json_item(item, source, feed_url))
    if not found.candidates and not found.failures:
        raise DiscoverError(feed_url, f"none of the feed's {len(items)} items has a link")
    return found


def _json_item(item: object, source: Source, feed_url: str) -> Candidate | None:
    if not isinstance(item, dict):
        return None
    link = item.get("url") or item.get("external_url")
    if link is None or link == "":
        return None
    published, updated = iso_date(item.get("date_published")), iso_date(item.get("date_modified"))
    return Candidate(
        url=article_url(link, feed_url), channel=source.channel, source=source.name, title=_text(item.get("title")),
        published=published or updated, updated=updated,
        source_version=_version(item.get("date_modified") or item.get("date_published")),
    )


def parse_listing(page_html: str, source: Source, page_url: str) -> Discovered:
    """Article links on a channel listing page, chosen by `link_selector` (CSS). Links that are no web page
    (mailto:, javascript:, a fragment) are passed over: a selector may well match them."""
    try:
        tree = lxml_html.document_fromstring(page_html)
    except (etree.ParserError, ValueError) as exc:
        raise DiscoverError(page_url, f"listing page does not parse: {exc}") from exc
    base = page_url
    with suppress(ValueError):
        base = urljoin(page_url, tree.xpath("string(//base/@href)").strip()) or page_url
    seen: set[str] = set()
    found = Discovered()
    for link in CSSSelector(source.link_selector)(tree):
        href = (link.get("href") or "").strip()
        if not href or href.startswith("#") or not _http_url(_join(base, href)):
            continue
        url = _join(base, href).split("#", 1)[0]
        if url in seen:
            continue
        seen.add(url)
        found.item(url, lambda: _listing_link(link, url, source))
        if len(found.candidates) >= source.max_items:
            break
    if not found.candidates and not found.failures:
        raise DiscoverError(page_url, f"no links match selector {source.link_selector!r}")
    return found


def _join(base: str, href: str) -> str:
    try:
        return urljoin(base, href)
    except ValueError:
        return href


def _listing_link(link: lxml_html.HtmlElement, url: str, source: Source) -> Candidate:
    title_node = link
    if source.title_selector:
        matches = CSSSelector(source.title_selector)(link)
        title_node = matches[0] if matches else link
    return Candidate(url=article_url(url, url), channel=source.channel, source=source.name,
                     title=_text(title_node.text_content()))


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


def parse_sitemap(body: bytes, source: Source, sitemap_url: str) -> Discovered:
    """Article candidates (newest first) and child sitemap URLs from a sitemap, news sitemap or sitemap index
    (plain or gzip)."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_capped(body, MAX_SITEMAP_BYTES, sitemap_url)
    try:
        root = etree.fromstring(body, etree.XMLParser(**SAFE_XML))
    except etree.XMLSyntaxError as exc:
        raise DiscoverError(sitemap_url, f"sitemap is not valid XML: {exc}") from exc
    found = Discovered()
    for loc in root.iter(f"{SITEMAP_NS}loc"):
        parent = loc.getparent()
        if parent is not None and parent.tag == f"{SITEMAP_NS}sitemap" and (loc.text or "").strip():
            child = (loc.text or "").strip()
            found.item(child, lambda: found.children.append(article_url(child, sitemap_url)))
    for number, url_node in enumerate(root.iter(f"{SITEMAP_NS}url"), 1):
        found.item(f"{sitemap_url} (url {number})", lambda: _sitemap_entry(url_node, source, sitemap_url))
    # Newest first when dates are known, so max_items keeps the recent ones.
    found.candidates.sort(key=lambda c: c.published or "", reverse=True)
    del found.candidates[source.max_items:]
    if not found.candidates and not found.children and not found.failures:
        raise DiscoverError(sitemap_url, "sitemap lists no URLs")
    return found


def _sitemap_entry(url_node: etree._Element, source: Source, sitemap_url: str) -> Candidate | None:
    loc = (url_node.findtext(f"{SITEMAP_NS}loc") or "").strip()
    if not loc:
        return None
    lastmod = (url_node.findtext(f"{SITEMAP_NS}lastmod") or "").strip() or None
    news_date = (url_node.findtext(f"{NEWS_NS}news/{NEWS_NS}publication_date") or "").strip() or None
    return Candidate(
        url=article_url(loc, sitemap_url), channel=source.channel, source=source.name,
        title=_text(url_node.findtext(f"{NEWS_NS}news/{NEWS_NS}title")),
        published=iso_date(news_date) or iso_date(lastmod), updated=iso_date(lastmod),
        source_version=_version(lastmod or news_date),
    )


def parse_url_list(source: Source) -> Discovered:
    found = Discovered()
    for url in source.urls[: source.max_items]:
        found.item(printable(url), lambda: Candidate(url=article_url(url, url), channel=source.channel,
                                                     source=source.name))
    return found
