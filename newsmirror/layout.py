"""Where everything lives (pure): every path and public URL of the mirror, for every edition.

    README.md                     home (Markdown edition)
    indexes/<channel>.md          a channel, newest first; archive pages <channel>-1.md (oldest), -2.md ...
    indexes/hot.md                the hot list
    pages/<channel>/<id>.md       an article; its QR code pages/<channel>/<id>.png
    assets/<ab>/<hash>.webp       images, shared by every edition (named here; fetch/assets.py makes them)
    mirrors.json (+ .minisig)     the signed mirror list, with a signing key (publish/mirrorlist.py)
    <html_dir>/...                the HTML edition: the same paths as .html, plus index.html, feeds/, search.html;
    <html_dir>/<zh-hant>/...      its converted twin (editions.convert), the same again

Editions name their files through this module, and so do the stages that need a page's path without rendering it
(the counter's pixel targets, retention, the publisher's list of managed paths).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsmirror.config import Config
from newsmirror.convert import edition_dir, edition_language, mirror_profile, source_language
from newsmirror.records import ArticleState

HOME = "README.md"
HOT = "indexes/hot.md"
REMOVED = "indexes/removed.md"  # articles removed at the source (the HTML edition's feed: feeds/removed.xml)
INDEXES = "indexes"
PAGES = "pages"
ASSETS = "assets"
MIRROR_LIST = "mirrors.json"  # the signed mirror list (+ ".minisig"), at the mirror root for every edition


def page_path(channel: str, article_id: str) -> str:
    return f"{PAGES}/{channel}/{article_id}.md"


def revisions_path(channel: str, article_id: str) -> str:
    """The article's versions and the diffs between them (once it was edited at the source)."""
    return f"{PAGES}/{channel}/{article_id}.revisions.md"


def qr_path(channel: str, article_id: str) -> str:
    return f"{PAGES}/{channel}/{article_id}.png"


def index_path(channel: str, number: int = 0) -> str:
    """Number 0 is the channel's front index; archive pages are numbered from the oldest (1, 2, ...)."""
    return f"{INDEXES}/{channel}.md" if number == 0 else f"{INDEXES}/{channel}-{number}.md"


def archive_layout(total: int, page_size: int) -> int:
    """How many full archive pages `total` entries fill (the front index shows the newest `page_size`)."""
    return total // page_size if total > page_size else 0


def archive_slice(total: int, page_size: int, number: int) -> tuple[int, int]:
    """Where archive page `number` (1 = the oldest entries) starts and stops in the newest-first list."""
    return total - number * page_size, total - (number - 1) * page_size


# -- the HTML edition and its converted twin ------------------------------------------------------------------


@dataclass(frozen=True)
class HtmlEdition:
    """One HTML edition: its directory, the OpenCC profile of its shared text, and its twin for the switch link."""

    root: str  # mirror-root relative directory: "site" or "site/zh-hant"
    profile: str = ""  # OpenCC profile of the shared text (menus, labels, indexes); "" = the original edition
    lang: str | None = None  # language of every page; None = the mirror's (articles: their own)
    twin_root: str | None = None  # the other edition, for the switch link
    twin_label: str = ""
    twin_lang: str = ""

    def path(self, markdown_path: str) -> str:
        """The HTML edition's path for a Markdown edition path: "pages/a/b.md" -> "site/pages/a/b.html"."""
        return f"{self.root}/{markdown_path.removesuffix('.md')}.html"

    def twin(self, path: str) -> str | None:
        if self.twin_root is None:
            return None
        return self.twin_root + path[len(self.root):]

    @property
    def home(self) -> str:
        return f"{self.root}/index.html"

    @property
    def search(self) -> str:
        return f"{self.root}/search.html"

    def feed(self, name: str) -> str:
        return f"{self.root}/feeds/{name}.xml"


def html_dir(config: Config) -> str:
    return config.editions.html_dir.strip("/") or "site"


def html_editions(config: Config) -> list[HtmlEdition]:
    """The original edition, and the converted one when a profile is configured (for the mirror or a source)."""
    root = html_dir(config)
    profile = mirror_profile(config)
    if not profile:
        return [HtmlEdition(root)]
    converted_root = f"{root}/{edition_dir(profile)}"
    language = edition_language(profile)
    return [
        HtmlEdition(root, twin_root=converted_root, twin_label=config.editions.convert_label, twin_lang=language),
        HtmlEdition(converted_root, profile, language, root, config.editions.original_label,
                    source_language(profile)),
    ]


# -- offline editions: not committed to the Markdown branch (offline.py keeps them out of git) -----------------


