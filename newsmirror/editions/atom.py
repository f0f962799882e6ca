"""Atom feeds of the HTML edition (pure): one per channel and one for the whole mirror.

Deterministic: no wall clock; the feed's <updated> is its newest entry's date. Links are absolute when the mirror
has a public URL (`public_base_urls[0]` + the page's path), else relative to the edition root, declared by xml:base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = "1970-01-01T00:00:00Z"

ET.register_namespace("", ATOM)


@dataclass(frozen=True)
class FeedEntry:
    id: str  # permanent: the article's canonical original URL
    title: str
    link: str  # absolute, or relative to the feed's xml:base
    updated: str  # any ISO 8601 date; normalised to RFC 3339 UTC
    summary: str = ""


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    author: str
    alternate: str  # the HTML page listing the same entries
    entries: Sequence[FeedEntry]
    self_link: str | None = None  # absolute URL of the feed, when known
    base: str | None = None  # xml:base for relative links
    language: str | None = None
    subtitle: str = ""


def rfc3339(value: str | None) -> str:
    """'2026-03-06T01:30:00+08:00' -> '2026-03-05T17:30:00Z'; a date alone is midnight UTC; junk -> the epoch."""
    if not value:
        return EPOCH
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return EPOCH
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def render_feed(feed: Feed) -> bytes:
    root = ET.Element(f"{{{ATOM}}}feed")
    if feed.base:
        root.set(XML_BASE, feed.base)
    if feed.language:
        root.set(XML_LANG, feed.language)
    _sub(root, "id", feed.id)
    _sub(root, "title", feed.title)
    if feed.subtitle:
        _sub(root, "subtitle", feed.subtitle)
    updates = [rfc3339(e.updated) for e in feed.entries]
    _sub(root, "updated", max(updates) if updates else EPOCH)
    _sub(_sub(root, "author"), "name", feed.author or "newsmirror")
    _sub(root, "link", rel="alternate", type="text/html", href=feed.alternate)
    if feed.self_link:
        _sub(root, "link", rel="self", type="application/atom+xml", href=feed.self_link)
    _sub(root, "generator", "newsmirror")
    for entry, updated in zip(feed.entries, updates):
        item = _sub(root, "entry")
        _sub(item, "id", entry.id)
        _sub(item, "title", entry.title)
        _sub(item, "link", rel="alternate", type="text/html", href=entry.link)
        _sub(item, "updated", updated)
        if entry.summary:
            _sub(item, "summary", entry.summary)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                      xml_declaration=False) + b"\n"


def summary_of(text: str, limit: int = 240) -> str:
    """The first `limit` characters of an article's running text, cut at a space or sentence end if one is near."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for mark in ("。", "！", "？", ". ", " "):
        at = cut.rfind(mark)
        if at >= limit * 0.6:
            return cut[: at + len(mark)].rstrip() + "…"
    return cut + "…"
