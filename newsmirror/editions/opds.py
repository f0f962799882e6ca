"""The OPDS 1.2 catalogue of the offline editions (pure): one Atom acquisition feed listing every EPUB digest and
ZIM file, so an e-reader (KOReader, Calibre, Thorium) given the catalogue's URL can browse and download them.

Links are relative to the catalogue (`site/offline/catalog.xml` -> `epub/2026-03-02.epub`), so every mirror host
serves a working catalogue; with a public address the feed's id and self link name the primary one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from lxml import etree

from newsmirror.config import Config

ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
ACQUISITION = "http://opds-spec.org/acquisition"
CATALOG_TYPE = "application/atom+xml;profile=opds-catalog;kind=acquisition"
MEDIA_TYPES = {"epub": "application/epub+zip", "zim": "application/x-zim"}


@dataclass(frozen=True)
class CatalogEntry:
    href: str  # relative to the catalogue
    kind: str  # "epub" | "zim"
    title: str
    language: str
    updated: str  # "2026-03-02T00:00:00Z"
    length: int
    summary: str = ""


def media_type(kind: str) -> str:
    return MEDIA_TYPES[kind]


def render_catalog(title: str, author: str, feed_id: str, updated: str, entries: Sequence[CatalogEntry],
                   self_url: str | None = None) -> bytes:
    """The acquisition feed, entries in the order given (newest first); `updated`: the newest entry's time (fixed
    by the files listed, so an unchanged list gives the same bytes)."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "dc": DC, "opds": OPDS})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    _sub(feed, "updated", updated)
    _sub(_sub(feed, "author"), "name", author)
    _link(feed, "self", self_url or "catalog.xml", CATALOG_TYPE)
    _link(feed, "start", self_url or "catalog.xml", CATALOG_TYPE)
    for item in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{feed_id}:{item.href}")
        _sub(entry, "title", item.title)
        _sub(entry, "updated", item.updated)
        etree.SubElement(entry, f"{{{DC}}}language").text = item.language
        etree.SubElement(entry, f"{{{DC}}}issued").text = item.updated[:10]
        if item.summary:
            _sub(entry, "summary", item.summary)
        _link(entry, ACQUISITION, item.href, media_type(item.kind), length=str(item.length))
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    if text is not None:
        element.text = text
    return element


def _link(parent: etree._Element, rel: str, href: str, media: str, **extra: str) -> None:
    etree.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "href": href, "type": media, **extra})


def _size(length: int) -> str:
    return f"{length / (1 << 20):.1f} MB" if length >= 1 << 20 else f"{max(1, length >> 10)} KB"


def download_page(config: Config, entries: Sequence[CatalogEntry]) -> bytes:
    """The offline directory's index.html: every file by kind (anchors #epub and #zim), and the catalogue."""
    title, labels = config.mirror.title, config.labels
    parts = [f'<!doctype html>\n<html lang="{escape(config.mirror.language)}"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{escape(labels.offline)} · {escape(title)}</title>"
             f'<link rel="alternate" type="{CATALOG_TYPE}" href="catalog.xml"></head><body>'
             f'<p><a href="../index.html">{escape(labels.home)}</a></p><h1>{escape(labels.offline)}</h1>']
    for kind, heading in (("epub", "EPUB"), ("zim", "ZIM")):
        items = [e for e in entries if e.kind == kind]
        parts.append(f'<h2 id="{kind}">{heading}</h2><ul>')
        parts += [f'<li><a href="{escape(e.href)}" type="{media_type(kind)}" download>{escape(e.title)}</a> '
                  f"({_size(e.length)})</li>" for e in items]
        parts.append("<li>—</li></ul>" if not items else "</ul>")
    parts.append('<p><a href="catalog.xml">OPDS</a></p></body></html>\n')
    return "".join(parts).encode("utf-8")
