"""Render the HTML edition (pure): records + config -> files under `editions.html_dir` (default "site/").

Layout, relative to the mirror root (H = html_dir):

    H/index.html                      home            H/indexes/<channel>.html (+ <channel>-<n>.html archives)
    H/indexes/hot.html                hot list        H/pages/<channel>/<id>.html and its QR code <id>.png
    H/feeds/<channel>.xml, all.xml    Atom feeds      H/search.html, H/search.js (+ H/pagefind/, by build_search)
    H/<edition>/...                   the converted edition (e.g. H/zh-hant/ for "s2t"), same layout

Pages mirror the Markdown edition's anatomy (title, menu, promo, lead image, body, share block with the public URL
and QR code, original URL, menu again, optional counter pixel). Every link between pages is relative; images are
local files (mirror-relative "assets/..." made relative to the page) or, while `images.localise` is on and an image
is still remote, a visible placeholder: a page never makes the reader's browser contact another host (the optional
counter pixel, an explicit opt-in, is the one exception). The share URL and QR code name the page on the primary
mirror: `editions.html_public_base_urls[0]` (else `public_base_urls[0]`) + page path from the mirror root
(e.g. ".../site/pages/city/x.html"); the other public addresses are listed on every page (failover links).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files as package_files
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from newsmirror import layout
from newsmirror.config import Config, Labels
from newsmirror.convert import article_profile, convert_html, edition_language, text_converter
from newsmirror.editions import markdown as markdown_edition
from newsmirror.editions.atom import Feed, FeedEntry, render_feed, summary_of
from newsmirror.editions.html_parts import REMOTE, lead_html, localise_body_images, promo_html, qr_code, sanitize_body
from newsmirror.editions.worker import REGISTER, REGISTER_HASH, worker_path
from newsmirror.extract.transform import relative_link, rewrite_links
from newsmirror.layout import HtmlEdition
from newsmirror.records import Article, ArticleState, RenderedFile

CSP = ("default-src 'self'; img-src 'self' data:{images}; style-src 'self' 'unsafe-inline'; script-src {scripts}; "
       "object-src 'none'; base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("newsmirror", "templates/html"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return package_files("newsmirror").joinpath(f"templates/html/{name}").read_text(encoding="utf-8")


def site_css() -> str:
    return " ".join(line.strip() for line in _asset("site.css").splitlines() if line.strip())


# -- editions, paths, menus -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    label: str
    link: str
    external: bool = False
    lang: str = ""


@dataclass
class _Context:
    """What every page of one edition shares in one render_site call."""

    config: Config
    edition: HtmlEdition
    channels: list[str]
    labels: Labels
    conv: Callable[[str], str]
    pages: Mapping[str, str] = field(default_factory=dict)  # canonical URL -> this edition's page path
    profiles: dict[str, Callable[[str], str]] = field(default_factory=dict)

    def link(self, from_path: str, to_path: str, variation: str | None) -> str:
        return relative_link(from_path, to_path, self.config.mirror.link_suffix(variation))

    def article_conv(self, state: ArticleState) -> Callable[[str], str]:
        """Converts one article's own text (title, body, captions) in this edition."""
        if not self.edition.profile:
            return self.conv
        if state.id not in self.profiles:
            profile = article_profile(self.config, state.url, (state.channel, *state.channels), state.source)
            self.profiles[state.id] = text_converter(profile)
        return self.profiles[state.id]

    def menu(self, from_path: str, channels: Sequence[str], variation: str | None) -> list[Link]:
        e, labels = self.edition, self.labels
        items = [Link(labels.home, self.link(from_path, e.home, variation))]
        items += [Link(self.conv(self.config.channel_title(c)), self.link(from_path, e.path(layout.index_path(c)),
                                                                         variation)) for c in channels]
        items.append(Link(labels.hot, self.link(from_path, e.path(layout.HOT), variation)))
        if self.config.editions.search:
            items.append(Link(self.conv(labels.search), self.link(from_path, e.search, None)))
        items += [Link(self.conv(m.label), m.url, external=True) for m in self.config.menu]
        return items

    def twin(self, from_path: str) -> Link | None:
        target = self.edition.twin(from_path)
        if target is None:
            return None
        return Link(self.edition.twin_label, relative_link(from_path, target), lang=self.edition.twin_lang)

    def entries(self, from_path: str, states: Sequence[ArticleState], variation: str | None) -> list[markdown_edition.Entry]:
        return [markdown_edition.Entry(self.article_conv(s)(s.title or s.url), s.url, markdown_edition.short_date(s), external=True)
                if s.retired else
                markdown_edition.Entry(self.article_conv(s)(s.title or s.url),
                             self.link(from_path, self.edition.path(layout.page_path(s.channel, s.id)), variation),
                             markdown_edition.short_date(s)) for s in states]

    def page(self, template: str, path: str, title: str, *, scripts: str = "'none'", images: str = "",
             lang: str | None = None, feed: str | None = None, **values: object) -> RenderedFile:
        config = self.config
        remote_images = "" if config.images.localise else " https: http:"
        worker = config.editions.service_worker  # registered by one inline line, allowed by its hash
        if worker:
            scripts = REGISTER_HASH if scripts == "'none'" else f"{scripts} {REGISTER_HASH}"
        csp = Markup(CSP.format(images=remote_images + images, scripts=scripts)  # fixed text: no escaping
                     + ("; worker-src 'self'" if worker else ""))
        text = _environment().get_template(template).render(
            worker=worker and relative_link(path, worker_path(config)), register=Markup(REGISTER),
            mirror_list=config.mirror.signing_key and relative_link(path, layout.MIRROR_LIST),
            lang=lang or self.edition.lang or config.mirror.language, csp=csp, title=title, css=Markup(site_css()),
            twin=self.twin(path), labels=self.labels, feed=feed and relative_link(path, feed),
            mirrors=layout.failover_links(config, path, html=True), **values,
        )
        return RenderedFile(path, _normalise(text))


