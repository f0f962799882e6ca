"""A ZIM file of the written HTML edition, for Kiwix: every page, image, feed and QR code, the home page as the main
page, libzim's full-text (Xapian) and title indexes, and the metadata Kiwix's library shows.

    build_zim(root / "site", out, ZimMeta(...))     entries keep their paths under the mirror root:
                                                    "site/index.html", "site/pages/city/x.html", "assets/ab/h.webp"

Paths are kept, so the edition's relative links (pages reach the shared images at ../../../assets/) work unchanged
inside Kiwix. What does not work there is left out: the Pagefind search bundle (search.html, search.js, pagefind/;
Kiwix searches with the ZIM's own index) and the service worker (sw.js and the script that registers it). Links to
the mirror's own public addresses (`ZimMeta.origins`) are made relative; a link to a page that is not packed goes to
the primary address (online) or, without one, is dropped, so zimcheck finds no dangling internal link.

The same pages give the same bytes (on the same day: the Date metadata is the build's day): one writer worker keeps
the order, and the random UUIDs libzim and Xapian draw are replaced by hashes of the content (`settle_uuids`).
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import mmap
import os
import posixpath
import re
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import lxml.html

from newsmirror import clock
from newsmirror.errors import PublishError

# the search bundle and the service worker, by name within the HTML edition (its converted twin has the same)
LEFT_OUT_FILES = {"search.html", "search.js", "sw.js"}
LEFT_OUT_DIRS = {"pagefind", "offline"}  # offline/: the EPUB and ZIM files themselves
SEARCH_BUNDLE = {"search.html", "search.js"}
TYPES = {".html": "text/html", ".css": "text/css", ".webp": "image/webp", ".png": "image/png", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml", ".avif": "image/avif",
         ".xml": "application/atom+xml", ".json": "application/json", ".txt": "text/plain", ".md": "text/markdown"}
TEXT_TYPES = ("text/", "application/atom+xml", "application/json", "image/svg+xml")
TITLE_MAX, DESCRIPTION_MAX = 30, 80  # openZIM metadata limits (characters)
KEPT_SCHEMES = ("data:", "mailto:", "tel:", "javascript:")
XAPIAN_MAGIC = b"\x0f\rXapian Glass\x04n"  # a Glass database's version file: magic, format 1134, then its UUID


@dataclass(frozen=True)
class ZimMeta:
    title: str
    description: str
    language: str  # ISO 639-3 ("zho", "eng"); the first of a comma list is the full-text index's language
    creator: str
    publisher: str
    illustration_png: bytes = b""  # 48x48 PNG for Kiwix's library; b"": a tile drawn from the title
    main_path: str = "index.html"  # the home page, relative to the site directory
    origins: tuple[str, ...] = ()  # the mirror root's public addresses, primary first ("https://host/mirror/")
    name: str = ""  # the ZIM's stable identifier across builds; "": derived from the title and language
    day: date | None = None  # the Date metadata; None: today (UTC)


@dataclass(frozen=True)
class Entry:
    path: str  # within the ZIM (posix, relative to the root)
    source: Path
    mimetype: str
    title: str = ""
    front: bool = False  # an article page: in the title index (Kiwix's suggestions)
    content: bytes | None = None  # rewritten HTML; None: the file's bytes as they are


class ZimError(PublishError):
    def __init__(self, path: Path | str, reason: str):
        super().__init__(str(path), f"ZIM: {reason}")


def build_zim(site_dir: Path, out_path: Path, meta: ZimMeta, root: Path | None = None) -> Path:
    """Pack the HTML edition in `site_dir` (with the files outside it that its pages link to, under `root`, by
    default site_dir's parent: the mirror root with assets/) into `out_path`, with full-text and title indexes."""
    from libzim.writer import Creator  # the native library loads only when a ZIM is built

    root = (root or site_dir.parent).resolve()
    site_dir = site_dir.resolve()
    main = posixpath.join(site_dir.relative_to(root).as_posix(), meta.main_path)
    if not (root / main).is_file():
        raise ZimError(root / main, "the main page does not exist (is the HTML edition written?)")
    entries = plan_entries(root, site_dir, meta.origins, meta.title)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    language = meta.language.split(",")[0].strip() or "eng"
    try:
        # one worker: clusters and index documents in the order they were added, the same every build
        creator = Creator(out_path).config_verbose(False).config_nbworkers(1).config_indexing(True, language)
        with _native_stdout_silenced(), creator:
            creator.set_mainpath(main)
            for entry in entries:
                creator.add_item(_item(entry, main))
            for key, value in metadata(meta).items():
                creator.add_metadata(key, value)
            creator.add_illustration(48, meta.illustration_png or title_tile(meta.title))
    except (RuntimeError, OSError) as exc:
        raise ZimError(out_path, f"libzim could not write the archive: {exc}") from exc
    settle_uuids(out_path)
    return out_path


def metadata(meta: ZimMeta) -> dict[str, str]:
    day = meta.day or clock.utcnow().date()
    return {"Title": _clip(meta.title, TITLE_MAX), "Description": _clip(meta.description, DESCRIPTION_MAX),
            "Language": meta.language, "Creator": meta.creator, "Publisher": meta.publisher,
            "Date": day.isoformat(), "Name": meta.name or zim_name(meta.title, meta.language),
            "Tags": "newsmirror;_category:news;_ftindex:yes;_pictures:yes;_videos:no"}


def zim_name(title: str, language: str) -> str:
    """"demo-news-mirror_eng"; a title without Latin letters or digits is named by its hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    slug = slug or "mirror-" + hashlib.sha1(title.encode("utf-8")).hexdigest()[:8]
    return f"{slug}_{language.split(',')[0].strip()}"


def title_tile(title: str) -> bytes:
    """A 48x48 PNG tile in a colour of the title (the same every build)."""
    from PIL import Image

    digest = hashlib.sha1(title.encode("utf-8")).digest()
    image = Image.new("RGB", (48, 48), tuple(40 + b // 2 for b in digest[:3]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# -- what goes in (pure but for reading the tree) -----------------------------------------------------------


def plan_entries(root: Path, site_dir: Path, origins: tuple[str, ...] = (), site_title: str = "") -> list[Entry]:
    """The site's files (search bundle, service worker and offline files left out), the HTML rewritten for Kiwix,
    then every file outside the site that a page links to (images in assets/), sorted by path. Page titles lose
    the " · <site title>" every page ends with (Kiwix shows the ZIM's title beside them)."""
    suffix = f" · {site_title}" if site_title else ""
    packed = {path: source for path, source in _site_files(root, site_dir)}
    linked: set[str] = set()
    entries: list[Entry] = []
    for path, source in packed.items():
        mimetype = mime_type(path)
        if mimetype != "text/html":
            entries.append(Entry(path, source, mimetype))
            continue
        html, title, front, targets = rewrite_page(path, source.read_bytes(), origins,
                                                   lambda target: target in packed or _outside(root, site_dir, target))
        title = title.removesuffix(suffix) if suffix else title
        entries.append(Entry(path, source, mimetype, title, front, html))
        linked |= {target for target in targets if target not in packed}
    entries += [Entry(target, root / target, mime_type(target)) for target in linked]
    return sorted(entries, key=lambda entry: entry.path)


def _site_files(root: Path, site_dir: Path) -> Iterator[tuple[str, Path]]:
    for source in sorted(site_dir.rglob("*")):
        relative = source.relative_to(site_dir)
        if source.is_file() and relative.name not in LEFT_OUT_FILES and not LEFT_OUT_DIRS & set(relative.parts[:-1]):
            yield source.relative_to(root).as_posix(), source


def _outside(root: Path, site_dir: Path, target: str) -> bool:
    """A file under the root but outside the site (the site's own files are packed or left out on purpose)."""
    path = root / target
    return not target.startswith("../") and not path.is_relative_to(site_dir) and path.is_file()


def mime_type(path: str) -> str:
    suffix = posixpath.splitext(path)[1].lower()
    return TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def rewrite_page(path: str, html: bytes, origins: tuple[str, ...], exists: Callable[[str], bool]
                 ) -> tuple[bytes, str, bool, set[str]]:
    """One page made for Kiwix: scripts out, links to the mirror's addresses relative, links to what is not packed
    sent online or dropped. Returns the page, its title, whether it is a front article (an <article> page) and
    the packed paths it links to."""
    doc = lxml.html.document_fromstring(html)
    for script in list(doc.iter("script")):
        script.drop_tree()
    for element in doc.iter():
        for name in [name for name in element.attrib if name.lower().startswith("on")]:
            del element.attrib[name]
    for meta in doc.xpath('//meta[translate(@http-equiv, "CSP", "csp") = "content-security-policy"]'):
        meta.set("content", reader_policy(meta.get("content", "")))
    targets: set[str] = set()
    here = posixpath.dirname(path)
    for element, attribute, link, _ in list(doc.iterlinks()):
        if attribute is None:  # a url() inside a style: the edition's css has none that reach files
            continue
        target, fragment = _internal(link, here, origins)
        if target is None:
            continue
        if exists(target):
            targets.add(target)
            element.set(attribute, quote(posixpath.relpath(target, here or ".")) + fragment)
        elif element.tag == "a" and origins and posixpath.basename(target) not in SEARCH_BUNDLE:
            element.set(attribute, origins[0].rstrip("/") + "/" + quote(target) + fragment)  # online only
        elif element.tag in ("a", "link", "img", "source"):
            element.drop_tree()  # the search page (Kiwix has its own search box), or a file that is not there
    title = (doc.findtext(".//title") or "").strip()
    front = doc.find(".//article") is not None
    return lxml.html.tostring(doc, doctype="<!doctype html>", encoding="utf-8"), title, front, targets


def reader_policy(policy: str) -> str:
    """The page's Content-Security-Policy with Kiwix's own scripts and search form allowed: kiwix-serve adds a
    toolbar (scripts from its /skin/, inline event handlers, a search form). The pages carry no script of their own
    any more (`rewrite_page` removes script elements and on* attributes; the articles were sanitized before)."""
    kiwix = {"script-src": "script-src 'self' 'unsafe-inline'", "form-action": "form-action 'self'"}
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    return "; ".join(kiwix.get(d.split()[0].lower(), d) for d in directives)


def _internal(link: str, here: str, origins: tuple[str, ...]) -> tuple[str | None, str]:
    """The root-relative path a link points to (and its #fragment), or None for links that leave the mirror."""
    if not link or link.startswith("#") or link.lower().startswith(KEPT_SCHEMES):
        return None, ""
    for origin in origins:
        base = origin.rstrip("/") + "/"
        if link.startswith(base):
            link, here = link[len(base):], ""
            break
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or parts.path.startswith("/"):
        return None, ""
    target = posixpath.normpath(posixpath.join(here, unquote(parts.path))) if parts.path else ""
    return (target or None), ("#" + parts.fragment if parts.fragment else "")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def settle_uuids(path: Path) -> None:
    """Make the archive a function of its content: libzim draws a random UUID for the archive (header bytes 8-24)
    and Xapian one for each index it embeds (after the "Xapian Glass" magic and format version). Each becomes a
    hash of the rest of the file, and the MD5 checksum at the end is written again."""
    with open(path, "r+b") as file, mmap.mmap(file.fileno(), 0) as data:
        checksum_at = struct.unpack_from("<Q", data, 72)[0]  # the header's checksumPos
        fields, at = [8], data.find(XAPIAN_MAGIC)
        while at != -1:
            fields.append(at + len(XAPIAN_MAGIC))
            at = data.find(XAPIAN_MAGIC, at + 1)
        for field in fields:
            data[field:field + 16] = bytes(16)
        content = _md5(data, checksum_at).digest()
        for number, field in enumerate(fields):
            data[field:field + 16] = hashlib.md5(content + bytes([number])).digest()
        data[checksum_at:checksum_at + 16] = _md5(data, checksum_at).digest()


def _md5(data: mmap.mmap, end: int) -> hashlib._Hash:
    digest = hashlib.md5()
    for start in range(0, end, 1 << 24):
        digest.update(data[start:min(start + (1 << 24), end)])
    return digest


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """libzim prints its finishing steps ("Resolve redirect", "set index") on the process's stdout even when not
    verbose; a cron run must stay silent. Python's own stdout is flushed first and restored after."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# -- libzim items ---------------------------------------------------------------------------------------------


def _item(entry: Entry, main: str):
    from libzim.writer import FileProvider, Hint, Item, StringProvider

    class PackedItem(Item):
        def get_path(self) -> str:
            return entry.path

        def get_title(self) -> str:
            return entry.title

        def get_mimetype(self) -> str:
            return entry.mimetype

        def get_contentprovider(self):
            return StringProvider(entry.content) if entry.content is not None else FileProvider(str(entry.source))

        def get_hints(self) -> dict:
            return {Hint.FRONT_ARTICLE: entry.front or entry.path == main,
                    Hint.COMPRESS: entry.mimetype.startswith(TEXT_TYPES)}

    return PackedItem()
