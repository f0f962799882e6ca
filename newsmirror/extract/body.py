"""trafilatura's XML body -> our clean body HTML, and body HTML -> running text.

The body HTML uses only p, h2-h4, ul/ol/li, blockquote, pre, table/tr/th/td, strong/em/code/sub/sup/del, br,
a[href] and figure(img[src alt], figcaption). The running text leaves out figures (so captions and credits never
reach it); paragraphs are separated by blank lines, list items and table rows by line breaks.
"""

from __future__ import annotations

from html import escape

import re
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from newsmirror.extract.images import absolute_url
from newsmirror.records import ImageRef

_HI = {"#b": "strong", "#i": "em", "#u": "em", "#t": "code", "#sub": "sub", "#sup": "sup"}
_SIMPLE = {"p": "p", "item": "li", "quote": "blockquote", "table": "table", "row": "tr", "lb": "br", "del": "del",
           "code": "pre", "ul": "ul", "ol": "ol", "li": "li", "blockquote": "blockquote", "tr": "tr", "td": "td",
           "th": "th", "h2": "h2", "h3": "h3", "h4": "h4", "strong": "strong", "em": "em", "b": "strong",
           "i": "em", "br": "br", "pre": "pre", "sub": "sub", "sup": "sup"}
_INLINE_PARENTS = {"p", "h2", "h3", "h4", "a", "strong", "em", "code", "sub", "sup", "del"}
_TEXT_BLOCKS = {"p", "h2", "h3", "h4", "pre", "tr", "dt", "dd"}
_SPECIAL = ("p", "h2", "h3", "h4", "pre", "table", "ul", "ol", "blockquote", "br", "figure")  # (inside a block:
# its text needs more than joining)
_NESTED_BLOCKS = ("p", "h2", "h3", "h4", "pre", "table", "ul", "ol", "blockquote")  # a text block holding these
# is walked as a container (trafilatura may leave a table inside a paragraph or a cell)
_SPACE = re.compile(r"\s+")


def _tag_for(el) -> str | None:
    tag = el.tag
    if tag == "head":
        level = (el.get("rend") or "h3")[1:]
        return f"h{min(4, max(2, int(level) if level.isdigit() else 3))}"
    if tag == "list":
        return "ol" if el.get("rend") == "ol" else "ul"
    if tag == "cell":
        return "th" if el.get("role") == "head" else "td"
    if tag == "hi":
        return _HI.get(el.get("rend") or "", "em")
    if tag in ("ref", "a"):
        return "a"
    if tag in ("h1", "h5", "h6"):
        return {"h1": "h2", "h5": "h4", "h6": "h4"}[tag]
    return _SIMPLE.get(tag)