def _converted_labels(labels: Labels, conv: Callable[[str], str]) -> Labels:
    return labels.model_copy(update={name: conv(value) for name, value in labels.model_dump().items()
                                     if isinstance(value, str)})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


# -- pages ----------------------------------------------------------------------------------------------------


def render_article(ctx: _Context, state: ArticleState, article: Article, edited: dict | None = None
                   ) -> list[RenderedFile]:
    """`edited`: the link to its revisions page ({"text", "link"}), once it was edited at the source."""
    config, e = ctx.config, ctx.edition
    path = e.path(layout.page_path(state.channel, state.id))
    variation = state.id
    conv = ctx.article_conv(state)
    body = rewrite_links(sanitize_body(article.body_html), path, ctx.pages, config.mirror.in_body_links,
                         config.mirror.link_suffix(variation))
    body = localise_body_images(body, path, config)
    lead = article.lead_image
    if lead and (not lead.src or lead.src in article.body_html):
        lead = None  # the body shows it already
    lead_block = lead_html(lead, path, config, ctx.labels) if lead else ""
    promo = promo_html(config.mirror.promo_markdown)
    profile = article_profile(config, state.url, (state.channel, *state.channels), state.source) if e.profile else ""
    if e.profile:
        body = convert_html(body, profile)
        lead_block = Markup(convert_html(str(lead_block), profile)) if lead_block else ""
        promo = convert_html(promo, e.profile)
    updated = markdown_edition.updated_date(state, article)
    meta = " · ".join(x for x in ((article.published or "")[:10], conv(article.author or ""),
                                   updated and f"{ctx.labels.updated} {updated}") if x)
    share = layout.share_url(config, path, html=True)
    pixel, pixel_origin = None, ""
    if config.mirror.counter_pixel:
        pixel = config.mirror.counter_pixel.format(path=path, id=state.id, channel=state.channel)
        pixel_origin = " " + _origin(pixel) if _origin(pixel) else ""
    qr, qr_bytes = None, b""
    if share:
        qr_bytes, size = qr_code(share)
        qr = {"src": path.rsplit("/", 1)[1].removesuffix(".html") + ".png", "size": size}
    title = conv(article.title or state.title or state.url)
    language = edition_language(profile) if profile else None
    page = ctx.page(
        "article.html.j2", path, f"{title} · {ctx.conv(config.mirror.title)}", images=pixel_origin,
        lang=language or article.language or config.mirror.language,
        article_title=title, meta=meta, notice=conv(markdown_edition.removed_notice(config, state)), edited=edited, menu=ctx.menu(path, [state.channel], variation), promo=Markup(promo),
        lead=lead_block, body=Markup(body), share_url=share, qr=qr, original_url=article.url,
        original_link=article.url.startswith(REMOTE), pixel=pixel,
    )
    out = [page]
    if share:
        out.append(RenderedFile(path.removesuffix(".html") + ".png", qr_bytes))
    return out


