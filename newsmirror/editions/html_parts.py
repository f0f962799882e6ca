"""The parts of an HTML page that carry content: the sanitized body, its images (local or a placeholder), the lead
picture, the promo block and the QR code of the share block (pure)."""

from __future__ import annotations

import io
from functools import lru_cache

import nh3
import segno
from lxml import html as lxml_html
from markdown_it import MarkdownIt
from markupsafe import Markup

from newsmirror.config import Config, Labels
from newsmirror.editions import markdown as markdown_edition
from newsmirror.extract.transform import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, relative_link
from newsmirror.layout import is_local
from newsmirror.records import ImageRef

REMOTE = ("http://", "https://")
QR_SCALE, QR_BORDER = 4, 2


def sanitize_body(body_html: str) -> str:
    """The allow-list of `transform.sanitize` (structure, links, images, tables; no script, style, event handler,
    iframe, form, meta, svg or non-http(s) URL), with rel="noopener noreferrer" on every link."""
    return nh3.clean(body_html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer", strip_comments=True)


def image_link(src: str, page: str, config: Config) -> str | None:
    """What an <img> on `page` may load: a local asset (relative link), a remote URL only when the user turned
    image localisation off, else None (the caller shows a placeholder)."""
    src = (src or "").strip()
    if is_local(src):
        return relative_link(page, src)
    if src.startswith(REMOTE) and not config.images.localise:
        return src
    return None


def placeholder_text(alt: str, caption: str, labels: Labels) -> str:
    """"Image not available: <alt>", without the alt text when the caption under the box says it already."""
    alt = " ".join((alt or "").split())
    if alt and alt not in " ".join((caption or "").split()):
        return f"{labels.image_unavailable}: {alt}"
    return labels.image_unavailable


def localise_body_images(body_html: str, page: str, config: Config) -> str:
    """Point local images at their file, relative to the page; replace any other image by a placeholder box."""
    if "<img" not in body_html:
        return body_html
    root = lxml_html.fragment_fromstring(body_html, create_parent="div")
    for img in list(root.iter("img")):
        link = image_link(img.get("src", ""), page, config)
        if link is not None:
            img.set("src", link)
            img.set("loading", "lazy")
            img.set("decoding", "async")
            if link.startswith(REMOTE):
                img.set("referrerpolicy", "no-referrer")
            continue
        figure = img.getparent()
        caption = figure.findtext("figcaption") if figure is not None and figure.tag == "figure" else ""
        box = lxml_html.Element("span", {"class": "ph", "role": "img"})
        box.text = placeholder_text(img.get("alt", ""), caption or "", config.labels)
        box.set("aria-label", box.text)
        box.tail = img.tail
        img.getparent().replace(img, box)
    return (root.text or "") + "".join(lxml_html.tostring(child, encoding="unicode") for child in root)


def lead_html(lead: ImageRef, page: str, config: Config, labels: Labels) -> Markup:
    link = image_link(lead.src, page, config)
    if link is not None:
        policy = Markup(' referrerpolicy="no-referrer"') if link.startswith(REMOTE) else Markup("")
        picture = Markup('<img src="{}" alt="{}" decoding="async"{}>').format(link, lead.alt, policy)
    else:
        text = placeholder_text(lead.alt, lead.caption, labels)
        picture = Markup('<span class="ph" role="img" aria-label="{0}">{0}</span>').format(text)
    caption = Markup("<figcaption>{}</figcaption>").format(lead.caption) if lead.caption else Markup("")
    return Markup("<figure>{}{}</figure>").format(picture, caption)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def promo_html(markdown: str) -> str:
    """The configured promo block (Markdown) as sanitized inline HTML."""
    if not markdown.strip():
        return ""
    return sanitize_body(_markdown().render(markdown.strip())).strip()



def qr_code(url: str) -> tuple[bytes, int]:
    """The QR code PNG of `url` (as `markdown_edition.qr_png` makes it) and its width in pixels; encoded once."""
    code = segno.make(url, error="m", micro=False, mask=markdown_edition.QR_MASK)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return buffer.getvalue(), code.symbol_size(scale=QR_SCALE, border=QR_BORDER)[0]
