"""Images in a parsed page: promote lazy sources, drop pixels/icons/placeholders, find captions.

All functions work on an lxml.html tree in place (prepare) or read it (captions); the tree's links are made
absolute before these run, except the lazy attributes, which are resolved here.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from lxml import html as lxml_html
from newsmirror.extract.htmltree import remove_keeping_tail

LAZY_ATTRS = (
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-lazy",
    "data-original-src",
    "data-full-src",
    "data-hi-res-src",
    "data-url",
)
SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "srcset")
_PLACEHOLDER = re.compile(
    r"^data:|blank\.(gif|png)|spacer|placeholder|transparent\.(gif|png)|1x1|pixel\.(gif|png)|grey\.gif|"
    r"/loading\.|lazy[-_]?load|\.svg#",
    re.IGNORECASE,
)
_TRACKER = re.compile(r"pixel|beacon|/track|tracking|analytics|doubleclick|/b\?|/p\?|scorecardresearch", re.I)
_ICON = re.compile(r"\bicon|emoji|smiley|sprite|favicon|\.ico(\?|$)|avatar|gravatar", re.IGNORECASE)
FIGCAPTION_MAX_CHARS = 2000  # a <figcaption> is a caption even when long (galleries, infographics)
_DIMENSION = re.compile(r"^\s*(\d+)")
CAPTION_CLASS = re.compile(r"caption|credit|wp-caption-text|photo-?desc|img-?desc|image-?desc", re.IGNORECASE)


def parse_srcset(value: str) -> str | None:
    """The largest candidate of a srcset ("a.jpg 640w, b.jpg 1280w" or "a.jpg 1x, b.jpg 2x")."""
    best, best_size = None, -1.0
    for part in re.split(r",\s+(?=\S)", value.strip()):
        bits = part.split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1:
            try:
                size = float(bits[1][:-1]) if bits[1][-1] in "wxh" else 1.0
            except ValueError:
                size = 1.0
        if size > best_size:
            best, best_size = bits[0], size
    return best


_STYLE_SIZE = {name: re.compile(rf"(?:^|;)\s*{name}\s*:\s*(\d+)px") for name in ("width", "height")}


def _dimension(img, name: str) -> int | None:
    value = img.get(name)
    if value is None:
        style = img.get("style")
        match = _STYLE_SIZE[name].search(style) if style else None
        return int(match.group(1)) if match else None
    match = _DIMENSION.match(value)
    return int(match.group(1)) if match else None


def is_placeholder(src: str | None) -> bool:
    return not src or not src.strip() or bool(_PLACEHOLDER.search(src))


def _is_tiny(img) -> bool:
    """Declared ≤ 2 px in one dimension (a tracking pixel, a spacer) or ≤ 40 px in both (an icon)."""
    width, height = _dimension(img, "width"), _dimension(img, "height")
    if (width is not None and width <= 2) or (height is not None and height <= 2):
        return True
    return width is not None and height is not None and width <= 40 and height <= 40


def _is_junk_source(img, src: str) -> bool:
    """A placeholder, an icon or emoji, a tracker, by its address (and class or id)."""
    if is_placeholder(src):
        return True
    hint = " ".join(filter(None, (src, img.get("class"), img.get("id"))))
    if _ICON.search(hint):
        return True
    width = _dimension(img, "width")
    return bool(_TRACKER.search(src)) and (width is None or width <= 10)


def _lazy_source(img) -> str | None:
    for attr in LAZY_ATTRS:
        value = img.get(attr)
        if value and not is_placeholder(value):
            return value.strip()
    for attr in SRCSET_ATTRS:
        value = img.get(attr)
        if value:
            candidate = parse_srcset(value)
            if candidate and not is_placeholder(candidate):
                return candidate
    parent = img.getparent()
    if parent is not None and parent.tag == "picture":
        for source in parent.iter("source"):
            for attr in ("srcset", "data-srcset"):
                value = source.get(attr)
                candidate = parse_srcset(value) if value else None
                if candidate and not is_placeholder(candidate):
                    return candidate
    return None


def _unwrap_noscripts(root) -> None:
    """A <noscript><img></noscript> next to a lazy <img> gives it its source; a lone one becomes the image."""
    for noscript in list(root.iter("noscript")):
        imgs = list(noscript.iter("img"))
        if not imgs and noscript.text and "<img" in noscript.text:  # some parsers keep noscript as text
            try:
                imgs = list(lxml_html.fragment_fromstring(noscript.text, create_parent="div").iter("img"))
            except Exception:  # malformed fallback markup: ignore it  # noqa: BLE001
                imgs = []
        parent = noscript.getparent()
        if parent is None:
            continue
        fallback = imgs[0].get("src") if imgs else None
        sibling = next((el for el in parent.iter("img") if not _inside(el, noscript)), None)
        if fallback and sibling is not None:
            if is_placeholder(sibling.get("src")) and not _lazy_source(sibling):
                sibling.set("src", fallback)
            remove_keeping_tail(noscript)
        elif fallback:
            img = lxml_html.Element("img", src=fallback, alt=imgs[0].get("alt") or "")
            noscript.addprevious(img)
            remove_keeping_tail(noscript)
        else:
            remove_keeping_tail(noscript)


def absolute_url(base: str, url: str) -> str:
    """`url` resolved against `base`; an absolute http(s) URL without dot segments is returned as it is (the
    common case, and urljoin costs microseconds per link)."""
    if url.startswith(("https://", "http://")) and "/." not in url:
        return url
    return urljoin(base, url)


def _inside(el, ancestor) -> bool:
    return any(a is ancestor for a in el.iterancestors())


_SPENT = frozenset((*LAZY_ATTRS, *SRCSET_ATTRS, "sizes", "loading"))  # attributes of no use once `src` is set


def prepare_images(root, base_url: str) -> None:
    """Promote lazy sources to `src` (absolute), drop junk images and now-useless <source>/<noscript>."""
    _unwrap_noscripts(root)
    joined: dict[str, str] = {}  # src -> absolute (pages repeat bullets, spacers, icons)
    for img in list(root.iter("img")):
        lazy = _lazy_source(img)
        src = img.get("src")
        if lazy and (is_placeholder(src) or img.get("data-src") or img.get("data-original")):
            src = lazy
        if _is_tiny(img):  # (before resolving its address: pages set many spacers)
            remove_keeping_tail(img)
            continue
        if src and not src.startswith("data:"):
            src = joined.get(src) or joined.setdefault(src, absolute_url(base_url, src.strip()))
        if not src or _is_junk_source(img, src):
            remove_keeping_tail(img)
            continue
        img.set("src", src)
        attrib = img.attrib
        for attr in [name for name in attrib.keys() if name in _SPENT]:
            del attrib[attr]
    for source in list(root.iter("source")):
        remove_keeping_tail(source)


_CAPTION_XPATH = "//figcaption | //@class[contains(., 'aption') or contains(., 'redit')]/parent::*[not(self::img)]"


def find_captions(root) -> list[tuple[object, str, list]]:
    """(caption element, caption text, the images it describes) for every image caption on the page.

    A caption is a <figcaption> or a caption/credit-classed element; its images are those of the nearest
    ancestor (up to three levels, stopping at a <figure>) that holds images but not a lot of running text."""
    found = []
    claimed: set[int] = set()
    for holder in root.xpath(_CAPTION_XPATH):
        if any(id(a) in claimed for a in holder.iterancestors()) or holder.find(".//img") is not None:
            continue
        text = _text(holder)
        if not text or len(text) > (FIGCAPTION_MAX_CHARS if holder.tag == "figcaption" else 500):
            continue
        if holder.tag != "figcaption" and not CAPTION_CLASS.search(holder.get("class") or ""):
            continue
        node = holder
        for _ in range(3):
            node = node.getparent()
            if node is None or node.tag in ("body", "article", "main"):
                break
            imgs = list(node.iter("img"))
            if imgs:
                if len(_text(node)) - len(text) < 300:
                    found.append((holder, text, imgs))
                    claimed.add(id(holder))
                break
            if node.tag == "figure":
                break
    return found


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())