def render_channel(ctx: _Context, channel: str, states: Sequence[ArticleState],
                   numbers: Collection[int] | None = None) -> list[RenderedFile]:
    """The channel's front index (newest `index_page_size`) and its archive pages, exactly as the Markdown edition
    pages them (full chunks counted from the oldest entry, so archive pages stay stable)."""
    config, e = ctx.config, ctx.edition
    size = config.mirror.index_page_size
    archives = layout.archive_layout(len(states), size)
    title = ctx.conv(config.channel_title(channel))
    description = config.channels[channel].description if channel in config.channels else ""
    out = []
    for number in range(archives + 1):
        if numbers is not None and number not in numbers:
            continue
        path = e.path(layout.index_path(channel, number))
        if number == 0:
            shown = list(states[:size])
            newer, older = None, (layout.index_path(channel, archives) if archives else None)
        else:
            shown = list(states[slice(*layout.archive_slice(len(states), size, number))])
            newer = layout.index_path(channel, number + 1 if number < archives else 0)
            older = layout.index_path(channel, number - 1) if number > 1 else None
        heading = f"{title} ({number})" if number else title
        out.append(ctx.page(
            "list.html.j2", path, f"{heading} · {ctx.conv(config.mirror.title)}", feed=e.feed(channel),
            heading=heading, description=ctx.conv(description) if number == 0 else "",
            menu=ctx.menu(path, ctx.channels, channel), entries=ctx.entries(path, shown, channel), list_tag="ul",
            empty="—", newer=newer and ctx.link(path, e.path(newer), channel),
            older=older and ctx.link(path, e.path(older), channel),
        ))
    return out


def render_home(ctx: _Context, channels: Mapping[str, Sequence[ArticleState]],
                hot: Sequence[ArticleState] = (), removed_list: bool = False) -> RenderedFile:
    config, e = ctx.config, ctx.edition
    path, per_channel = e.home, config.mirror.home_per_channel
    sections = [
        {"title": ctx.conv(config.channel_title(name)), "link": ctx.link(path, e.path(layout.index_path(name)), "home"),
         "entries": ctx.entries(path, states[:per_channel], "home"),
         "more": len(states) > per_channel}
        for name, states in channels.items()
    ]
    ranked = list({s.id: s for s in hot}.values())[:per_channel]
    hot_section = {"title": ctx.labels.hot, "link": ctx.link(path, e.path(layout.HOT), "home"),
                   "entries": ctx.entries(path, ranked, "home")} if ranked else None
    title = ctx.conv(config.mirror.title)
    downloads = relative_link(path, layout.offline_index_path(config))  # offline editions, when enabled
    offline = [(kind.upper(), f"{downloads}#{kind}") for kind in ("epub", "zim")
               if getattr(config.editions, kind).enabled]
    if offline:  # the OPDS catalogue, for e-readers that browse one
        offline.append(("OPDS", relative_link(path, layout.opds_path(config))))
    return ctx.page("home.html.j2", path, title, feed=e.feed("all"), heading=title,
                    description=ctx.conv(config.mirror.description), channels=sections, hot=hot_section,
                    menu=ctx.menu(path, list(channels), "home"), offline=offline,
                    removed=ctx.link(path, e.path(layout.REMOVED), "home") if removed_list else None)


def render_hot(ctx: _Context, ranked: Sequence[ArticleState]) -> RenderedFile:
    path = ctx.edition.path(layout.HOT)
    ranked = list({s.id: s for s in ranked}.values())  # an article whose .md and .html pages both rank: once
    return ctx.page("list.html.j2", path, f"{ctx.labels.hot} · {ctx.conv(ctx.config.mirror.title)}",
                    heading=ctx.labels.hot, description="", menu=ctx.menu(path, ctx.channels, "hot"),
                    entries=ctx.entries(path, ranked, "hot"), list_tag="ol", empty=ctx.labels.hot_empty,
                    newer=None, older=None)


def render_search(ctx: _Context) -> list[RenderedFile]:
    e = ctx.edition
    script_path = f"{ctx.config.editions.html_dir.strip('/') or 'site'}/search.js"
    heading = ctx.conv(ctx.labels.search)
    page = ctx.page("search.html.j2", e.search, f"{heading} · {ctx.conv(ctx.config.mirror.title)}",
                    scripts="'self' 'wasm-unsafe-eval'", heading=heading, script=relative_link(e.search, script_path),
                    noscript=ctx.conv(ctx.labels.search_noscript),
                    menu=ctx.menu(e.search, ctx.channels, None))
    out = [page]
    if not e.profile:
        out.append(RenderedFile(script_path, _asset("search.js").encode("utf-8")))
    return out


