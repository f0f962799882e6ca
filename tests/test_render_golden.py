"""Golden files for the Markdown edition: regenerate with `./dev test --update-golden`, review the diff."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from newsmirror.editions import markdown as markdown_edition
from newsmirror.config import parse_config
from newsmirror.records import Article, ArticleState, ImageRef

GOLDEN = Path(__file__).parent / "golden"

CONFIG = parse_config("""
[mirror]
title = "Sample Mirror"
description = "Neutral sample pages for the golden tests."
public_base_urls = ["https://git.example.org/demo/mirror/src/branch/main/"]
counter_pixel = "https://counter.example.org/p/{path}"
promo_markdown = "Read more at [the project page](https://example.org/)."
index_page_size = 3
home_per_channel = 2
[labels]
home = "首页"
hot = "热点推荐"
original = "原文地址"
[[menu]]
label = "About"
url = "https://example.org/about"
[channels.world]
title = "World"
[[sources]]
name = "w"
kind = "feed"
channel = "world"
url = "https://news.example.org/world.rss"
""", "golden.toml")


def state(n: int, channel: str = "world") -> ArticleState:
    return ArticleState(id=f"story-{n}", url=f"https://news.example.org/a/story-{n}.html", channel=channel,
                        channels=(channel,), title=f"Story number {n} [part *{n}*]", published=f"2026-03-{n:02d}T08:00:00Z",
                        status="ok", attempts=0, next_retry=None, source_version=None, content_hash="h",
                        first_seen="2026-03-01T00:00:00Z")


ARTICLE = Article(
    url="https://news.example.org/a/story-7.html",
    title="春雨来临 Spring rain arrives",
    text="...",
    body_html=(
        '<p>Rain is expected <strong>all week</strong>, see <a href="https://news.example.org/a/story-3.html">the '
        'forecast</a> and <a href="https://other.example.net/x">elsewhere</a>.</p>'
        '<figure><img src="assets/5e/5e3a1b2c4d5f6a7b.webp" alt="Umbrellas"><figcaption>Umbrellas on the '
        'bridge</figcaption></figure><p><img src="https://img.example.org/failed.jpg" alt="A chart"></p><h2>细节</h2><ul><li>周一：小雨</li><li>Tuesday: showers</li></ul>'
        '<blockquote><p>Bring a coat.</p></blockquote>'
    ),
    published="2026-03-07T08:00:00Z",
    author="A. Writer",
    lead_image=ImageRef("assets/0c/0c1d2e3f4a5b6c7d.webp", "Clouds", "Clouds over the harbour"),
    images=(ImageRef("assets/5e/5e3a1b2c4d5f6a7b.webp", "Umbrellas", "Umbrellas on the bridge"),
            ImageRef("https://img.example.org/failed.jpg", "A chart", "")),
)


def check(name: str, content: bytes, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_bytes(content)
    assert path.exists(), f"{path} missing: run the tests with --update-golden"
    assert content.decode("utf-8") == path.read_text("utf-8")


@pytest.fixture
def update(request) -> bool:
    return request.config.getoption("--update-golden")


def test_article_page(update):
    files = markdown_edition.render_article(CONFIG, state(7), ARTICLE, {"https://news.example.org/a/story-3.html":
                                                              "pages/world/story-3.md"})
    assert [f.path for f in files] == ["pages/world/story-7.md", "pages/world/story-7.png"]
    assert files[1].content.startswith(b"\x89PNG")
    check("article.md", files[0].content, update)


def test_index_with_archives(update):
    states = [state(n) for n in range(8, 0, -1)]  # 8 entries, 3 per page: front + 2 archive pages
    files = markdown_edition.render_channel(CONFIG, "world", states)
    assert [f.path for f in files] == ["indexes/world.md", "indexes/world-1.md", "indexes/world-2.md"]
    check("index.md", files[0].content, update)
    check("index-archive-1.md", files[1].content, update)


def test_home(update):
    home = markdown_edition.render_home(CONFIG, {"world": [state(n) for n in range(8, 0, -1)], "picks": [state(2, "picks")]})
    check("home.md", home.content, update)


# GitHub's sanitizer (html-pipeline SanitizationFilter) keeps these elements and attributes; GitLab and Codeberg
# (Gitea) keep a superset of the ones we use. Any raw HTML in our Markdown must stay inside this list.
ALLOWED_HTML = {"img": {"src", "alt", "width", "height", "title", "align"}, "br": set(), "sub": set(), "sup": set(),
                "details": set(), "summary": set(), "p": {"align"}, "div": {"align"}, "a": {"href", "title"}}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, set[str]]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, {name for name, _ in attrs}))


def test_raw_html_stays_inside_git_host_allow_lists():
    page = markdown_edition.render_article(CONFIG, state(7), ARTICLE, {})[0].content.decode("utf-8")
    html_bits = re.findall(r"<[a-z][^>]*>", re.sub(r"<https?://[^>]+>", "", page))
    parser = _Tags()
    parser.feed("".join(html_bits))
    assert parser.tags, "the counter pixel is raw HTML"
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_HTML and attrs <= ALLOWED_HTML[tag], (tag, attrs)


def test_remote_images_are_never_hot_linked_when_localising():
    page = markdown_edition.render_article(CONFIG, state(7), ARTICLE, {})[0].content.decode("utf-8")
    assert "img.example.org" not in page and "*[Image not available: A chart]*" in page
    assert "![Umbrellas](../../assets/5e/5e3a1b2c4d5f6a7b.webp)" in page
    config = CONFIG.model_copy(update={"images": CONFIG.images.model_copy(update={
        "localise": False, "asset_base_urls": ["https://cdn.example.net/m/"]})})
    page = markdown_edition.render_article(config, state(7), ARTICLE, {})[0].content.decode("utf-8")
    assert "![A chart](https://img.example.org/failed.jpg)" in page
    assert "![Clouds](https://cdn.example.net/m/assets/0c/0c1d2e3f4a5b6c7d.webp)" in page


def test_link_variation_appends_page_id():
    config = CONFIG.model_copy(update={"mirror": CONFIG.mirror.model_copy(update={"link_variation": True})})
    page = markdown_edition.render_article(config, state(7), ARTICLE, {})[0].content.decode("utf-8")
    assert "(../../README.md?story-7)" in page and "(../../indexes/world.md?story-7)" in page
