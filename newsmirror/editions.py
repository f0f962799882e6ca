"""Editions behind one seam: each form the mirror is published in renders an article's files, renders the list
pages, and finishes what it derives from the written tree. The pipeline knows only this interface.

    editions = open_editions(config, store, channel_names, pages_by_url)
    for edition in editions: edition.article_files(state, article)     per changed article (all of them, or none)
    for edition in editions: edition.list_files(lists)                 indexes, home, hot list, feeds ...
    for edition in editions: edition.finish(written)                   after writing: derived files (Pagefind)
    for edition in editions: edition.committed()                       after the commit

Where an edition's files live is `layout`'s; what they look like is its renderer's (render.py for Markdown,
render_html.py for the HTML edition and its converted twin).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from newsmirror import layout, render, render_html, search
from newsmirror.config import Config
from newsmirror.records import Article, RenderedFile
from newsmirror.store import ArticleState, Store


@dataclass(frozen=True)
class Lists:
    """What the list pages of every edition show this run."""

    channels: Mapping[str, Sequence[ArticleState]]  # each channel's published entries, newest first
    hot: Sequence[ArticleState]
    numbers: Mapping[str, Collection[int]] | None  # the index pages to render per channel; None: all of them
    records: Callable[[str], Article | None]  # an article's stored record, by id (feeds show summaries)


class Edition(Protocol):
    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]: ...

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]: ...

    def finish(self, written: list[str]) -> list[str]:
        """Derive what depends on the written tree; return the paths it regenerated (to stage)."""
        ...

    def committed(self) -> None: ...


class MarkdownEdition:
    """Pages for git hosts: README.md, channel indexes, the hot list, article pages with QR codes."""

    def __init__(self, config: Config, channels: Sequence[str], pages_by_url: Mapping[str, str]):
        self.config, self.channels, self.pages_by_url = config, list(channels), pages_by_url

    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]:
        return render.render_article(self.config, state, article, self.pages_by_url)

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]:
        config, names = self.config, list(lists.channels)
        for name, states in lists.channels.items():
            if lists.numbers is None or name in lists.numbers:
                yield from render.render_channel(config, name, states, names,
                                                 None if lists.numbers is None else lists.numbers[name])
        home = config.output_dir / layout.HOME
        old_home = home.read_text(encoding="utf-8", errors="replace") if home.is_file() else ""
        yield render.render_home(config, lists.channels, kept=render.kept_sections(old_home), hot=lists.hot)
        yield render.render_hot(config, lists.hot, names)

    def finish(self, written: list[str]) -> list[str]:
        return []

    def committed(self) -> None:
        pass


class HtmlEdition:
    """The static site (and its converted twin): pages, indexes, home, hot list, Atom feeds, Pagefind search."""

    def __init__(self, config: Config, store: Store, channels: Sequence[str], pages_by_url: Mapping[str, str]):
        self.config, self.store = config, store
        self.contexts = render_html.site_contexts(config, channels, pages_by_url)

    def article_files(self, state: ArticleState, article: Article) -> list[RenderedFile]:
        return [file for ctx in self.contexts for file in render_html.render_article(ctx, state, article)]

    def list_files(self, lists: Lists) -> Iterator[RenderedFile]:
        yield from render_html.render_lists(self.contexts, lists.channels, lists.hot, lists.records, lists.numbers)

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
        editions.append(MarkdownEdition(config, channels, pages_by_url))
    if config.editions.html:
        editions.append(HtmlEdition(config, store, channels, pages_by_url))
    return editions
