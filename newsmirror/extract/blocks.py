"""Structural preparation of a parsed page: make running text look like running text to the extractor.

The main-content extractor scores paragraphs (<p>). Text that a page sets without them (lines separated by
<br><br>, text between blocks of a layout cell, a post written straight into a <div>) is at a disadvantage: a
block of such text loses to a smaller one with <p> tags, or is dropped. These steps work in place on the lxml tree.
"""

from __future__ import annotations

from lxml import etree
from lxml import html as lxml_html

from newsmirror.extract.htmltree import remove_keeping_tail

# block-level tags: they end a run of inline content
BLOCK_TAGS = frozenset(
    "address article aside blockquote center details dialog dd div dl dt fieldset figure footer form h1 h2 h3 h4 h5 "
    "h6 header hr li main menu nav ol p pre section table tbody thead tfoot tr td th ul noscript".split()
)
# containers whose loose text is made into paragraphs
_CONTAINERS = ("div", "td", "th", "section", "article", "main", "body", "center", "blockquote", "dd", "form")
LOOSE_MIN_CHARS = 30  # a run of loose text shorter than this (a separator, a label) is left alone


def _has_loose_text(el) -> bool:
    if el.text and len(el.text.strip()) >= LOOSE_MIN_CHARS:
        return True
    return any(child.tail and len(child.tail.strip()) >= LOOSE_MIN_CHARS for child in el)


def _has_br_pair(el) -> bool:
    for br in el.iterchildren("br"):
        nxt = br.getnext()
        if nxt is not None and nxt.tag == "br" and not (br.tail or "").strip():
            return True
    return False


def loose_text_paragraphs(root) -> int:
    """Text set directly in a container, between its blocks or separated by <br><br>, becomes <p> paragraphs
    (runs of text and inline elements; a <br><br> splits a run). Returns the number of paragraphs made."""
    made = 0
    for el in list(root.iter(*_CONTAINERS)):
        if _has_loose_text(el) or (len(el) and _has_br_pair(el) and _has_text_children(el)):
            made += _wrap_runs(el)
    return made


def _has_text_children(el) -> bool:
    return bool((el.text or "").strip()) or any((c.tail or "").strip() for c in el)


def _wrap_runs(el) -> int:
    """Rebuild `el`'s children: blocks stay, runs of text and inline elements become paragraphs."""
    items: list = []  # element or str, in order
    if el.text:
        items.append(el.text)
    for child in el:
        items.append(child)
        if child.tail:
            items.append(child.tail)
    for child in list(el):
        child.tail = None
        el.remove(child)
    el.text = None

    made = 0
    out: list = []
    para = None

    def add_text(text: str) -> None:
        if para is None:
            if out:
                out[-1].tail = (out[-1].tail or "") + text
            else:
                el.text = (el.text or "") + text
        elif len(para):
            para[-1].tail = (para[-1].tail or "") + text
        else:
            para.text = (para.text or "") + text

    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        if isinstance(item, str):
            if para is None and item.strip():
                para = el.makeelement("p", {})
                out.append(para)
                made += 1
            add_text(item)
            continue
        if not isinstance(item.tag, str) or item.tag in BLOCK_TAGS:
            out.append(item)
            para = None
            continue
        if item.tag == "br":
            following = next((i for i in items[index:] if not (isinstance(i, str) and not i.strip())), None)
            if para is None or (following is not None and not isinstance(following, str) and following.tag == "br"):
                para = None  # a break between blocks, or the first of a pair: a paragraph ends here
                while index < len(items) and (isinstance(items[index], str) and not items[index].strip()):
                    index += 1
                if index < len(items) and not isinstance(items[index], str) and items[index].tag == "br":
                    index += 1  # the pair's second <br>
                continue
            para.append(item)
            continue
        if para is None:
            para = el.makeelement("p", {})
            out.append(para)
            made += 1
        para.append(item)
    for node in out:
        el.append(node)
    return made


def keep_noscript_content(root) -> int:
    """A <noscript> holding paragraphs of running text (a page rendered by script keeps its article there for
    readers without it; or an unclosed tag inside one swallowed the rest of the page) loses its tag and keeps
    its content, unless that text is on the page twice. Returns how many were unwrapped."""
    kept = 0
    page_text = None
    for noscript in list(root.iter("noscript")):
        if noscript.getparent() is None or not holds_prose(noscript):
            continue
        if page_text is None:
            page_text = " ".join(root.text_content().split())
        if page_text.count(" ".join(noscript.text_content().split())[:80]) > 1:
            continue
        noscript.drop_tag()
        kept += 1
    return kept


DROP_MAX_SHARE = 0.3  # a tag dropped as non-content holding more of the page's text than this, and paragraphs
# of running text, is a parsing accident (an unclosed tag inside it swallowed the rest of the page): its tag goes,
# its content stays


def drop_elements(root, tags: tuple[str, ...], trace_guard, keep=None) -> int:
    """Remove every element with one of these tags (scripts, forms' controls, navigation...) but those `keep`
    says to keep, keeping the text after each; one holding more than DROP_MAX_SHARE of the page's text and
    paragraphs of running text is unwrapped instead and reported to `trace_guard()`. Returns how many were
    removed."""
    doomed = [el for el in root.iter(*tags) if keep is None or not keep(el)]
    if not doomed:
        return 0
    total = None
    removed = 0
    for el in doomed:
        if el.getparent() is None:
            continue
        if len(el) and el.tag not in ("script", "style"):
            if total is None:
                total = len(root.text_content())
            if len(el.text_content()) > DROP_MAX_SHARE * total and holds_prose(el):
                el.drop_tag()
                trace_guard()
                continue
        elif el.tag in _RAW_TEXT and len(el.text or "") > 1000 and "<p" in el.text:
            if total is None:
                total = len(root.text_content())
            if len(el.text) > DROP_MAX_SHARE * total and _reparse(el):
                trace_guard()
                continue
        remove_keeping_tail(el)
        removed += 1
    return removed


_RAW_TEXT = ("iframe", "textarea")  # the parser keeps their content as text: unclosed, they hold the page's rest


def _reparse(el) -> bool:
    """Put the markup an unclosed raw-text tag swallowed back into the page, parsed; False if it holds no prose."""
    try:
        holder = lxml_html.fragment_fromstring(el.text, create_parent="div")
    except (etree.ParserError, ValueError):
        return False
    if not holds_prose(holder):
        return False
    holder.tail = el.tail
    el.getparent().replace(el, holder)
    return True



PROSE_MIN_CHARS = 80  # a paragraph of running text: this long, and less than a third of it link text


def holds_prose(el, paragraphs: int = 2) -> bool:
    """Whether `el` holds `paragraphs` or more paragraphs of running text (a widget holds one line, links, a
    form; an article in a widget-named container, or swallowed by an unclosed tag, holds paragraphs)."""
    found = 0
    for p in el.iter("p"):
        text = p.text_content()
        if len(text) >= PROSE_MIN_CHARS and sum(len(a.text_content()) for a in p.iter("a")) < len(text) / 3:
            found += 1
            if found >= paragraphs:
                return True
    return False