def render_feeds(ctx: _Context, channels: Mapping[str, Sequence[ArticleState]],
                 records: Callable[[str], Article | None] | None,
                 only: Collection[str] | None = None) -> list[RenderedFile]:
    """One Atom feed per channel (or only for the channels in `only`) and one for the whole mirror (newest
    `feed_size` entries each)."""
    config, e = ctx.config, ctx.edition
    size = config.editions.feed_size
    public = layout.share_url(config, e.root + "/", html=True)
    summaries: dict[str, str] = {}

    def summary(state: ArticleState) -> str:
        if records is None:
            return ""
        if state.id not in summaries:
            article = records(state.id)
            summaries[state.id] = ctx.article_conv(state)(summary_of(article.text)) if article else ""
        return summaries[state.id]

    def feed(name: str, title: str, states: Sequence[ArticleState], alternate: str) -> RenderedFile:
        path = e.feed(name)
        entries = [FeedEntry(s.url, ctx.article_conv(s)(s.title or s.url),
                             s.url if s.retired else
                             (public or "") + layout.page_path(s.channel, s.id).removesuffix(".md") + ".html",
                             s.published or s.first_seen, summary(s)) for s in states[:size]]
        return RenderedFile(path, render_feed(Feed(
            id=(public + path[len(e.root) + 1:]) if public else f"urn:newsmirror:feed:{e.root}/{name}",
            title=title, author=ctx.conv(config.mirror.title), alternate=(public or "") + alternate,
            entries=entries, self_link=public and public + path[len(e.root) + 1:], base=None if public else "../",
            language=e.lang or config.mirror.language, subtitle=ctx.conv(config.mirror.description),
        )))

    mirror_title = ctx.conv(config.mirror.title)
    out = [feed(name, f"{ctx.conv(config.channel_title(name))} · {mirror_title}", states,
                layout.index_path(name).removesuffix(".md") + ".html") for name, states in channels.items()
           if only is None or name in only]
    everything = {s.id: s for states in channels.values() for s in states[:size]}  # the newest overall are here
    newest = sorted(everything.values(), key=lambda s: (s.published or s.first_seen or "", s.id), reverse=True)
    out.append(feed("all", mirror_title, newest, "index.html"))
    return out


def render_site(config: Config, articles: Iterable[tuple[ArticleState, Article]],
                channels: Mapping[str, Sequence[ArticleState]], hot: Sequence[ArticleState],
                pages_by_url: Mapping[str, str], *,
                records: Callable[[str], Article | None] | None = None) -> list[RenderedFile]:
    """Every file of the HTML edition (and its converted twin) that this run must (re)write.

    `articles`: the articles whose pages are rendered this run; `channels`: each channel's published articles,
    newest first; `hot`: ranked; `pages_by_url`: canonical URL -> Markdown page path ("pages/<ch>/<id>.md").
    `records` (e.g. `store.article_record`) gives feed entries a summary; without it entries have none."""
    out: list[RenderedFile] = []
    contexts = site_contexts(config, channels, pages_by_url)
    for state, article in articles:
        for ctx in contexts:
            out += render_article(ctx, state, article)
    out += render_lists(contexts, channels, hot, records)
    return out


class _EditionPages(Mapping[str, str]):
    """Canonical URL -> this edition's page path, looked up per link (never a copy of the whole map)."""

    def __init__(self, markdown_pages: Mapping[str, str], edition: HtmlEdition):
        self.markdown_pages, self.edition = markdown_pages, edition

    def get(self, url: str, default: str | None = None) -> str | None:  # type: ignore[override]
        found = self.markdown_pages.get(url)
        return self.edition.path(found) if found else default

    def __getitem__(self, url: str) -> str:
        return self.edition.path(self.markdown_pages[url])

    def __iter__(self):
        return iter(self.markdown_pages)

    def __len__(self) -> int:
        return len(self.markdown_pages)


def site_contexts(config: Config, channels: Sequence[str], pages_by_url: Mapping[str, str]) -> list[_Context]:
    """One rendering context per edition (the original, and the converted one when configured)."""
    contexts = []
    for edition in layout.html_editions(config):
        conv = text_converter(edition.profile)
        contexts.append(_Context(config, edition, list(channels), _converted_labels(config.labels, conv), conv,
                                 _EditionPages(pages_by_url, edition)))
    return contexts


def render_lists(contexts: Sequence[_Context], channels: Mapping[str, Sequence[ArticleState]],
                 hot: Sequence[ArticleState], records: Callable[[str], Article | None] | None = None,
                 index_numbers: Mapping[str, Collection[int]] | None = None,
                 removed_list: bool = False) -> list[RenderedFile]:
    """Every edition's indexes, home page, hot list, feeds and search page; with `index_numbers`, only those
    index pages of those channels (and only their feeds)."""
    out: list[RenderedFile] = []
    for ctx in contexts:
        for name, states in channels.items():
            if index_numbers is None:
                out += render_channel(ctx, name, states)
            elif name in index_numbers:
                out += render_channel(ctx, name, states, index_numbers[name])
        out.append(render_home(ctx, channels, hot, removed_list))
        out.append(render_hot(ctx, hot))
        out += render_feeds(ctx, channels, records, None if index_numbers is None else index_numbers)
        if ctx.config.editions.search:
            out += render_search(ctx)
    return out


def _normalise(text: str) -> bytes:
    return (text.strip() + "\n").encode("utf-8")


__all__ = ["render_site", "site_css"]
