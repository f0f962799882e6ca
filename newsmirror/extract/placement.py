"""Put the article's pictures into its extracted body, at their places.

The main-content extractor runs without images: with them it judges blocks differently (a picture counts as
content), and its text on pages it has not seen gets worse. The pictures are then placed here: each body block is
found in the prepared page by the start of its text, and a picture between two found blocks goes before the
second. A picture is the article's when it lies inside the smallest element holding all the found blocks, and no
element between it and the article's blocks holds text of its own (a teaser card, a promo box: picture plus
headline).
"""

from __future__ import annotations

import re
from itertools import islice

from lxml import etree

from newsmirror.extract.blocks import BLOCK_TAGS
from newsmirror.records import ImageRef

KEY_CHARS = 40  # a block is found by this many letters and digits from the start of its text
MIN_KEY_CHARS = 12  # shorter texts ("Share", a date) are not unique enough to find a block by
WIDGET_TEXT_CHARS = 20  # an element around a picture with this much text of its own is a teaser or promo
_SOURCE_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote", "td", "th", "dd", "dt")
_SOURCE_TAGS = (*_SOURCE_BLOCKS, "div", "section", "article", "main", "img")


def _key(el) -> str:
    """The first KEY_CHARS letters and digits (lower case) of an element's text."""
    text = el.text
    if text is None or len(text) < 5 * KEY_CHARS // 2:
        text = "".join(islice(el.itertext(), 6))
    return _NOT_ALNUM.sub("", text[: 5 * KEY_CHARS // 2].lower())[:KEY_CHARS]


_NOT_ALNUM = re.compile(r"[\W_]+")


def _body_keys(body) -> dict[str, list[int]]:
    """Key -> the indexes of the body blocks with that key (blocks may start alike), in order."""
    keys: dict[str, list[int]] = {}
    for index, child in enumerate(body):
        if child.tag == "figure":
            continue
        key = _key(child)
        if len(key) >= MIN_KEY_CHARS:
            keys.setdefault(key, []).append(index)
    return keys


_BLOCK_SET = frozenset(_SOURCE_BLOCKS)  # page elements keyed: these, and containers with text of their own
# before their first child or with no blocks inside (text set in spans)


def place_images(body, root, captions: dict[str, str], alts: dict[str, str]) -> list[ImageRef]:
    """Insert <figure>s for the article's pictures of the prepared page `root` into `body`; return the body's
    images in order."""
    pictures = [img for img in root.iter("img") if not _in_link_elsewhere(img)]  # (others are teasers)
    if not pictures:
        return []
    keys = _body_keys(body)
    if not keys:
        return []
    anchors: list[tuple[object, int]] = []  # (page element, body index) of the found blocks, in page order
    pending: list = []  # pictures since the last found block
    placed: list[tuple[int, list]] = []  # (body index to insert before, pictures)
    last = -1
    final = max(i for indexes in keys.values() for i in indexes)
    for el in root.iter(*_SOURCE_TAGS):
        tag = el.tag
        if tag == "img":
            pending.append(el)
            continue
        if tag not in _BLOCK_SET and not (el.text and el.text.strip()) and any(c.tag in BLOCK_TAGS for c in el):
            continue  # a container whose text starts in a block inside it: that block is keyed instead
        indexes = keys.get(_key(el))
        if indexes is None:
            continue
        index = next((i for i in indexes if i > last), None)
        if index is None:
            continue
        if pending:
            placed.append((index if anchors else -1, pending))
        pending = []
        anchors.append((el, index))
        last = index
        if index == final:
            break
    if not anchors:
        return []
    article = _article_element(anchors, body)
    # after the last block: only pictures in the same container as that block, after it
    end = anchors[-1][0]
    trailing = [*end.iter("img"), *(img for sibling in end.itersiblings() for img in sibling.iter("img"))]
    if last != final:
        trailing = [img for img in pending if any(img is t for t in trailing)]
    if trailing:
        placed.append((len(body), trailing))
    held = [article]  # the found blocks and their ancestors up to the article (holding them keeps their ids theirs)
    for el, _ in anchors:
        while el is not None and el is not article:
            held.append(el)
            el = el.getparent()
    holders = {id(a) for a in held}
    children = list(body)
    seen: set[str] = set()
    for index, pictures in reversed(placed):
        figures = []
        for img in pictures:
            src = (img.get("src") or "").strip()
            if not src or src.startswith("data:") or src in seen or not _is_article_picture(img, article, holders):
                continue
            seen.add(src)
            figures.append(_figure(src, alts.get(src) or img.get("alt") or "", captions.get(src, "")))
        at = max(index, 0)
        if at < len(children):
            for figure in figures:
                children[at].addprevious(figure)
        else:
            body.extend(figures)
    return body_images(body)


def body_images(body) -> list[ImageRef]:
    """The pictures of a body, in order."""
    return [
        ImageRef(img.get("src"), img.get("alt") or "", figure.findtext("figcaption") or "")
        for figure in body.iter("figure")
        for img in figure.iter("img")
    ]


def _figure(src: str, alt: str, caption: str):
    figure = etree.Element("figure")
    etree.SubElement(figure, "img", src=src, alt=alt)
    if caption:
        etree.SubElement(figure, "figcaption").text = caption
    return figure


ARTICLE_SHARE = 0.8  # the article element holds this share of the found text (a stray block found elsewhere on
# the page, a footer line the extractor kept, does not widen it to the whole page)


def _article_element(anchors: list[tuple[object, int]], body):
    """The deepest page element holding ARTICLE_SHARE of the found blocks' text."""
    by_parent: dict[int, list] = {}  # blocks' text by their parent (many blocks share one): fewer climbs
    for el, index in anchors:
        parent = el.getparent()
        entry = by_parent.setdefault(id(parent), [parent, 0, []])
        size = len("".join(body[index].itertext()))
        entry[1] += size
        entry[2].append((el, size))
    total = sum(entry[1] for entry in by_parent.values()) or 1
    held: dict[int, int] = {}
    depth: dict[int, int] = {}
    elements: dict[int, object] = {}
    for parent, size, blocks in by_parent.values():
        chain = [*reversed(list(parent.iterancestors())), parent] if parent is not None else []
        for level, ancestor in enumerate(chain):
            held[id(ancestor)] = held.get(id(ancestor), 0) + size
            depth[id(ancestor)] = level
            elements[id(ancestor)] = ancestor
        for el, block_size in blocks:  # a single block holding most of the text
            held[id(el)] = block_size
            depth[id(el)] = len(chain)
            elements[id(el)] = el
    best = max((key for key in held if held[key] >= ARTICLE_SHARE * total), key=depth.__getitem__)
    return elements[best]


def _in_link_elsewhere(img) -> bool:
    return any(a.tag == "a" and _links_elsewhere(a.get("href")) for a in img.iterancestors())


def _is_article_picture(img, article, holders: set[int]) -> bool:
    """Inside the article element; not a teaser (inside a link to another page); and no element between it and
    the article's blocks has text of its own (a teaser card, a promo box: picture plus headline)."""
    if not any(a is article for a in img.iterancestors()):
        return False
    for ancestor in img.iterancestors():
        if id(ancestor) in holders:
            return True
        if ancestor.tag == "a" and _links_elsewhere(ancestor.get("href")):
            return False
        if len(ancestor.text_content().strip()) >= WIDGET_TEXT_CHARS:
            return False
    return False


_PICTURE_LINK = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?)(?:$|[?#])", re.IGNORECASE)


def _links_elsewhere(href: str | None) -> bool:
    """A link that leads to another page, not to the picture itself (a full-size view) or to nowhere."""
    href = (href or "").strip()
    return bool(href) and not href.startswith(("#", "javascript:")) and not _PICTURE_LINK.search(href)