def offline_dir(config: Config) -> str:
    """EPUB digests, ZIM files and their OPDS catalogue: next to the HTML edition, which links them."""
    return f"{html_dir(config)}/offline"


def epub_path(config: Config, period: str, channel: str = "", edition: str = "") -> str:
    """A digest: "site/offline/epub/2026-03-02.epub" (the whole mirror), "...-city.epub" (a channel),
    "...-city.zh-hant.epub" (its converted twin)."""
    name = period + (f"-{channel}" if channel else "") + (f".{edition}" if edition else "")
    return f"{offline_dir(config)}/epub/{name}.epub"


def zim_path(config: Config, day: str) -> str:
    return f"{offline_dir(config)}/zim/mirror-{day}.zim"


def opds_path(config: Config) -> str:
    return f"{offline_dir(config)}/catalog.xml"


def offline_index_path(config: Config) -> str:
    """The offline editions' download page (the HTML home page links it)."""
    return f"{offline_dir(config)}/index.html"


# -- one article's files, the managed paths -------------------------------------------------------------------


def page_paths(config: Config, state: ArticleState) -> list[str]:
    """An article's page in every edition written (not its QR codes)."""
    paths = [page_path(state.channel, state.id)] if config.editions.markdown else []
    if config.editions.html:
        paths += [e.path(page_path(state.channel, state.id)) for e in html_editions(config)]
    return paths


def article_files(config: Config, state: ArticleState) -> list[str]:
    """Every file of one article's page in the mirror (every edition, QR codes and revisions pages included, those
    it has or may have); images are shared content-addressed assets and are not among them."""
    stems = [page.rsplit(".", 1) for page in page_paths(config, state)]
    return [file for stem, suffix in stems for file in (f"{stem}.{suffix}", f"{stem}.png", f"{stem}.revisions.{suffix}")]


def managed_paths(config: Config) -> list[str]:
    """What newsmirror writes in the mirror's work tree; anything else there belongs to people and is left alone."""
    paths = [HOME, INDEXES, PAGES, ASSETS]
    if config.mirror.signing_key:
        paths += [MIRROR_LIST, MIRROR_LIST + ".minisig"]
    if config.editions.html:
        paths.append(html_dir(config))
    return paths


# -- public addresses -------------------------------------------------------------------------------------------


def public_bases(config: Config, html: bool = False) -> list[str]:
    """The mirror's public addresses for one edition, primary first."""
    bases = (config.editions.html_public_base_urls if html else []) or config.mirror.public_base_urls
    return [base.rstrip("/") + "/" for base in bases]


def share_url(config: Config, path: str, html: bool = False) -> str | None:
    bases = public_bases(config, html)
    return bases[0] + path if bases else None


@dataclass(frozen=True)
class MirrorLink:
    label: str
    url: str


def failover_links(config: Config, path: str, html: bool = False) -> list[MirrorLink]:
    """The same page on every other public mirror (and the other addresses, such as an onion service), so a reader
    whose host is blocked can switch. The signed mirror list says the same."""
    links: list[MirrorLink] = []
    others = [str(url).rstrip("/") + "/" for url in config.mirror.other_addresses]
    for base in public_bases(config, html)[1:] + others:
        label = urlsplit(base).netloc or base
        taken = sum(1 for link in links if link.label.split(" (")[0] == label)
        links.append(MirrorLink(f"{label} ({taken + 1})" if taken else label, base + path))
    return links


# -- assets: content-addressed images, shared by every edition (fetch/assets.py makes them) --------------------

DIGEST_CHARS = 16  # hex characters of the SHA-256 in a file name: 64 bits, no collision in any real mirror
_LOCAL = re.compile(rf"^{ASSETS}/[0-9a-f]{{2}}/[0-9a-f]{{{DIGEST_CHARS},64}}\.(webp|jpg|png)$")


def asset_path(digest: str, ext: str) -> str:
    """Content-addressed path of an asset, relative to the mirror root: "assets/ab/abcdef0123456789.webp"."""
    digest = digest.lower()
    return f"{ASSETS}/{digest[:2]}/{digest[:DIGEST_CHARS]}.{ext}"


def is_local(src: str) -> bool:
    """True for an asset path made by `asset_path` (a localised image); False for URLs and anything else."""
    return bool(_LOCAL.match(src))


def asset_link(src: str, page_path: str, base_url: str | None = None) -> str:
    """How the page at `page_path` refers to asset `src`: relative ("../../assets/ab/….webp"), or under
    `base_url` when one is given (`images.asset_base_urls[0]` for the Markdown edition)."""
    if base_url:
        return base_url.rstrip("/") + "/" + src
    return posixpath.relpath(src, posixpath.dirname(page_path) or ".")
