"""EPUB digests of one period, from state: which articles, in what order, with which text and images.

    build_digests(config, store, period, channels) -> [RenderedFile]    the whole mirror + each channel, per edition

A digest holds its period's articles (by the date the source gives, else the day first seen), newest first,
channel by channel in the mirror's channel order; the whole-mirror digest lists an article once, under its first
channel. The converted HTML edition (`editions.convert`) gets converted twins, named
"<period>[-<channel>].<edition dir>.epub".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.convert import article_profile, convert_html, convert_text, edition_dir, text_converter
from newsmirror.editions import epub
from newsmirror.editions.html_parts import promo_html, sanitize_body
from newsmirror.layout import HtmlEdition, is_local
from newsmirror.editions.periods import Period
from newsmirror.records import Article, RenderedFile

if TYPE_CHECKING:
    from newsmirror.records import ArticleState
    from newsmirror.state.store import Store

SCAN_LIMIT = 1_000_000  # entries of one channel read for a period (all of them, in practice)


def period_articles(store: Store, channel: str, period: Period, limit: int) -> list[ArticleState]:
    """The channel's published entries of the period that still have a page, newest first (at most `limit`)."""
    states = store.channel_newer(channel, period.start.isoformat(), "", SCAN_LIMIT)
    kept = [s for s in states if period.holds(s.date) and not s.retired]
    return kept[::-1][:limit]


class _Images:
    """Local image copies packed for e-readers, each converted once per build."""

    def __init__(self, root: Path, done: dict[str, epub.EpubImage | None]):
        self.root, self.done = root, done  # `done`: shared by every digest of a build
        self.used: list[epub.EpubImage] = []

    def __call__(self, src: str) -> epub.EpubImage | None:
        src = (src or "").strip()
        if not is_local(src):
            return None
        if src not in self.done:
            try:
                self.done[src] = epub.epub_image((self.root / src).read_bytes())
            except (OSError, ValueError):  # missing or undecodable: the page shows its placeholder
                self.done[src] = None
        if self.done[src] is not None:
            self.used.append(self.done[src])
        return self.done[src]


def _modified(states: Sequence[ArticleState], period: Period) -> str:
    """dcterms:modified from the newest article's date (never the clock): the same articles, the same file."""
    best = period.start.isoformat() + "T00:00:00Z"
    for state in states:
        try:
            moment = datetime.fromisoformat(state.date.replace("Z", "+00:00"))
        except ValueError:
            continue
        moment = moment.replace(tzinfo=moment.tzinfo or timezone.utc).astimezone(timezone.utc)
        best = max(best, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return best


def _chapter(config: Config, edition: HtmlEdition, state: ArticleState, article: Article,
             images: _Images, unavailable: str) -> epub.Chapter:
    body = sanitize_body(article.body_html)
    lead = article.lead_image
    if lead and lead.src and lead.src not in article.body_html:
        caption = f"<figcaption>{epub._text(lead.caption)}</figcaption>" if lead.caption else ""
        body = f'<figure><img src="{epub._attr(lead.src)}" alt="{epub._attr(lead.alt)}">{caption}</figure>' + body
    profile = article_profile(config, state.url, (state.channel, *state.channels), state.source) \
        if edition.profile else ""
    title, author = article.title or state.title or state.url, article.author or ""
    language = epub.language_tag(article.language, config.mirror.language)
    if profile:
        body, title, author = convert_html(body, profile), convert_text(title, profile), convert_text(author, profile)
        language = edition.lang or language
    meta = " · ".join(x for x in ((article.published or state.date or "")[:10], author) if x)
    return epub.Chapter(title, language, meta, article.url, epub.body_xhtml(body, images, unavailable))


def _digest_name(config: Config, edition: HtmlEdition, period: Period, channel: str) -> str:
    return layout.epub_path(config, period.label, channel, edition_dir(edition.profile) if edition.profile else "")


def build_digests(config: Config, store: Store, period: Period, channels: Sequence[str],
                  own: Sequence[str] | None = None, whole: bool = True) -> list[RenderedFile]:
    """The period's digests: the whole mirror's (`whole`) and one per channel in `own` (default: every channel
    in `channels`), for each HTML edition (the original and its converted twin). Channels without articles in
    the period get none; an empty period gives no files."""
    limit = config.editions.epub.max_articles
    per_channel = {name: period_articles(store, name, period, limit) for name in channels}
    groups: list[tuple[str, list[tuple[str, list[ArticleState]]]]] = []
    if whole:
        seen: set[str] = set()
        sections = []
        for name, states in per_channel.items():
            fresh = [s for s in states if s.id not in seen]
            seen.update(s.id for s in fresh)
            sections.append((name, fresh))
        groups.append(("", _cap(sections, limit)))
    groups += [(name, [(name, per_channel[name])]) for name in (channels if own is None else own)
               if per_channel.get(name)]
    records: dict[str, Article | None] = {}
    converted: dict[str, epub.EpubImage | None] = {}
    files = []
    for edition in layout.html_editions(config):
        conv = text_converter(edition.profile)
        unavailable = conv(config.labels.image_unavailable)
        for channel, sections in groups:
            if not any(states for _, states in sections):
                continue
            images = _Images(config.output_dir, converted)
            built = []
            for name, states in sections:
                chapters = []
                for state in states:
                    if state.id not in records:
                        records[state.id] = store.article_record(state.id)
                    if records[state.id] is not None:
                        chapters.append(_chapter(config, edition, state, records[state.id], images, unavailable))
                built.append(epub.Section(conv(config.channel_title(name)), tuple(chapters)))
            path = _digest_name(config, edition, period, channel)
            heading = conv(config.mirror.title) + (f" · {conv(config.channel_title(channel))}" if channel else "")
            digest = epub.Digest(
                identifier=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'newsmirror:{config.mirror.title}:{path}')}",
                title=f"{heading} · {period.label}", language=edition.lang or config.mirror.language or "en",
                date=period.start.isoformat(),
                modified=_modified([s for _, states in sections for s in states], period),
                creator=conv(config.mirror.title), description=conv(config.mirror.description or ""),
                promo=epub.body_xhtml(conv(promo_html(config.mirror.promo_markdown)), lambda _src: None, unavailable),
                original_label=conv(config.labels.original), sections=tuple(built),
                images=epub.unique_images(images.used))
            if any(section.chapters for section in digest.sections):
                files.append(RenderedFile(path, epub.package(digest)))
    return files


def _cap(sections: list[tuple[str, list[ArticleState]]], limit: int) -> list[tuple[str, list[ArticleState]]]:
    """At most `limit` articles over all sections: the period's newest, each kept in its channel's place."""
    newest = sorted((s for _, states in sections for s in states), key=lambda s: (s.date, s.id), reverse=True)
    kept = {s.id for s in newest[:limit]}
    return [(name, [s for s in states if s.id in kept]) for name, states in sections]
