"""Structural preparation of a parsed page: make running text look like running text to the extractor.

The main-content extractor scores paragraphs (<p>). Text that a page sets without them (lines separated by
<br><br>, text between blocks of a layout cell, a post written straight into a <div>) is at a disadvantage: a
block of such text loses to a smaller one with <p> tags, or is dropped. These steps work in place on the lxml tree.
"""

from __future__ import annotations

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
