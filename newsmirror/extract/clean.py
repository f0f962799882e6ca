"""Parse a decoded page into an lxml tree with bounds, and prepare it for extraction.

Preparation (in place), each step a named heuristic (extract_heuristics): noscript content kept, hidden blocks
dropped, forum replies dropped, embedded posts (tweets, ...) freed from their widgets, hover cards inside
paragraphs dropped, layout tables beside a menu unwrapped, split article bodies joined, scripts/forms/nav removed
(a removed tag that swallowed the page is unwrapped instead), loose text made paragraphs, lazy images promoted to
absolute sources (respecting <base href>), junk images dropped, captions taken out of the flow (kept per image).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

from newsmirror.extract.blocks import drop_elements, keep_noscript_content, loose_text_paragraphs
from newsmirror.extract.heuristics import Heuristics
from newsmirror.extract.posts import drop_replies
from newsmirror.extract.images import find_captions, prepare_images
from newsmirror.extract.htmltree import remove_keeping_tail

MAX_CHARS = 8_000_000  # refuse decoded pages larger than this (a news article is < 1 MB of HTML)
# Nesting depth needs no check of ours: libxml2 stops parsing at depth 256, so every tree here is shallower.

_PARSER = etree.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
# Every element an lxml.html.HtmlElement (trafilatura wants those), chosen in C: lxml.html's own lookup calls a
# Python method for each element object created, a tenth of the extraction's time (its special form-field
# classes are of no use here).
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment, pi=lxml_html.HtmlProcessingInstruction
    )
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")  # control characters but tab, newlines, form feed
_ALWAYS_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
                "button", "input", "select", "textarea", "dialog")
class PageError(ValueError):
    """The page cannot be parsed as an HTML document (reason in the message)."""


@dataclass
class PreparedPage:
    root: object  # lxml.html.HtmlElement (the <html> element)
    base_url: str
    captions: dict[str, str] = field(default_factory=dict)  # image src -> caption text
    alts: dict[str, str] = field(default_factory=dict)  # image src -> alt text


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
    controls = len(_CONTROL.findall(head))
    if controls > len(head) * 0.05:
        raise PageError("not HTML (binary content)")
    try:
        root = lxml_html.document_fromstring(stripped.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise PageError(f"unparsable HTML ({exc})") from exc
    if root is None:
        raise PageError("unparsable HTML")
    return root


def base_url_of(root, url: str) -> str:
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


_LAYOUT_CELL_BLOCKS = ("p", "div", "table", "h1", "h2", "h3", "ul", "ol", "article", "section")


def is_layout_table(table) -> bool:
    """Tables used for page layout (nested tables, cells holding long text, or cells holding blocks when the
    table is no grid of short cells) rather than data."""
    if (table.get("role") or "").lower() in ("presentation", "none") or table.find(".//table") is not None:
        return True
    cells = list(table.iter("td", "th"))
    sizes = [len(cell.text_content()) for cell in cells]
    if any(size > 600 for size in sizes):
        return True
    if _is_grid(table, sizes):
        return False  # a data table, even when a CMS wraps each cell's value in a <p> or <div>
    return any(next(cell.iterdescendants(*_LAYOUT_CELL_BLOCKS), None) is not None for cell in cells)


GRID_MAX_CELL_CHARS = 150  # mean text of a data table's cells


def _is_grid(table, sizes: list[int]) -> bool:
    """Three or more rows, nearly all with the same number (two or more) of cells, and short cells."""
    widths = [sum(1 for cell in row if cell.tag in ("td", "th")) for row in table.iter("tr")]
    if len(widths) < 3 or not sizes or sum(sizes) / len(sizes) > GRID_MAX_CELL_CHARS:
        return False
    common = max(set(widths), key=widths.count)
    return common >= 2 and widths.count(common) >= 0.8 * len(widths)


def _has_navigation_cell(cells: list) -> bool:
    """One of a table's own cells is mostly links: a menu beside the content."""
    for cell in cells:
        size = len(cell.text_content().strip())
        if size >= 20 and sum(len(a.text_content().strip()) for a in cell.iter("a")) >= 0.7 * size:
            return True
    return False


def unwrap_layout_tables(root) -> int:
    """Turn layout tables that set a menu beside the content into plain divs, so the extractor judges each cell
    as its own block (a layout table without one is left whole: its content may span several cells)."""
    tables = list(root.iter("table"))
    if not tables:
        return 0
    own: dict[int, list] = {}  # table -> its own cells (not those of tables inside it), in one pass
    for cell in root.iter("td", "th"):
        table = next(cell.iterancestors("table"), None)
        if table is not None:
            own.setdefault(id(table), []).append(cell)
    count = 0
    for table in tables:
        cells = own.get(id(table), [])
        if table.getparent() is not None and _has_navigation_cell(cells) and is_layout_table(table):
            for el in list(table.iter("tbody", "thead", "tfoot", "tr")):
                if next(el.iterancestors("table")) is table:  # not the parts of a nested (data) table
                    el.tag = "div"
            for cell in cells:
                cell.tag = "div"
                cell.attrib.pop("colspan", None)
            table.tag = "div"
            count += 1
    return count


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BODYISH = re.compile(r"body|content|text|article|story|entry|chunk|paragraph|post", re.IGNORECASE)
MERGE_MIN_TEXT = 200  # a split-body part must hold this much paragraph text


