"""The Markdown edition (pure): records + config -> files for git hosts to render.

Its files and their paths are `layout`'s: README.md (home), channel indexes with archive pages, the hot list,
one page and QR code per article. Links between mirror pages are relative.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined

from newsmirror.config import Config
from newsmirror.layout import (HOME, HOT, MIRROR_LIST, REMOVED, archive_layout, archive_slice, asset_link,
                               failover_links, index_path, is_local, page_path, qr_path, share_url)
from newsmirror.records import Article, ArticleState, RenderedFile
from newsmirror.extract.transform import (
    autolink, encode_url, escape_text, is_http, link_destination, link_images, one_line, relative_link, rewrite_links,
    sanitize, to_markdown,
)

def md_escape(text: object) -> str:
    """Text for inline Markdown (titles, authors, alt texts, captions, labels): on one line, every character reads
    back as itself (see `transform.escape_text`)."""
    return escape_text(one_line(str(text or "")))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("newsmirror", "templates"), autoescape=False, undefined=StrictUndefined,
        keep_trailing_newline=True, trim_blocks=False,
    )
    env.filters["md"] = md_escape
    env.filters["url"] = link_destination  # every URL in `[...](...)`, ours included
    env.filters["autolink"] = autolink
    return env


def short_date(state: ArticleState) -> str:
    return (state.published or state.first_seen or "")[:10]


@dataclass(frozen=True)
class Entry:
    title: str
    link: str
    date: str
    external: bool = False  # a retired article: its page was removed, the entry links to the original


def _entries(config: Config, from_path: str, states: Sequence[ArticleState], variation: str | None) -> list[Entry]:
    return [
        Entry(state.title or state.url, state.url, short_date(state), external=True) if state.retired else
        Entry(state.title or state.url, _link(config, from_path, page_path(state.channel, state.id), variation),
              short_date(state))
        for state in states
    ]


def _link(config: Config, from_path: str, to_path: str, variation: str | None) -> str:
    return relative_link(from_path, to_path, config.mirror.link_suffix(variation))


def menu(config: Config, from_path: str, channels: Sequence[str], variation: str | None = None) -> str:
    """The navigation line: home, the given channel(s), the hot list, extra links from config."""
    labels = config.labels
    links = [(labels.home, _link(config, from_path, HOME, variation))]
    links += [(config.channel_title(c), _link(config, from_path, index_path(c), variation)) for c in channels]
    links.append((labels.hot, _link(config, from_path, HOT, variation)))
    links += [(link.label, link.url) for link in config.menu]
    return " | ".join(f"[{md_escape(label)}]({link_destination(url)})" for label, url in links)


def failover_line(config: Config, path: str) -> str:
    """The other mirrors of this page (the addresses of the signed list), then the list itself when it is signed."""
    links = failover_links(config, path)
    signed = f"[{md_escape(config.labels.mirror_list)}](<{relative_link(path, MIRROR_LIST)}>)" \
        if config.mirror.signing_key else ""
    if not links:
        return signed
    line = f"{md_escape(config.labels.mirrors)}: " + " · ".join(
        f"[{md_escape(link.label)}](<{link_destination(link.url)}>)" for link in links)
    return f"{line} · {signed}" if signed else line


#: a fixed QR mask (any of the eight is valid for every reader): scoring all eight was 2/3 of a page's render time
QR_MASK = 0


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False, mask=QR_MASK).save(buffer, kind="png", scale=4, border=2)
    return buffer.getvalue()


def updated_date(state: ArticleState, article: Article) -> str:
    """The day a page says it was updated: the later of the article's own date and the day a re-fetch found the
    original edited; "" when that is the day it was published."""
    updated = max((article.updated or "")[:10], (state.edited_at or "")[:10])
    return "" if updated == (article.published or "")[:10] else updated


def removed_notice(config: Config, state: ArticleState) -> str:
    """"The original was removed from its site on <day>." once the source answered 404/410."""
    return f"{config.labels.removed} {state.removed_at[:10]}." if state.removed_at else ""


def render_article(
    config: Config, state: ArticleState, article: Article, pages_by_url: Mapping[str, str], edited: str = ""
) -> list[RenderedFile]:
    """The article page and its QR code; `edited`: the line linking to its revisions page (Markdown), if any."""
    path = page_path(state.channel, state.id)
    variation = state.id
    images = config.images
    asset_base = images.asset_base_urls[0] if images.asset_base_urls else None
    body_html = rewrite_links(sanitize(article.body_html), path, pages_by_url, config.mirror.in_body_links,
                              config.mirror.link_suffix(variation))
    lead = article.lead_image
    if lead and lead.src in body_html:
        lead = None  # the body shows it already
    body_html = link_images(body_html, path, images.localise, config.labels.image_unavailable, asset_base)
    lead_link = lead and lead_image_link(lead.src, path, images.localise, asset_base)
    updated = updated_date(state, article)
    meta = " · ".join(x for x in ((article.published or "")[:10].strip(), (article.author or "").strip(),
                                   updated and f"{config.labels.updated} {updated}") if x)
    share = share_url(config, path)
    pixel = None
    if config.mirror.counter_pixel:
        # the one raw HTML in a page (a Markdown image would not take width/height): an attribute-safe URL
        pixel = html.escape(encode_url(config.mirror.counter_pixel.format(path=path, id=state.id,
                                                                           channel=state.channel)))
    text = _environment().get_template("article.md.j2").render(
        article=article, meta=meta, notice=removed_notice(config, state), edited=edited,
        menu=menu(config, path, [state.channel], variation), promo=config.mirror.promo_markdown.strip(), lead=lead, lead_link=lead_link,
        missing=config.labels.image_unavailable, body=to_markdown(body_html), labels=config.labels,
        share_url=share, qr_file=qr_path(state.channel, state.id).rsplit("/", 1)[1], pixel=pixel,
        mirrors=failover_line(config, path),
    )
    files = [RenderedFile(path, _normalise(text))]
    if share:
        files.append(RenderedFile(qr_path(state.channel, state.id), qr_png(share)))
    return files


def lead_image_link(src: str, page: str, localise: bool, asset_base: str | None) -> str | None:
    """Where the page loads its lead image from; None means "show a placeholder" (never hot-link when localising,
    never anything but an http(s) URL)."""
    if is_local(src):
        return asset_link(src, page, asset_base)
    return None if localise or not is_http(src) else src


def render_channel(config: Config, channel: str, states: Sequence[ArticleState],
                   all_channels: Sequence[str] | None = None, numbers: Collection[int] | None = None
                   ) -> list[RenderedFile]:
    """The channel index (newest first) and its archive pages.

    Archive pages hold full chunks counted from the oldest entry, so they stay stable as new articles arrive;
    the front page shows the newest `index_page_size` entries, which cover whatever no archive page holds yet.
    `numbers`: only these pages (0 = the front page); `states` may be a lazy sequence (only slices are read)."""
    size = config.mirror.index_page_size
    archives = archive_layout(len(states), size)
    template = _environment().get_template("index.md.j2")
    title = config.channel_title(channel)
    description = config.channels[channel].description if channel in config.channels else ""
    files = []
    for number in range(archives + 1):
        if numbers is not None and number not in numbers:
            continue
        path = index_path(channel, number)
        if number == 0:
            shown = list(states[:size])
            newer, older = None, (index_path(channel, archives) if archives else None)
        else:
            shown = list(states[slice(*archive_slice(len(states), size, number))])
            newer = index_path(channel, number + 1 if number < archives else 0)
            older = index_path(channel, number - 1) if number > 1 else None
        text = template.render(
            title=title, page_number=number or None, description=description if number == 0 else "",
            menu=menu(config, path, all_channels or config.channel_names(), channel), labels=config.labels,
            entries=_entries(config, path, shown, channel),
            newer=newer and _link(config, path, newer, channel), older=older and _link(config, path, older, channel),
            mirrors=failover_line(config, path),
        )
        files.append(RenderedFile(path, _normalise(text)))
    return files


KEEP_START, KEEP_END = "<!-- newsmirror:keep -->", "<!-- /newsmirror:keep -->"
_KEPT = re.compile(re.escape(KEEP_START) + r".*?" + re.escape(KEEP_END), re.S)


def kept_sections(old_home: str) -> str:
    """The sections people wrote into the home page between keep markers; every render carries them over."""
    return "\n\n".join(_KEPT.findall(old_home))


def render_home(config: Config, channels: Mapping[str, Sequence[ArticleState]], kept: str = "",
                hot: Sequence[ArticleState] = (), removed_list: bool = False) -> RenderedFile:
    """The home page: the hot list's top entries (once there are views), then the newest of each channel, then a
    link to the "Removed at the source" list once there is one."""
    per_channel = config.mirror.home_per_channel
    sections = [
        {"title": config.channel_title(name), "link": _link(config, HOME, index_path(name), "home"),
         "entries": _entries(config, HOME, states[:per_channel], "home"), "more": len(states) > per_channel}
        for name, states in channels.items()
    ]
    hot_section = {"title": config.labels.hot, "link": _link(config, HOME, HOT, "home"),
                   "entries": _entries(config, HOME, hot[:per_channel], "home")} if hot else None
    text = _environment().get_template("home.md.j2").render(
        mirror=config.mirror, labels=config.labels, channels=sections, hot=hot_section,
        menu=menu(config, HOME, list(channels), "home"), mirrors=failover_line(config, HOME), kept=kept,
        removed={"title": config.labels.removed_list, "link": _link(config, HOME, REMOVED, "home")}
        if removed_list else None,
    )
    return RenderedFile(HOME, _normalise(text))


def render_hot(config: Config, ranked: Sequence[ArticleState], channels: Sequence[str]) -> RenderedFile:
    text = _environment().get_template("hot.md.j2").render(
        labels=config.labels, menu=menu(config, HOT, list(channels), "hot"),
        entries=_entries(config, HOT, ranked, "hot"), mirrors=failover_line(config, HOT),
    )
    return RenderedFile(HOT, _normalise(text))


def _normalise(text: str) -> bytes:
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text.encode("utf-8")