def _append_text(parent, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


@dataclass
class _Context:
    base_url: str
    captions: dict[str, str]
    alts: dict[str, str]
    images: list[ImageRef] = field(default_factory=list)


def _rename(body, ctx: _Context) -> None:
    """Turn trafilatura's XML elements into ours, in place: renamed, attributes dropped (a link keeps its href,
    resolved); an element we have no tag for gives way to its content; a picture becomes a <figure>."""
    unknown: set[str] = set()
    pictures = []
    for el in body.iterdescendants():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag in ("graphic", "img"):
            pictures.append(el)
            continue
        new = _SIMPLE.get(tag) or _tag_for(el)
        if new is None:
            unknown.add(tag)
            continue
        href = (el.get("target") or el.get("href") or "") if new == "a" else None
        el.attrib.clear()
        el.tag = new
        if href:
            href = absolute_url(ctx.base_url, href.strip())
            if href.startswith(("http://", "https://", "mailto:")):
                el.set("href", href)
    for el in pictures:
        _picture(el, ctx)
    if unknown:
        etree.strip_tags(body, *unknown)
    body.tag = "div"
    body.attrib.clear()


def _picture(el, ctx: _Context) -> None:
    """A picture of the extracted body as a <figure> (with its caption), or gone if it has no usable source."""
    url = (el.get("src") or "").strip()
    if not url or url.startswith("data:") or any(i.src == url for i in ctx.images):
        _append_after(el, el.tail)
        el.getparent().remove(el)
        return
    ref = ImageRef(url, ctx.alts.get(url) or el.get("alt") or "", ctx.captions.get(url, ""))
    ctx.images.append(ref)
    figure = etree.Element("figure")
    etree.SubElement(figure, "img", src=ref.src, alt=ref.alt)
    if ref.caption:
        etree.SubElement(figure, "figcaption").text = ref.caption
    figure.tail = el.tail
    el.getparent().replace(el, figure)


def _hoist_figures(body) -> None:
    """A figure inside a paragraph or heading moves to just after that block (figures are not phrasing)."""
    for figure in list(body.iter("figure")):
        block, parent = figure, figure.getparent()
        while parent is not None and parent.tag in _INLINE_PARENTS:
            block, parent = parent, parent.getparent()
        if block is figure:
            continue
        tail, figure.tail = figure.tail, None
        _append_after(figure, tail)
        block.addnext(figure)
        figure.tail = None


def _append_after(el, text: str | None) -> None:
    """Put `text` where `el` was, before `el` is moved away."""
    if not text:
        return
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent = el.getparent()
        parent.text = (parent.text or "") + text


def _prune_empty(body) -> None:
    for el in reversed(list(body.iter())):
        if el is body or el.tag in ("br", "img", "figure", "td", "th"):
            continue
        if len(el) == 0 and not (el.text or "").strip():
            parent = el.getparent()
            if el.tail and el.tail.strip():
                _append_after(el, el.tail)
            parent.remove(el)


_CELL_BLOCKS = ("table", "h2", "h3", "h4", "ul", "ol", "blockquote", "pre")
_FLOW_BLOCKS = frozenset(("p", "h2", "h3", "h4", "ul", "ol", "blockquote", "pre", "table", "figure"))
LAYOUT_CELL_CHARS = 600  # a table cell holding more text than this is a column of a page layout


def _is_layout_cell(cell) -> bool:
    if next(cell.iterdescendants(*_CELL_BLOCKS), None) is not None:
        return True
    if sum(1 for _ in cell.iterdescendants("p")) >= 2:
        return True
    return sum(len(t) for t in cell.itertext()) > LAYOUT_CELL_CHARS


def _layout_parts(body) -> list:
    """The tables, rows and cells of the body that lay out a page rather than hold data (trafilatura keeps a
    page built of tables as rows and cells, with the article's paragraphs, headings and tables inside them),
    and rows or cells outside a table."""
    parts: dict[int, object] = {}

    def take(el) -> None:
        parts[id(el)] = el

    for row in body.iter("tr"):
        if row.getparent() is None or row.getparent().tag != "table":
            take(row)
    for cell in body.iter("td", "th"):
        row = cell.getparent()
        if row is None or row.tag != "tr" or id(row) in parts:
            take(cell)
            continue
        if id(cell) in parts or not _is_layout_cell(cell):
            continue
        table = row.getparent()
        take(table)
        for el in table.iter("tr", "td", "th"):
            if next(el.iterancestors("table"), None) is table:
                take(el)
    return sorted(parts.values(), key=_depth, reverse=True)


def _depth(el) -> int:
    return sum(1 for _ in el.iterancestors())


def _dissolve(el) -> None:
    """Replace `el` by its content as blocks: runs of text and inline elements become paragraphs."""
    pieces: list = []
    para = None

    def inline(node=None, text=None) -> None:
        nonlocal para
        if node is None and not (text and text.strip()):
            return
        if para is None:
            para = etree.Element("p")
            pieces.append(para)
        if node is not None:
            para.append(node)
        else:
            _append_text(para, text)

    inline(text=el.text)
    for child in list(el):
        tail, child.tail = child.tail, None
        if child.tag in _FLOW_BLOCKS or child.tag in ("tr", "td", "th"):
            pieces.append(child)
            para = None
        elif child.tag != "br" or para is not None:
            inline(child)
        inline(text=tail)
    for piece in pieces:
        el.addprevious(piece)
    _append_after(el, el.tail)
    el.getparent().remove(el)


def xml_to_body(
    xml_body, base_url: str, captions: dict[str, str], alts: dict[str, str]
) -> tuple[object, list[ImageRef]]:
    """Convert trafilatura's XML body (in place: it becomes the <div> returned) into clean HTML (links resolved
    against `base_url`); also return the images in document order."""
    body = xml_body
    ctx = _Context(base_url, captions, alts)
    _rename(body, ctx)
    for part in _layout_parts(body):
        _dissolve(part)
    _hoist_figures(body)
    _prune_empty(body)
    return body, ctx.images


def body_to_html(body) -> str:
    """Serialize the body's children (no wrapper) as HTML; loose text between them becomes paragraphs."""
    parts = [_loose(body.text)]
    for child in body:
        parts.append(lxml_html.tostring(child, encoding="unicode", method="html", with_tail=False))
        parts.append(_loose(child.tail))
    return "\n".join(p for p in parts if p)


def _loose(text: str | None) -> str:
    text = " ".join((text or "").split())
    return f"<p>{escape(text)}</p>" if text else ""


def _inline_text(el) -> str:
    if next(el.iterdescendants("br", "figure", "ul", "ol", "table"), None) is None:
        return " ".join("".join(el.itertext()).split())  # (the common case: no line breaks, nothing to skip)
    pieces: list[str] = []

    def walk(node) -> None:
        if node.tag == "figure":
            pass
        elif node.tag == "br":
            pieces.append("\x00")
        else:
            pieces.append(node.text or "")
            for child in node:
                if child.tag not in ("ul", "ol", "table"):
                    walk(child)
        if node is not el:
            pieces.append(node.tail or "")

    walk(el)
    lines = (_SPACE.sub(" ", line).strip() for line in "".join(pieces).split("\x00"))
    return "\n".join(line for line in lines if line)


def body_to_text(body, texts=None) -> str:
    """The running text of a body: blocks separated by blank lines, list items and rows by line breaks.
    `texts` (extract_filters.Texts), when given, already holds the text of the body's plain blocks."""
    blocks: list[str] = []

    def walk(el) -> None:
        tag = el.tag
        if tag == "figure":
            return
        if tag in ("ul", "ol"):
            items = []
            for li in el:
                if li.tag == "li":
                    text = _inline_text(li)
                    if text:
                        items.append(text)
                    for nested in li.iter("ul", "ol", "table"):
                        if nested.getparent() is li:
                            if items:
                                blocks.append("\n".join(items))
                                items = []
                            walk(nested)
            if items:
                blocks.append("\n".join(items))
            return
        if tag == "table":
            rows = [" | ".join(_inline_text(c) for c in tr if c.tag in ("td", "th")) for tr in el.iter("tr")]
            rows = [r for r in rows if r.strip(" |")]
            if rows:
                blocks.append("\n".join(rows))
            return
        if tag in _TEXT_BLOCKS and tag != "pre" and next(el.iterdescendants(*_SPECIAL), None) is None:
            # the common case: plain text and inline markup
            text = texts(el) if texts is not None else " ".join("".join(el.itertext()).split())
            if text:
                blocks.append(text)
            return
        if tag in _TEXT_BLOCKS and (tag == "pre" or next(el.iterdescendants(*_NESTED_BLOCKS), None) is None):
            text = "".join(el.itertext()) if tag == "pre" else _inline_text(el)
            if text.strip():
                blocks.append(text.strip())
            return
        if el.text and el.text.strip():
            blocks.append(_SPACE.sub(" ", el.text).strip())
        for child in el:
            walk(child)
            if child.tail and child.tail.strip():
                blocks.append(_SPACE.sub(" ", child.tail).strip())

    walk(body)
    return "\n\n".join(blocks)


def _norm(text: str) -> str:
    """Lower-case letters and digits only (a headline compared whatever its punctuation and spacing)."""
    return _NOT_ALNUM.sub("", text.lower())


_NOT_ALNUM = re.compile(r"[\W_]+")


KICKER_MAX_CHARS = 50  # a section label or kicker above the headline is shorter than this


def drop_headline(body, headlines: tuple[str, ...], lookahead: int = 3) -> int:
    """Remove leading blocks that repeat the headline (the title is not running text), and the short kicker or
    section label above it."""
    wanted = {n for n in map(_norm, headlines) if n}
    if not wanted:
        return 0
    longest = 2 * max(len(h) for h in headlines)  # a block longer than this is no headline (normalised or not)
    removed = 0
    above: list = []  # short blocks before the headline (kickers)
    for child in list(body)[: lookahead + 2]:
        if child.tag == "figure":
            continue
        raw = "".join(child.itertext())
        if len(raw) > longest:
            break
        text = _norm(raw)
        if text and text in wanted:
            for el in (*above, child):
                body.remove(el)
                removed += 1
            above = []
        elif 0 < len(text) <= KICKER_MAX_CHARS and len(above) < 2:
            above.append(child)
        elif text:
            break
    return removed