def remove_hidden(root) -> int:
    """Drop elements the page hides (metadata blocks, templates), unless one holds most of the page's text
    (some pages hide the article until a script reveals it)."""
    hidden = [
        value.getparent() for value in root.xpath("//@hidden | //@style")
        if value.attrname == "hidden" or _HIDDEN_STYLE.search(value)
    ]
    hidden = [el for el in dict.fromkeys(hidden) if el.tag not in ("html", "body", "head")]
    if not hidden:
        return 0
    total = len(root.text_content())
    count = 0
    for el in hidden:
        if el.getparent() is not None and len(el.text_content()) < total * 0.4:
            remove_keeping_tail(el)
            count += 1
    return count


def _paragraph_text(el) -> int:
    return sum(len(p.text_content()) for p in el if p.tag == "p")


def merge_split_bodies(root) -> int:
    """Join an article body split into several same-class containers (ads or widgets between the parts), so
    the extractor, which picks one container, sees all of it."""
    groups: dict[tuple[str, str], list] = {}
    for el in root.iter("div", "section", "article"):
        cls = el.get("class")
        if cls and _BODYISH.search(cls):
            groups.setdefault((el.tag, cls), []).append(el)
    count = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        parts = [m for m in members if _paragraph_text(m) >= MERGE_MIN_TEXT]
        if len(parts) < 2 or any(_is_inside(b, a) for a in parts for b in parts if a is not b):
            continue
        first = parts[0]
        for other in parts[1:]:
            for child in list(other):
                first.append(child)
            remove_keeping_tail(other)
            count += 1
    return count


def _is_inside(el, ancestor) -> bool:
    return any(a is ancestor for a in el.iterancestors())


_EMBEDDED_POST = re.compile(r"\b(?:twitter-tweet|twitter-video|instagram-media|tiktok-embed|reddit-card)\b")
EMBED_WRAPPER_SLACK = 200  # a post's wrapper may add this much text ("View on Twitter", ...)


def unwrap_embedded_posts(root) -> int:
    """Embedded posts (tweets, Instagram, TikTok) quote the story's sources: replace each post and the widget
    wrapping it by a plain <blockquote>, so neither widget removal nor the extractor drops it."""
    count = 0
    for quote in list(root.iter("blockquote")):
        if not _EMBEDDED_POST.search(quote.get("class") or ""):
            continue
        count += 1
        size, blocks = len(quote.text_content()), _count_blocks(quote)
        node = quote
        for parent in quote.iterancestors():
            if parent.tag not in ("div", "figure", "aside", "section", "span") or (
                len(parent.text_content()) > size + EMBED_WRAPPER_SLACK or _count_blocks(parent) > blocks
            ):
                break
            node = parent
        quote.attrib.clear()
        if node is not quote:
            quote.tail = node.tail
            node.getparent().replace(node, quote)
    return count


def remove_hover_cards(root) -> int:
    """Pop-up cards inside running text (a person's photo and latest headlines shown on hovering a name): an
    inline span in a paragraph holding a picture and several links, its text mostly those links. Dropped, else
    their text splits the sentence; the largest span holding only the card goes (not the one that also holds
    the hovered name). Found from the pictures up (a page has few), not by searching every paragraph."""
    count = 0
    for img in list(root.iter("img")):
        spans, in_paragraph = [], False
        for ancestor in img.iterancestors():
            if ancestor.tag == "span":
                spans.append(ancestor)
            elif ancestor.tag == "p":
                in_paragraph = True
                break
        span = next((s for s in spans if sum(1 for _ in s.iter("a")) >= 2), None) if in_paragraph else None
        if span is None:
            continue
        card, text = span, span.text_content().strip()
        if sum(len(a.text_content().strip()) for a in span.iter("a")) < len(text) / 2:
            continue  # a picture's caption, or running text, with links in it
        for parent in span.iterancestors():
            if parent.tag != "span" or parent.text_content().strip() != text:
                break
            card = parent
        if card.getparent() is not None:
            remove_keeping_tail(card)
            count += 1
    return count


def _count_blocks(el) -> int:
    return sum(1 for _ in el.iter("p", "img", "h2", "h3", "h4", "table", "ul", "ol"))


def prepare(root, url: str, heuristics: Heuristics) -> PreparedPage:
    """Prepare a parsed page for extraction (in place) and collect image captions."""
    base = base_url_of(root, url)
    run = heuristics.run
    run("noscript_body", keep_noscript_content, root)
    run("hidden_blocks", remove_hidden, root)
    run("forum_replies", drop_replies, root)
    run("embedded_posts", unwrap_embedded_posts, root)
    run("hover_cards", remove_hover_cards, root)
    run("layout_tables", unwrap_layout_tables, root)
    run("split_bodies", merge_split_bodies, root)
    guard = partial(heuristics.trace.add, "guard:drop")
    drop_elements(root, _ALWAYS_DROP, guard, keep=_noscript_picture)  # (those go in prepare_images)
    for el in list(root.iter("nav", "head")):  # (the head's metadata was read before)
        remove_keeping_tail(el)
    run("loose_paragraphs", loose_text_paragraphs, root)
    prepare_images(root, base)  # (links in the body are made absolute after extraction: far fewer of them)
    page = PreparedPage(root=root, base_url=base)
    for img in root.iter("img"):
        src = img.get("src")
        page.alts.setdefault(src, img.get("alt") or "")
    run("caption_blocks", _captions_out, root, page)
    return page


def _noscript_picture(el) -> bool:
    return el.tag == "noscript" and el.find(".//img") is not None


def _captions_out(root, page: PreparedPage) -> int:
    found = find_captions(root)
    for holder, caption, imgs in found:
        for img in imgs:
            page.captions.setdefault(img.get("src"), caption)
        remove_keeping_tail(holder)
    return len(found)
