"""What a run re-renders, in proportion to what changed (queries on state; the rendering itself is elsewhere).

    channels = {name: ChannelEntries(store, name) for name in names}   # lazy, newest first: len() and slices
    numbers = index_pages(config, store, channels, changed_ids)        # channel -> index page numbers to render

Archive pages are numbered from a channel's oldest entry in full chunks of `index_page_size`, so a new article
changes only its channels' front pages and newest archive page (and the one before it, whose "newer" link moves
when a new archive page opens). An article changed in place changes the archive page that lists it and, if its
position moved, the pages after it. Every list page (and every article page missing on disk) is re-rendered when
the render configuration's signature changes (labels, titles, editions, page sizes, templates, the newsmirror
version); existing article pages are re-rendered when their article changes, and all of them on `newsmirror rebuild`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib.resources import files as package_files

from newsmirror import __version__
from newsmirror.config import Config
from newsmirror.layout import archive_layout, page_path
from newsmirror.records import ArticleState
from newsmirror.state.store import Store

SIGNATURE_KEY = "render_signature"
CHUNK = 500


class ChannelEntries(Sequence[ArticleState]):
    """A channel's published entries, newest first, read from state a slice at a time. The last few slices are
    kept; a slice just newer than a kept one is read by key from there (archive pages rendered in order cost
    what they hold, not their offset)."""

    KEEP = 4

    def __init__(self, store: Store, channel: str):
        self.store, self.channel = store, channel
        self._count: int | None = None
        self._slices: dict[tuple[int, int], list[ArticleState]] = {}

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.store.channel_count(self.channel)
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            if stop <= start:
                return []
            if (start, stop) not in self._slices:
                self._slices[(start, stop)] = self._read(start, stop)
                while len(self._slices) > self.KEEP:
                    del self._slices[next(iter(self._slices))]
            return list(self._slices[(start, stop)])
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self[position:position + 1][0]

    def _read(self, start: int, stop: int) -> list[ArticleState]:
        older = next((entries for (first, _), entries in self._slices.items() if first == stop and entries), None)
        if older is not None:
            newest = older[0]
            found = self.store.channel_newer(self.channel, newest.first_seen if newest.published is None
                                             else newest.published, newest.id, stop - start)
            return list(reversed(found))
        return self.store.channel_slice(self.channel, start, stop - start)

    def __iter__(self) -> Iterator[ArticleState]:
        for start in range(0, len(self), CHUNK):
            yield from self.store.channel_slice(self.channel, start, CHUNK)


class PagesByUrl(Mapping[str, str]):
    """Canonical URL -> Markdown page path, looked up in state per link (in-body links to mirrored articles)."""

    def __init__(self, store: Store):
        self.store = store
        self._cache: dict[str, str | None] = {}

    def get(self, url: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if url not in self._cache:
            found = self.store.page_of_url(url)
            self._cache[url] = page_path(found[1], found[0]) if found else None
        return self._cache[url] if self._cache[url] is not None else default

    def __getitem__(self, url: str) -> str:
        found = self.get(url)
        if found is None:
            raise KeyError(url)
        return found

    def __iter__(self) -> Iterator[str]:  # the whole map: only `newsmirror rebuild`-sized callers need this
        return iter(self.store.url_map())

    def __len__(self) -> int:
        return len(self.store.url_map())


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256()
    root = package_files("newsmirror").joinpath("templates")
    stack = [root]
    while stack:
        node = stack.pop()
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                stack.append(child)
            else:
                digest.update(child.name.encode() + b"\0" + child.read_bytes())
    return digest.hexdigest()


def signature(config: Config, channels: Sequence[str]) -> str:
    """Everything besides entries that index, home and feed pages depend on (configuration, templates, version,
    the channels every menu lists): when it changes, render them all."""
    settings = config.model_dump(mode="json", exclude={"fetch"})
    text = json.dumps([__version__, _templates_digest(), settings, list(channels)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def index_pages(config: Config, store: Store, channels: Mapping[str, Sequence[ArticleState]],
                changed: set[str]) -> dict[str, set[int]]:
    """Channel -> the index page numbers (0 = front page, 1.. archives from the oldest) that `changed` touches."""
    size = config.mirror.index_page_size
    numbers: dict[str, set[int]] = {}
    for channel, ids in store.channels_of(changed).items():
        if channel not in channels:
            continue
        total = len(channels[channel])
        archives = archive_layout(total, size)
        lowest = max(archives - 1, 1)  # a new archive page moves the "newer" link of the one before it
        for article_id in ids:
            position = store.channel_position(channel, article_id)  # index, newest first
            if position is not None and position < total:
                lowest = min(lowest, max(1, (total - 1 - position) // size + 1))
        numbers[channel] = {0} | set(range(lowest, archives + 1))
    return numbers


def render_needs_all(config: Config, store: Store, channels: Sequence[str]) -> bool:
    return store.setting(SIGNATURE_KEY) != signature(config, channels)


def remember(config: Config, store: Store, channels: Sequence[str]) -> None:
    store.save_setting(SIGNATURE_KEY, signature(config, channels))
