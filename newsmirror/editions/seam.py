"""Editions behind one seam: each form the mirror is published in renders an article's files, renders the list
pages, and finishes what it derives from the written tree. The pipeline knows only this interface.

    editions = open_editions(config, store, channel_names, pages_by_url)
    for edition in editions: edition.article_files(state, article)     per changed article (all of them, or none)
    for edition in editions: edition.list_files(lists)                 indexes, home, hot list, feeds ...
    for edition in editions: edition.finish(written)                   after writing: derived files (Pagefind)
    for edition in editions: edition.committed()                       after the commit

Where an edition's files live is `layout`'s; what they look like is its renderer's (markdown_edition.py for Markdown,
html_edition.py for the HTML edition and its converted twin).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from newsmirror import layout

from newsmirror.editions import regenerate

from newsmirror.editions import markdown as markdown_edition

from newsmirror.editions import html as html_edition

from newsmirror.editions import revisions, search
from newsmirror.config import Config
from newsmirror.views.hot import hot_list
from newsmirror.run.plan import retry_delay
from newsmirror.progress import Reporter
from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.records import Article, ArticleState, ItemResult, RenderedFile, RunSummary
from newsmirror.state.channels import all_channels
from newsmirror.state.store import Store


@dataclass(frozen=True)
class Lists:
    """What the list pages of every edition show this run."""

    channels: Mapping[str, Sequence[ArticleState]]  # each channel's published entries, newest first
    hot: Sequence[ArticleState]
    numbers: Mapping[str, Collection[int]] | None  # the index pages to render per channel; None: all of them
    records: Callable[[str], Article | None]  # an article's stored record, by id (feeds show summaries)
    removed: Sequence[revisions.Removed] | None = None  # the removed list's entries; None: there is no list yet


class Edition(Protocol):
    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]: ...

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]: ...

    def finish(self, written: list[str]) -> list[str]:
        """Derive what depends on the written tree; return the paths it regenerated (to stage)."""
        ...

    def committed(self) -> None: ...


class MarkdownEdition:
    """Pages for git hosts: README.md, channel indexes, the hot list, article pages with QR codes."""

    def __init__(self, config: Config, channels: Sequence[str], pages_by_url: Mapping[str, str],
                 store: Store | None = None):
        self.config, self.channels, self.pages_by_url, self.store = config, list(channels), pages_by_url, store

    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]:
        versions = self.store and revisions.history(self.config, self.store, state)
        if not versions:
            return markdown_edition.render_article(self.config, state, article, self.pages_by_url)
        line = revisions.markdown_line(self.config, state, versions)
        return [*markdown_edition.render_article(self.config, state, article, self.pages_by_url, line),
                revisions.markdown_page(self.config, state, versions)]

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]:
        config, names = self.config, list(lists.channels)
        for name, states in lists.channels.items():
            if lists.numbers is None or name in lists.numbers:
                yield from markdown_edition.render_channel(config, name, states, names,
                                                 None if lists.numbers is None else lists.numbers[name])
        home = config.output_dir / layout.HOME
        old_home = home.read_text(encoding="utf-8", errors="replace") if home.is_file() else ""
        yield markdown_edition.render_home(config, lists.channels, kept=markdown_edition.kept_sections(old_home),
                                           hot=lists.hot, removed_list=lists.removed is not None)
        yield markdown_edition.render_hot(config, lists.hot, names)
        if lists.removed is not None:
            yield revisions.removed_markdown(config, lists.removed, names)

    def finish(self, written: list[str]) -> list[str]:
        return []

    def committed(self) -> None:
        pass


class HtmlEdition:
    """The static site (and its converted twin): pages, indexes, home, hot list, Atom feeds, Pagefind search."""

    def __init__(self, config: Config, store: Store, channels: Sequence[str], pages_by_url: Mapping[str, str]):
        self.config, self.store = config, store
        self.contexts = html_edition.site_contexts(config, channels, pages_by_url)

    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]:
        versions = revisions.history(self.config, self.store, state)
        if not versions:
            return [file for ctx in self.contexts for file in html_edition.render_article(ctx, state, article)]
        return [file for ctx in self.contexts for file in [
            *html_edition.render_article(ctx, state, article, revisions.html_link(ctx, state, versions)),
            revisions.html_page(ctx, state, versions)]]

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]:
        yield from html_edition.render_lists(self.contexts, lists.channels, lists.hot, lists.records, lists.numbers,
                                             removed_list=lists.removed is not None)
        if lists.removed is not None:
            for ctx in self.contexts:
                yield from revisions.removed_html(ctx, lists.removed)

    def finish(self, written: list[str]) -> list[str]:
        return search.update_index(self.config, self.store, written)

    def committed(self) -> None:
        search.index_committed(self.config, self.store)


def open_editions(config: Config, store: Store, channels: Sequence[str], pages_by_url: Mapping[str, str]
                  ) -> list[Edition]:
    """The editions the configuration asks for, ready to render with these channels and page links (`store`: the
    run's state, in its transaction, where the HTML edition keeps what its search index covers)."""
    editions: list[Edition] = []
    if config.editions.markdown:
        editions.append(MarkdownEdition(config, channels, pages_by_url, store))
    if config.editions.html:
        editions.append(HtmlEdition(config, store, channels, pages_by_url))
    return editions


# -- what a run renders -------------------------------------------------------------------------------------


RenderFailure = Callable[[ArticleState, Exception], None]


def listed_channels(config: Config, store: Store) -> list[str]:
    """The channels the editions list: the configured ones, then any other that has entries in state."""
    configured = config.channel_names()
    return [name for name in all_channels(config, store)
            if name in configured or len(regenerate.ChannelEntries(store, name))]


def render_changed(config: Config, store: Store, editions: Sequence[Edition], names: list[str], changed: set[str],
                   now: datetime, full: bool = False, on_failure: RenderFailure | None = None
                   ) -> Iterator[RenderedFile]:
    """Every edition's files, one at a time: pages of changed articles, the index pages they touch
    (`regenerate.index_pages`), the home page, the hot list (and for the HTML edition the touched feeds and
    the search page). Every list page and every article page missing on disk when the render configuration
    changed since the last run; every page when `full` (rebuild). Unchanged files are skipped when written.

    An article whose pages cannot be rendered yields none of them and goes to `on_failure` (which takes it out
    of the lists, see `render_failed`) before any list is rendered; without `on_failure` the error propagates."""
    root = config.output_dir
    everything = full or regenerate.render_needs_all(config, store, names)
    numbers: dict[str, set[int]] | None = None
    if not everything:  # the index pages to redo, decided before any article can leave the lists
        touched = changed | set(store.retired_at(now.isoformat()))
        entries = {name: regenerate.ChannelEntries(store, name) for name in names}
        numbers = regenerate.index_pages(config, store, entries, touched)

    def stale(state: ArticleState) -> bool:
        return full or state.id in changed or not all((root / p).exists() for p in layout.page_paths(config, state))

    def articles() -> Iterator[tuple[ArticleState, Article]]:
        states = (s for batch in store.published_batches() for s in batch if stale(s)) if everything else \
            (s for s in map(store.article, sorted(changed)) if s is not None and s.status == "ok")
        for state in states:
            if state.retired:
                continue  # retention removed its page; its entries link to the original
            article = store.article_record(state.id)
            if article is not None:
                yield state, article

    for state, article in articles():
        try:  # the error boundary of rendering: all of an article's files, or none
            files = [file for edition in editions for file in edition.article_files(state, article)]
        except Exception as exc:  # noqa: BLE001 - one page that cannot be rendered costs that page only
            if on_failure is None:
                raise
            on_failure(state, exc)
            continue
        yield from files
    channels = {name: regenerate.ChannelEntries(store, name) for name in names}  # counted after any failure
    lists = Lists(channels, hot_list(config, store, now),
                  None if numbers is None else {n: p for n, p in numbers.items() if n in channels},
                  store.article_record, revisions.removed(config, store, root))
    for edition in editions:
        yield from edition.list_files(lists)
    regenerate.remember(config, store, names)


def render_failed(store: Store, config: Config, now: datetime, run_id: int, summary: RunSummary,
                  reporter: Reporter) -> RenderFailure:
    """What `render_changed` does with an article it cannot render: one failure line; the article leaves the
    lists (status failed) and is fetched and rendered again after the usual back-off."""
    def failed(state: ArticleState, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, NewsmirrorError) else f"unexpected {type(exc).__name__}: {exc}"
        error = NewsmirrorError(state.url, Stage.RENDER, reason)
        retry_at = (now + retry_delay(state.attempts + 1, config.mirror.retry_base_minutes)).isoformat()
        store.mark_failed(state.id, error.stage.value, reason, retry_at, now.isoformat(), unpublish=True)
        store.record_failure(run_id, state.url, error.stage.value, reason, now.isoformat())
        summary.failed += 1
        summary.count(state.channel, "failed")
        summary.failures.append(ItemResult(state.url, Stage.RENDER, False, state.id, "failed", str(error)))
        reporter.failure(str(error))
    return failed
