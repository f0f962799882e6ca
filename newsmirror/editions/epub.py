"""EPUB 3 digests (pure): a period's articles -> one .epub file's bytes, the same bytes for the same articles.

    Digest(title, language, sections=[Section(channel title, [Chapter ...])], images, ...)
    package(digest) -> bytes        mimetype (stored, first), META-INF/container.xml, EPUB/package.opf,
                                    EPUB/nav.xhtml (table of contents), EPUB/title.xhtml, EPUB/text/cNNN.xhtml,
                                    EPUB/images/<hash>.jpg|png, EPUB/style.css

Written with zipfile and lxml rather than ebooklib: ebooklib stamps every zip entry and `dcterms:modified` with the
wall clock, so rebuilding a period would never give the same bytes. Here every entry has a fixed time and a fixed
order. Images are JPEG (PNG when they have transparency): WebP is no EPUB core media type, and epubcheck reports
a WebP without a fallback as an error (RSC-032), while e-readers that cannot show WebP (older Kobo, KOReader
builds) show nothing. Only local copies are packed; a remote image becomes its placeholder text.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html
from PIL import Image

XHTML = "http://www.w3.org/1999/xhtml"
EPUB_NS = "http://www.idpf.org/2007/ops"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # every entry's timestamp: rebuilds give the same bytes
IMAGE_MAX_WIDTH = 800  # e-reader screens
IMAGE_MAX_BYTES = 40_000  # per photo: a digest of 100 articles with photos stays under 5 MB
JPEG_STEPS = ((IMAGE_MAX_WIDTH, 70), (IMAGE_MAX_WIDTH, 55), (640, 50), (480, 45), (480, 30))  # width, quality
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
CSS = ("body{font-family:serif;line-height:1.5;margin:0 0.5em}h1{font-size:1.4em}img{max-width:100%;height:auto}"
       "figure{margin:1em 0}figcaption,.meta,.src{font-size:0.85em;color:#555}.src{word-break:break-all}")


class EpubError(ValueError):
    """A digest that cannot be packed (an image that does not decode is skipped, not this)."""


@dataclass(frozen=True)
class EpubImage:
    name: str  # "images/<hash>.jpg", relative to EPUB/
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Chapter:
    title: str
    language: str
    meta: str  # "2026-03-02 · author"
    original_url: str
    body: str  # XHTML fragment (serialized children of a <div>), images pointing at images/...


@dataclass(frozen=True)
class Section:
    title: str  # a channel's title
    chapters: tuple[Chapter, ...]


@dataclass(frozen=True)
class Digest:
    identifier: str  # "urn:uuid:..." stable per digest name
    title: str
    language: str
    date: str  # "2026-03-02": the period's first day
    modified: str  # "2026-03-02T00:00:00Z": fixed by the content, not by the clock
    creator: str
    description: str
    promo: str  # XHTML fragment, may be ""
    original_label: str
    sections: tuple[Section, ...]
    images: tuple[EpubImage, ...]


def language_tag(value: str | None, fallback: str) -> str:
    """A well-formed BCP 47 tag for xml:lang (an article's own, else the mirror's, else "en")."""
    for candidate in (value, fallback):
        if candidate and _LANGUAGE.match(candidate.strip()):
            return candidate.strip()
    return "en"


# -- images -----------------------------------------------------------------------------------------------


def epub_image(data: bytes) -> EpubImage:
    """An image in an EPUB core media type: JPEG, or PNG when it has transparency; at most IMAGE_MAX_WIDTH wide and,
    for JPEG, IMAGE_MAX_BYTES (lower quality, then smaller, until it fits); named by the hash of its bytes.
    OSError/ValueError when the bytes are no image Pillow reads."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
    for width, quality in JPEG_STEPS:
        scaled = _fit(image, width)
        out = io.BytesIO()
        if alpha:
            scaled.save(out, "PNG", optimize=True)
            break
        scaled.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.tell() <= IMAGE_MAX_BYTES:
            break
    packed = out.getvalue()
    ext, media_type = ("png", "image/png") if alpha else ("jpg", "image/jpeg")
    return EpubImage(f"images/{hashlib.sha256(packed).hexdigest()[:20]}.{ext}", media_type, packed)


