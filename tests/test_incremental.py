"""Incremental rendering: one new or changed article re-renders a constant number of files, whatever the mirror's
size, and the index pages it re-renders are byte for byte what a full render makes. Mirrors are made of generated
state records (a real SQLite file); nothing is fetched."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsmirror import layout

from newsmirror.editions import regenerate
from newsmirror.config import Config, parse_config
from newsmirror.state.channels import all_channels
from newsmirror.editions.seam import listed_channels, open_editions, render_changed
from newsmirror.records import Article
from newsmirror.state.store import Store
from newsmirror.extract.transform import content_hash

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
CHANNELS = ("world", "city")
CONFIG = """
[mirror]
title = "Scale test"
output = "mirror"
state = "state.db"
public_base_urls = ["https://mirror.example/"]
index_page_size = 10

[editions]
search = false

[[sources]]
name = "world"
kind = "urls"
channel = "world"
urls = ["https://src.example/world/0.html"]

[[sources]]
name = "city"
kind = "urls"
channel = "city"
urls = ["https://src.example/city/0.html"]
"""


def make_config(tmp_path: Path) -> Config:
    return parse_config(CONFIG, base_dir=tmp_path)


def add(store: Store, index: int, minutes_ago: int, title: str | None = None) -> str:
    """Article `index` in channel world (and city for every 4th), published `minutes_ago` before NOW."""
    ident = f"n{index:05d}"
    channels = ("world", "city") if index % 4 == 0 else (CHANNELS[index % 2],)
    url = f"https://src.example/{channels[0]}/{ident}.html"
    published = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    article = Article(url=url, title=title or f"Story {index}", text=f"Text {index}.", body_html=f"<p>Text {index}.</p>",
                      published=published)
    stamp = NOW.isoformat()
    store.ensure_article(ident, url, channels[0], stamp)
    store.add_channels(ident, channels, stamp)
    store.save_article(ident, article, content_hash(article), None, stamp)
    return ident


def mirror(tmp_path: Path, size: int) -> tuple[Config, Store]:
    """A mirror of `size` generated articles whose pages are up to date (its render signature is recorded)."""
    config = make_config(tmp_path)
    store = Store(config.state_path)
    with store.transaction():
        for index in range(1, size + 1):
            add(store, index, minutes_ago=10 * index)
        regenerate.remember(config, store, all_channels(config, store))
    return config, store


def rendered(config: Config, store: Store, changed: set[str], full: bool = False) -> dict[str, bytes]:
    with store.transaction():
        names = listed_channels(config, store)
        editions = open_editions(config, store, names, regenerate.PagesByUrl(store))
        return {f.path: f.content for f in render_changed(config, store, editions, names, changed, NOW,
                                                                full=full)}


@pytest.mark.parametrize("size", [300, 3000])
def test_one_new_article_renders_a_constant_number_of_files(tmp_path, size):
    config, store = mirror(tmp_path, size)
    with store.transaction():
        new = add(store, 0, minutes_ago=1)  # index 0: in world and city
    files = rendered(config, store, {new})
    world, city = (store.channel_count(c) for c in CHANNELS)
    md_indexes = {p for p in files if p.startswith("indexes/") and p != layout.HOT}
    # each channel: its front page, its newest archive page and the one before it
    expected = set()
    for channel, total in (("world", world), ("city", city)):
        archives = layout.archive_layout(total, 10)
        expected |= {layout.index_path(channel, n) for n in (0, archives - 1, archives)}
    assert md_indexes == expected
    article_pages = {p for p in files if "/pages/" in f"/{p}"}
    assert article_pages == {f"pages/world/{new}.md", f"pages/world/{new}.png",
                             f"site/pages/world/{new}.html", f"site/pages/world/{new}.png"}
    assert len(files) == 23, sorted(files)  # the same for 300 and 3,000 articles
    store.close()


def test_re_rendered_index_pages_match_a_full_render(tmp_path):
    config, store = mirror(tmp_path, 205)
    with store.transaction():
        new = add(store, 0, minutes_ago=1)
        # an older article changed its title in place: the archive page listing it changes too
        add(store, 150, minutes_ago=1500, title="Story 150, corrected")
    partial = rendered(config, store, {new, "n00150"})
    full = rendered(config, store, set(), full=True)
    indexes = [p for p in partial if p.startswith(("indexes/", "site/indexes/"))]
    assert any(p.startswith("indexes/world-") for p in indexes)
    for path in indexes:
        assert partial[path] == full[path], path
    # n00150 is world's 150/2 = 75th newest of 103: oldest-first 27, so on archive page 3 of 10
    assert "indexes/world-3.md" in partial and b"Story 150, corrected" in partial["indexes/world-3.md"]
    assert "indexes/world-2.md" not in partial  # older pages did not change
    store.close()


def test_a_changed_render_configuration_renders_every_index(tmp_path):
    config, store = mirror(tmp_path, 60)
    quiet = rendered(config, store, set())
    assert not any(p.startswith("indexes/world-") for p in quiet)  # nothing changed: no archive page
    changed = parse_config(CONFIG.replace('title = "Scale test"', 'title = "Renamed"'), base_dir=tmp_path)
    files = rendered(changed, store, set())
    world_pages = layout.archive_layout(store.channel_count("world"), 10) + 1
    assert sum(p.startswith("indexes/world") for p in files) == world_pages
    again = rendered(changed, store, set())  # recorded: back to proportional
    assert not any(p.startswith("indexes/world-") for p in again)
    store.close()


def test_channel_entries_read_slices_like_the_full_list(tmp_path):
    config, store = mirror(tmp_path, 57)
    entries = regenerate.ChannelEntries(store, "world")
    full = store.published_articles("world")
    assert len(entries) == len(full)
    assert entries[:10] == full[:10] and entries[7:23] == full[7:23] and entries[-1] == full[-1]
    assert list(entries) == full
    assert [s for batch in store.published_batches(size=7) for s in batch] == store.published_articles()
    walk = regenerate.ChannelEntries(store, "world")  # archive pages in order: each read by key from the last
    total = len(walk)
    reads = []
    store.channel_newer = lambda *args: reads.append(args) or Store.channel_newer(store, *args)
    for number in range(1, total // 10 + 1):
        page = slice(total - number * 10, total - (number - 1) * 10)
        assert walk[page] == full[page]
    assert len(reads) == total // 10 - 1  # every page after the oldest
    store.close()
