"""What changed at the source, for readers: an article's revisions page and the "Removed at the source" list.

    history(config, store, state)                 the versions to show, or None (never edited, or hidden)
    markdown_line / markdown_page                 "Edited at the source on <date> (N versions)" and its page
    html_link / html_page                         the same for the HTML edition (and its converted twin)
    removed(config, store, root)                  the removed list's entries, or None when there is no list
    removed_markdown / removed_html               indexes/removed.md; site/indexes/removed.html + feeds/removed.xml

A revisions page shows, newest first, each version with the time it was first seen and its word-level diff
(`textdiff`: characters for Chinese) against the version before; version 1 is shown whole. Channels turn either
off with `revisions = false` / `removed_list = false`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.editions import markdown as markdown_edition
from newsmirror.editions.atom import Feed, FeedEntry, render_feed, summary_of
from newsmirror.editions.textdiff import Piece, changes, inline_diff, paragraphs
from newsmirror.records import ArticleState, RenderedFile
from newsmirror.state.revisions import Revision
from newsmirror.state.store import Store

REMOVED_SHOWN = 200  # newest removals on the list page


def history(config: Config, store: Store, state: ArticleState) -> list[Revision] | None:
    """The kept versions, oldest first, when there are two or more and the channel shows them."""
    channel = config.channels.get(state.channel)
    if state.edited_at is None or (channel is not None and not channel.revisions):
        return None
    versions = store.revisions(state.id)
    return versions if len(versions) >= 2 else None


def _line(config: Config, versions: list[Revision]) -> str:
    return f"{config.labels.edited} {versions[-1].seen[:10]} ({len(versions)} {config.labels.versions})"


@dataclass(frozen=True)
class _Shown:
    number: int
    seen: str
    title: str  # the title when it changed (or version 1's)
    changes: list[dict]
    skipped: int


def _versions(versions: list[Revision], render: Callable[[tuple[Piece, ...]], str],
              conv: Callable[[str], str]) -> list[_Shown]:
    shown = []
    for before, after in zip([None, *versions], versions):
        if before is None:
            found = [{"skipped": 0, "pieces": (("=", conv(p)),)} for p in paragraphs(after.article.text)]
            skipped, title = 0, render((("=", conv(after.article.title)),))
        else:
            diff, skipped = changes(conv(before.article.text), conv(after.article.text))
            found = [{"skipped": c.unchanged_before, "pieces": c.pieces} for c in diff]
            title = render(_title_diff(conv(before.article.title), conv(after.article.title)))
        rendered = [{"skipped": f["skipped"], "text": render(f["pieces"])} for f in found]
        shown.append(_Shown(after.number, after.seen[:16].replace("T", " "), title, rendered, skipped))
    return shown[::-1]


def _title_diff(old: str, new: str) -> tuple[Piece, ...]:
    return inline_diff(old, new) if old != new else ()


def _md_pieces(pieces: tuple[Piece, ...]) -> str:
    """Deleted text struck through, added text in bold; the spaces around a piece kept (escaping trims them)."""
    out = []
    for op, text in pieces:
        core = text.strip()
        lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
        escaped = markdown_edition.md_escape(core) if core else ""
        if op != "=" and escaped:
            escaped = ("~~" if op == "-" else "**") + escaped + ("~~" if op == "-" else "**")
        out.append((" " if lead else "") + escaped + (" " if trail else ""))
    return "".join(out).strip()


def _html_pieces(pieces: tuple[Piece, ...]) -> Markup:
    tags = {"-": "del", "+": "ins"}
    return Markup("").join(escape(text) if op == "=" else Markup(f"<{tags[op]}>{escape(text)}</{tags[op]}>")
                           for op, text in pieces)


# -- Markdown edition ------------------------------------------------------------------------------------------


def markdown_line(config: Config, state: ArticleState, versions: list[Revision]) -> str:
    page = layout.page_path(state.channel, state.id)
    link = markdown_edition._link(config, page, layout.revisions_path(state.channel, state.id), state.id)
    return f"*[{markdown_edition.md_escape(_line(config, versions))}]({markdown_edition.link_destination(link)})*"


def markdown_page(config: Config, state: ArticleState, versions: list[Revision]) -> RenderedFile:
    path = layout.revisions_path(state.channel, state.id)
    text = markdown_edition._environment().get_template("revisions.md.j2").render(
        labels=config.labels, title=versions[-1].article.title, count=len(versions), url=state.url,
        back=markdown_edition._link(config, path, layout.page_path(state.channel, state.id), state.id),
        versions=_versions(versions, _md_pieces, str), menu=markdown_edition.menu(config, path, [state.channel]),
        mirrors=markdown_edition.failover_line(config, path))
    return RenderedFile(path, markdown_edition._normalise(text))


# -- HTML edition -----------------------------------------------------------------------------------------------


def html_link(ctx, state: ArticleState, versions: list[Revision]) -> dict:
    page = ctx.edition.path(layout.page_path(state.channel, state.id))
    return {"text": ctx.conv(_line(ctx.config, versions)),
            "link": ctx.link(page, ctx.edition.path(layout.revisions_path(state.channel, state.id)), state.id)}


def html_page(ctx, state: ArticleState, versions: list[Revision]) -> RenderedFile:
    path = ctx.edition.path(layout.revisions_path(state.channel, state.id))
    conv = ctx.article_conv(state)
    title = conv(versions[-1].article.title)
    return ctx.page("revisions.html.j2", path, f"{ctx.labels.revisions}: {title} · {ctx.conv(ctx.config.mirror.title)}",
                    lang=versions[-1].article.language or None, article_title=title, count=len(versions),
                    url=state.url, back=ctx.link(path, ctx.edition.path(layout.page_path(state.channel, state.id)),
                                                 state.id),
                    versions=_versions(versions, _html_pieces, conv), menu=ctx.menu(path, [state.channel], state.id))


# -- the removed list -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    state: ArticleState
    reason: str
    excerpt: str  # the start of the last text kept


def removed(config: Config, store: Store, root: Path) -> list[Removed] | None:
    """Newest removal first, for channels that list them; None while nothing was ever removed (no list yet)."""
    states = [s for s in store.removed_articles(REMOVED_SHOWN)
              if s.channel not in config.channels or config.channels[s.channel].removed_list]
    if not states and not (root / layout.REMOVED).exists():
        return None
    reasons = store.removal_reasons([s.id for s in states])
    out = []
    for state in states:
        article = store.article_record(state.id)
        out.append(Removed(state, reasons.get(state.id, ""), summary_of(article.text) if article else ""))
    return out


def _entry(item: Removed, link: str, conv: Callable[[str], str] = str) -> dict:
    state = item.state
    return {"date": (state.removed_at or "")[:10], "title": conv(state.title or state.url), "link": link,
            "reason": item.reason, "excerpt": conv(item.excerpt)}


def removed_markdown(config: Config, items: Sequence[Removed], channels: Sequence[str]) -> RenderedFile:
    path = layout.REMOVED
    entries = [_entry(i, markdown_edition._link(config, path, layout.page_path(i.state.channel, i.state.id), "removed"))
               for i in items]
    text = markdown_edition._environment().get_template("removed.md.j2").render(
        labels=config.labels, entries=entries, menu=markdown_edition.menu(config, path, list(channels), "removed"),
        mirrors=markdown_edition.failover_line(config, path))
    return RenderedFile(path, markdown_edition._normalise(text))


def removed_html(ctx, items: Sequence[Removed]) -> list[RenderedFile]:
    config, e = ctx.config, ctx.edition
    path, feed_path = e.path(layout.REMOVED), e.feed("removed")
    entries = [_entry(i, ctx.link(path, e.path(layout.page_path(i.state.channel, i.state.id)), "removed"),
                      ctx.article_conv(i.state)) for i in items]
    heading = ctx.labels.removed_list
    page = ctx.page("removed.html.j2", path, f"{heading} · {ctx.conv(config.mirror.title)}", feed=feed_path,
                    entries=entries, menu=ctx.menu(path, ctx.channels, "removed"))
    public = layout.share_url(config, e.root + "/", html=True)
    feed_entries = [FeedEntry(i.state.url, entry["title"],
                              (public or "") + layout.page_path(i.state.channel, i.state.id).removesuffix(".md") + ".html",
                              i.state.removed_at or "", entry["excerpt"]) for i, entry in zip(items, entries)]
    feed = render_feed(Feed(
        id=(public + feed_path[len(e.root) + 1:]) if public else f"urn:newsmirror:feed:{e.root}/removed",
        title=f"{heading} · {ctx.conv(config.mirror.title)}", author=ctx.conv(config.mirror.title),
        alternate=(public or "") + layout.REMOVED.removesuffix(".md") + ".html",
        entries=feed_entries[: config.editions.feed_size], self_link=public and public + feed_path[len(e.root) + 1:],
        base=None if public else "../", language=e.lang or config.mirror.language))
    return [page, RenderedFile(feed_path, feed)]


__all__ = ["history", "markdown_line", "markdown_page", "html_link", "html_page", "removed", "removed_markdown",
           "removed_html"]
