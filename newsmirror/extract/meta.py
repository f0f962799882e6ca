"""Page metadata from the raw parsed page: title, dates, author, language, lead image.

Sources in order of trust: OpenGraph/article meta tags, JSON-LD (NewsArticle & co.), microdata, visible markup.
Read before the page is cleaned (the cleaning removes scripts and bylines).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

_ARTICLE_TYPES = re.compile(r"article|posting|report|news|blog", re.IGNORECASE)
_TITLE_SUFFIX = re.compile(r"\s+[|\-–—:·»]\s+[^|\-–—:·»]{2,60}$")
_BY = re.compile(r"^\s*(by|von|par|por|di|door|de)\s+", re.IGNORECASE)
_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class PageMeta:
    title: str = ""
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    language: str | None = None
    lead_image: str | None = None
    description: str = ""
    headlines: tuple[str, ...] = ()  # the title as the page shows it (h1s, og:title, <title>): not running text


def _meta_map(root) -> dict[str, str]:
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        value = (meta.get("content") or "").strip()
        if key and value and key not in found:
            found[key] = value
    return found


def _json_ld(root) -> list[dict]:
    """Article-like JSON-LD objects on the page (including those inside @graph)."""
    found: list[dict] = []
    for script in root.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                kind = item.get("@type")
                kinds = kind if isinstance(kind, list) else [kind]
                if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
                    found.append(item)
                if "@graph" in item:
                    stack.append(item["@graph"])
    found.reverse()
    return found


def _ld_value(objects: list[dict], key: str) -> str | None:
    for obj in objects:
        value = obj.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("name") or value.get("url")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _ld_authors(objects: list[dict]) -> str | None:
    for obj in objects:
        value = obj.get("author")
        items = value if isinstance(value, list) else [value]
        names = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name.strip() and not name.startswith("http"):
                names.append(name.strip())
        if names:
            return ", ".join(dict.fromkeys(names))
    return None


def iso_date(value: str | None) -> str | None:
    """ISO 8601 for a date string from markup (ISO-ish or RFC 2822); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    text = value.replace("Z", "+00:00").replace(" ", "T", 1) if _DATE_START.match(value) else value
    for candidate in (text, text[:25], text[:19], text[:10]):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if len(candidate) == 10:
            return parsed.date().isoformat()
        return parsed.isoformat()
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.isoformat()


def _first_date(*values: str | None) -> str | None:
    for value in values:
        date = iso_date(value)
        if date:
            return date
    return None


def _microdata(root, prop: str) -> str | None:
    for el in root.xpath(f"//@itemprop[. = '{prop}']/parent::*"):
        value = el.get("content") or el.get("datetime") or el.text_content()
        if value and value.strip():
            return value.strip()
    return None


def _text(el) -> str:
    return " ".join(el.text_content().split())


def _visible_author(root) -> str | None:
    # the most specific first: a byline often also holds the date and a "By"/"文／" prefix
    marked = root.xpath("//@rel[. = 'author'] | //@class[contains(., 'author') or contains(., 'byline')]")
    if not marked:
        return None
    ranked = sorted(marked, key=lambda value: (
        value.attrname != "rel",
        " author " not in f" {value} ",
        "byline" not in value,
    ))  # (stable: in page order within a rank)
    for value in ranked:
        text = _BY.sub("", _text(value.getparent())).strip()
        if 2 < len(text) < 80:
            return text
    return None


def page_title(root, meta: dict[str, str], ld: list[dict]) -> str:
    for value in (meta.get("og:title"), _ld_value(ld, "headline"), meta.get("twitter:title")):
        if value:
            return " ".join(value.split())
    for h1 in root.iter("h1"):
        text = _text(h1)
        if text:
            return text
    title = root.find(".//title")
    if title is not None and title.text:
        return _TITLE_SUFFIX.sub("", " ".join(title.text.split()))
    return ""


def _headlines(root, title: str) -> tuple[str, ...]:
    found = [title] if title else []
    for h1 in root.iter("h1"):
        text = _text(h1)
        if text and len(found) < 6:
            found.append(text)
    el = root.find(".//title")
    if el is not None and el.text:
        whole = " ".join(el.text.split())
        found += [whole, _TITLE_SUFFIX.sub("", whole)]
    return tuple(dict.fromkeys(found))


def page_meta(root, base_url: str) -> PageMeta:
    """Everything but the body, from the raw parsed page."""
    meta = _meta_map(root)
    ld = _json_ld(root)
    published = _first_date(
        meta.get("article:published_time"),
        _ld_value(ld, "datePublished"),
        meta.get("datepublished"),
        meta.get("pubdate"),
        meta.get("publishdate"),
        meta.get("publish-date"),
        meta.get("parsely-pub-date"),
        meta.get("sailthru.date"),
        meta.get("dc.date.issued"),
        meta.get("dc.date"),
        meta.get("date"),
    ) or _first_date(
        _microdata(root, "datePublished"),
        next((t.get("datetime") for t in root.iter("time") if t.get("datetime")), None),
    )
    updated = _first_date(
        meta.get("article:modified_time"),
        meta.get("og:updated_time"),
        _ld_value(ld, "dateModified"),
        meta.get("datemodified"),
        meta.get("last-modified"),
    ) or _first_date(_microdata(root, "dateModified"))
    author = (
        _ld_authors(ld)
        or next((v for k in ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator")
                 if (v := meta.get(k)) and not v.startswith("http")), None)
        or _visible_author(root)
    )
    lang = root.get("lang") or root.get("xml:lang") or meta.get("content-language") or meta.get("og:locale")
    language = re.split(r"[-_]", lang.strip())[0].lower() if lang and lang.strip() else None
    image = meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image") or _ld_value(ld, "image")
    title = page_title(root, meta, ld)
    return PageMeta(
        title=title,
        headlines=_headlines(root, title),
        published=published,
        updated=updated,
        author=author,
        language=language or None,
        lead_image=urljoin(base_url, image.strip()) if image else None,
        description=meta.get("og:description") or meta.get("description") or "",
    )
