"""Parse a decoded page into an lxml tree with bounds, and prepare it for extraction.

Preparation (in place): absolute links and image sources (respecting <base href>), lazy images promoted, junk
images dropped, captions taken out of the flow (kept per image source), obvious boilerplate removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

from newsmirror.extract_images import caption_of, prepare_images

MAX_CHARS = 8_000_000  # refuse decoded pages larger than this (a news article is < 1 MB of HTML)
MAX_DEPTH = 400  # deeper markup is truncated at this depth (libxml2 limits it too)

_PARSER = lxml_html.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ALWAYS_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
                "button", "input", "select", "textarea", "dialog")
_BOILERPLATE = re.compile(
    r"cookie|consent|gdpr|newsletter|subscribe|signup|sign-up|paywall|share|social|sharing|"
    r"related|recommend|read-?more|more-?stories|outbrain|taboola|advert|\bads?\b|sponsor|promo|"
    r"comment|disqus|breadcrumb|pagination|sidebar|widget|popup|modal|toolbar|tags?-?list|byline|author-?bio",
    re.IGNORECASE,
)
# Classes containing a boilerplate word that are nevertheless content wrappers.
_CONTENT_WRAPPER = re.compile(r"article|story|post|entry|content|body|main|text", re.IGNORECASE)


class PageError(ValueError):
    """The page cannot be parsed as an HTML document (reason in the message)."""


@dataclass
class PreparedPage:
    root: object  # lxml.html.HtmlElement (the <html> element)
    base_url: str
    captions: dict[str, str] = field(default_factory=dict)  # image src -> caption text
    alts: dict[str, str] = field(default_factory=dict)  # image src -> alt text
    order: list[str] = field(default_factory=list)  # image srcs in document order


def parse_html(text: str):
    """An lxml.html tree of `text`; PageError if it is too large or not HTML."""
    if len(text) > MAX_CHARS:
        raise PageError(f"page too large ({len(text) // 1_000_000} MB decoded; limit {MAX_CHARS // 1_000_000} MB)")
    stripped = _XML_DECL.sub("", text, count=1).strip()
    if not stripped:
        raise PageError("empty page")
    head = stripped[:2000]
    if "<" not in head:
        raise PageError("not HTML (no markup)")
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f") + head.count("\ufffd")
    if controls > len(head) * 0.05:
        raise PageError("not HTML (binary content)")
    try:
        root = lxml_html.document_fromstring(stripped.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise PageError(f"unparsable HTML ({exc})") from exc
    if root is None:
        raise PageError("unparsable HTML")
    _cap_depth(root)
    return root


def _cap_depth(root) -> None:
    """Cut subtrees below MAX_DEPTH so recursive consumers stay bounded."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_DEPTH:
            for child in list(node):
                node.remove(child)
            continue
        stack.extend((child, depth + 1) for child in node)


def base_url_of(root, url: str) -> str:
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


def _is_boilerplate(el) -> bool:
    hint = f"{el.get('class') or ''} {el.get('id') or ''}"
    if not hint.strip() or not _BOILERPLATE.search(hint):
        return False
    if el.tag in ("body", "html", "main", "article"):
        return False
    # "article-share" is boilerplate, "article-body" is not: ignore matches whose element is a content wrapper
    # holding a lot of text.
    if _CONTENT_WRAPPER.search(hint) and len(el.text_content()) > 2000:
        return False
    return True


_LAYOUT_CELL_BLOCKS = ("p", "div", "table", "h1", "h2", "h3", "ul", "ol", "article", "section")


def is_layout_table(table) -> bool:
    """Tables used for page layout (nested tables, cells holding paragraphs or long text) rather than data."""
    if (table.get("role") or "").lower() in ("presentation", "none") or table.find(".//table") is not None:
        return True
    for cell in table.iter("td", "th"):
        if any(cell.iterfind(f".//{tag}") for tag in _LAYOUT_CELL_BLOCKS):
            return True
        if len(cell.text_content()) > 600:
            return True
    return False


def unwrap_layout_tables(root) -> None:
    """Turn layout tables into plain divs, so the extractor judges each cell as its own block."""
    for table in list(root.iter("table")):
        if table.getparent() is not None and is_layout_table(table):
            for el in table.iter("table", "tbody", "thead", "tfoot", "tr", "td", "th"):
                el.tag = "div"
                el.attrib.pop("colspan", None)


def prepare(root, url: str, *, strip_boilerplate: bool = True) -> PreparedPage:
    """Prepare a parsed page for extraction (in place) and collect image captions."""
    base = base_url_of(root, url)
    unwrap_layout_tables(root)
    for el in list(root.iter(*_ALWAYS_DROP)):
        if el.tag == "noscript" and el.find(".//img") is not None:
            continue  # handled by prepare_images
        _remove(el)
    for el in list(root.iter("nav")):
        _remove(el)
    if strip_boilerplate:
        for el in list(root.iter()):
            if isinstance(el.tag, str) and el.getparent() is not None and _is_boilerplate(el):
                _remove(el)
    root.make_links_absolute(base, resolve_base_href=False, handle_failures="ignore")
    prepare_images(root, base)
    page = PreparedPage(root=root, base_url=base)
    for img in root.iter("img"):
        src = img.get("src")
        caption, holder = caption_of(img)
        page.order.append(src)
        page.alts.setdefault(src, img.get("alt") or "")
        if caption:
            page.captions.setdefault(src, caption)
        if holder is not None and holder.getparent() is not None:
            _remove(holder)
    return page


def _remove(el) -> None:
    """Remove an element, keeping its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)