def _fit(image: Image.Image, width: int) -> Image.Image:
    if image.width <= width:
        return image
    return image.resize((width, max(1, image.height * width // image.width)), Image.Resampling.LANCZOS)


# -- article bodies -> XHTML ----------------------------------------------------------------------------------


def body_xhtml(body_html: str, image: Callable[[str], EpubImage | None], unavailable: str) -> str:
    """A sanitized article body as an XHTML fragment for a chapter in EPUB/text/: local images point at their
    packed copy (`image(src)`), any other image becomes a placeholder; links keep only absolute http(s) targets
    (a relative link would name a file the EPUB lacks); width/height go (the CSS fits images to the screen)."""
    root = lxml_html.fragment_fromstring(body_html or "", create_parent="div")
    for img in list(root.iter("img")):
        packed = image(img.get("src", ""))
        for name in ("width", "height", "loading", "decoding"):
            img.attrib.pop(name, None)
        if packed is not None:
            img.set("src", "../" + packed.name)
            img.set("alt", img.get("alt", ""))
            continue
        box = lxml_html.Element("span", {"class": "ph"})
        box.text = f"[{unavailable}{': ' + img.get('alt') if img.get('alt') else ''}]"
        box.tail = img.tail
        img.getparent().replace(img, box)
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if not href.startswith(("http://", "https://")):
            link.attrib.pop("href", None)
            link.attrib.pop("rel", None)
    return _xhtml_children(root)


def _xhtml_children(root: etree._Element) -> str:
    """The children of an lxml.html element as XHTML (namespaced, self-closed void elements)."""
    holder = etree.fromstring(lxml_html.tostring(root, method="xml", encoding="unicode").replace(
        "<div>", f'<div xmlns="{XHTML}">', 1))
    if len(holder) == 0 and not (holder.text or "").strip():
        return ""
    text = etree.tostring(holder, encoding="unicode")
    return text[text.index(">") + 1: text.rindex("</div>")]


# -- the package --------------------------------------------------------------------------------------------


def _page(title: str, language: str, body: str) -> bytes:
    text = (f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
            f'<html xmlns="{XHTML}" xmlns:epub="{EPUB_NS}" xml:lang="{_attr(language)}" lang="{_attr(language)}">'
            f'<head><meta charset="utf-8"/><title>{_text(title)}</title>'
            f'<link rel="stylesheet" type="text/css" href="{{css}}"/></head><body>{body}</body></html>\n')
    return text.encode("utf-8")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;")


def _chapter_page(chapter: Chapter, section: str, labels: Digest) -> bytes:
    original = (f'<p class="src">{_text(labels.original_label)}: '
                f'<a href="{_attr(chapter.original_url)}">{_text(chapter.original_url)}</a></p>'
                if chapter.original_url.startswith(("http://", "https://")) else "")
    body = (f'<section epub:type="chapter"><p class="meta">{_text(section)}</p><h1>{_text(chapter.title)}</h1>'
            + (f'<p class="meta">{_text(chapter.meta)}</p>' if chapter.meta else "")
            + f'<div>{chapter.body}</div>{original}</section>')
    return _page(chapter.title, chapter.language, body).replace(b"{css}", b"../style.css")


def _title_page(digest: Digest) -> bytes:
    body = (f'<section epub:type="titlepage"><h1>{_text(digest.title)}</h1><p class="meta">{_text(digest.date)}</p>'
            + (f"<p>{_text(digest.description)}</p>" if digest.description else "")
            + (f"<div>{digest.promo}</div>" if digest.promo else "")
            + "<ul>" + "".join(f"<li>{_text(s.title)} ({len(s.chapters)})</li>" for s in digest.sections)
            + "</ul></section>")
    return _page(digest.title, digest.language, body).replace(b"{css}", b"style.css")


def _chapter_names(digest: Digest) -> list[list[str]]:
    count = 0
    names = []
    for section in digest.sections:
        names.append([f"text/c{count + i + 1:04d}.xhtml" for i in range(len(section.chapters))])
        count += len(section.chapters)
    return names


def _nav(digest: Digest, names: list[list[str]]) -> bytes:
    items = []
    for section, files in zip(digest.sections, names):
        entries = "".join(f'<li><a href="{f}">{_text(c.title)}</a></li>' for c, f in zip(section.chapters, files))
        items.append(f'<li><a href="{files[0]}">{_text(section.title)}</a><ol>{entries}</ol></li>')
    body = (f'<nav epub:type="toc" id="toc"><h1>{_text(digest.title)}</h1><ol>'
            f'<li><a href="title.xhtml">{_text(digest.date)}</a></li>{"".join(items)}</ol></nav>')
    return _page(digest.title, digest.language, body).replace(b"{css}", b"style.css")


def _opf(digest: Digest, names: list[list[str]]) -> bytes:
    files = [name for section in names for name in section]
    manifest = ['<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
                '<item id="css" href="style.css" media-type="text/css"/>',
                '<item id="title" href="title.xhtml" media-type="application/xhtml+xml"/>']
    manifest += [f'<item id="c{i + 1:04d}" href="{name}" media-type="application/xhtml+xml"/>'
                 for i, name in enumerate(files)]
    manifest += [f'<item id="i{i + 1:04d}" href="{image.name}" media-type="{image.media_type}"/>'
                 for i, image in enumerate(digest.images)]
    spine = ['<itemref idref="title"/>'] + [f'<itemref idref="c{i + 1:04d}"/>' for i in range(len(files))]
    text = (f'<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
            f'unique-identifier="uid" xml:lang="{_attr(digest.language)}">\n'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:identifier id="uid">{_text(digest.identifier)}</dc:identifier>'
            f'<dc:title>{_text(digest.title)}</dc:title><dc:language>{_text(digest.language)}</dc:language>'
            f'<dc:creator>{_text(digest.creator)}</dc:creator><dc:publisher>{_text(digest.creator)}</dc:publisher>'
            f'<dc:date>{_text(digest.date)}</dc:date>'
            + (f"<dc:description>{_text(digest.description)}</dc:description>" if digest.description else "")
            + f'<meta property="dcterms:modified">{_text(digest.modified)}</meta></metadata>\n'
            f'<manifest>{"".join(manifest)}</manifest>\n<spine>{"".join(spine)}</spine>\n</package>\n')
    return text.encode("utf-8")


CONTAINER = (b'<?xml version="1.0" encoding="utf-8"?>\n<container version="1.0" '
             b'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
             b'<rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>'
             b'</rootfiles></container>\n')


def package(digest: Digest) -> bytes:
    """The .epub file: `mimetype` first and stored, then every other entry deflated, in a fixed order, with a
    fixed timestamp. EpubError for a digest without articles (an empty spine is no valid book)."""
    if not any(section.chapters for section in digest.sections):
        raise EpubError(f"digest {digest.title!r} has no articles")
    sections = tuple(s for s in digest.sections if s.chapters)
    digest = Digest(**{**digest.__dict__, "sections": sections})
    names = _chapter_names(digest)
    entries: list[tuple[str, bytes]] = [
        ("META-INF/container.xml", CONTAINER), ("EPUB/package.opf", _opf(digest, names)),
        ("EPUB/nav.xhtml", _nav(digest, names)), ("EPUB/style.css", CSS.encode("utf-8")),
        ("EPUB/title.xhtml", _title_page(digest)),
    ]
    for section, files in zip(digest.sections, names):
        entries += [(f"EPUB/{name}", _chapter_page(chapter, section.title, digest))
                    for chapter, name in zip(section.chapters, files)]
    entries += [(f"EPUB/{image.name}", image.data) for image in digest.images]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _write(archive, "mimetype", b"application/epub+zip", zipfile.ZIP_STORED)
        for name, data in entries:
            compress = zipfile.ZIP_STORED if name.endswith((".jpg", ".png")) else zipfile.ZIP_DEFLATED
            _write(archive, name, data, compress)
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, compress: int) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever system builds it
    archive.writestr(info, data)


def unique_images(images: Sequence[EpubImage]) -> tuple[EpubImage, ...]:
    """Each packed image once, in name order (the same set gives the same manifest)."""
    return tuple(sorted({image.name: image for image in images}.values(), key=lambda image: image.name))
