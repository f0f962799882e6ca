"""Sample articles of the demo site, parsed from the text files in ``data/``.

One file per home channel; each article starts with ``@@@ slug``, then ``key: value`` headers, a
``---`` line and body blocks separated by blank lines::

    @@@ harbour-fog
    title: Fog season returns to the harbour
    channels: science city        # first one is the home channel; more = listed in several
    lang: en                      # en | zh
    author: Maria Lopez
    published: 2026-03-02T08:30Z
    summary: One or two sentences for feeds and listings.
    serve: gbk                    # optional: html (default) | gbk | js
    ---
    A paragraph with a [link](/articles/other.html) and **bold** text.

    ## A subheading

    - a list item            (1. for an ordered list)

    > a blockquote

    [[figure fog-bank.jpg | Caption text | Photo: Credit]]     ([[lazy ...]] = lazy-loaded image)

In hrefs ``{base}`` stands for the site's base URL (absolute links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources

#: channel name -> how the mirror discovers its articles
CHANNELS: dict[str, str] = {"science": "rss", "city": "atom", "sports": "listing"}

#: channel name -> (English title, Chinese title)
CHANNEL_TITLES: dict[str, tuple[str, str]] = {
    "science": ("Science & Technology", "科技"),
    "city": ("City Life", "城市生活"),
    "sports": ("Sports", "体育"),
}

#: served GBK-encoded, with ``Content-Type: text/html`` and no ``<meta charset>``
GBK_SLUG = "old-town-teahouse"
#: listed in two channels (science RSS and city Atom), one URL
SHARED_SLUG = "spring-rain-forecast"
#: has ``<img src="/static/placeholder.gif" data-src="/images/...">``
LAZY_SLUG = "night-sky-comet"
#: body built by JavaScript at ``/js/<slug>.html``; in no feed or listing
JS_SLUG = "marathon-live-tracker"
#: what changes at the source a day later (`DemoSite.next_day`; `newsmirror demo` mirrors both days): one article
#: quietly edited in place (slug, old text, new text), one taken down (its page answers 404)
EDITED = ("urban-heat-map", "老城区的气温平均比郊区高出约三摄氏度，个别街区的温差甚至超过四度。",
          "老城区的气温略高于郊区。")
TAKEN_DOWN = "old-cinema-restored"

IMAGE_SIZES = {"jpg": (800, 450), "png": (640, 400)}

#: ("p", text) | ("h2", text) | ("ul"/"ol", items) | ("quote", text) | ("figure"/"lazy", name, caption, credit)
Block = tuple


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    channels: tuple[str, ...]
    lang: str
    author: str
    published: datetime
    summary: str
    body: tuple[Block, ...]
    serve: str = "html"

    @property
    def channel(self) -> str:
        return self.channels[0]

    @property
    def path(self) -> str:
        return f"/js/{self.slug}.html" if self.serve == "js" else f"/articles/{self.slug}.html"

    @property
    def images(self) -> list[str]:
        return [block[1] for block in self.body if block[0] in ("figure", "lazy")]

    def text(self) -> str:
        """All body text (markup included), for checks."""
        parts: list[str] = []
        for block in self.body:
            parts.extend(block[1] if block[0] in ("ul", "ol") else [str(b) for b in block[1:]])
        return "\n".join(parts)


_FIGURE = re.compile(r"^\[\[(figure|lazy)\s+([a-z0-9-]+\.(?:jpg|png))\s*\|([^|]*)\|([^\]]*)\]\]$")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _block(chunk: str) -> Block:
    lines = chunk.splitlines()
    if chunk.startswith("## "):
        return ("h2", chunk[3:].strip())
    if all(line.startswith("- ") for line in lines):
        return ("ul", tuple(line[2:].strip() for line in lines))
    if all(re.match(r"\d+\. ", line) for line in lines):
        return ("ol", tuple(line.split(". ", 1)[1].strip() for line in lines))
    if all(line.startswith(">") for line in lines):
        return ("quote", " ".join(line.lstrip("> ").strip() for line in lines))
    match = _FIGURE.match(chunk.strip())
    if match:
        kind, name, caption, credit = (g.strip() for g in match.groups())
        return (kind, name, caption, credit)
    if chunk.startswith("[["):
        raise ValueError(f"bad figure line: {chunk!r}")
    sep = "" if any("\u4e00" <= ch <= "\u9fff" for ch in chunk[:20]) else " "
    return ("p", sep.join(line.strip() for line in lines))


def _parse_article(text: str) -> Article:
    head, _, body = text.partition("\n---\n")
    lines = head.strip().splitlines()
    slug = lines[0].strip()
    fields = dict(line.split(":", 1) for line in lines[1:] if line.strip())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    published = datetime.strptime(fields["published"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    blocks = tuple(_block(chunk.strip("\n")) for chunk in re.split(r"\n\s*\n", body.strip()) if chunk.strip())
    return Article(
        slug=slug,
        title=fields["title"],
        channels=tuple(fields["channels"].split()),
        lang=fields["lang"],
        author=fields["author"],
        published=published,
        summary=fields["summary"],
        body=blocks,
        serve=fields.get("serve", "html"),
    )


def _check(articles: dict[str, Article]) -> None:
    images: set[str] = set()
    for art in articles.values():
        assert set(art.channels) <= set(CHANNELS), art.slug
        assert art.lang in ("en", "zh") and art.serve in ("html", "gbk", "js"), art.slug
        for name in art.images:
            assert name not in images, f"image {name} used twice"
            images.add(name)
        for _label, href in LINK.findall(art.text()):
            target = re.search(r"/articles/([a-z0-9-]+)\.html$", href) or re.fullmatch(r"([a-z0-9-]+)\.html", href)
            assert target and target.group(1) in articles, f"{art.slug}: dangling link {href}"
    assert articles[GBK_SLUG].serve == "gbk" and articles[JS_SLUG].serve == "js"
    assert len(articles[SHARED_SLUG].channels) == 2
    assert any(b[0] == "lazy" for b in articles[LAZY_SLUG].body)


@lru_cache(maxsize=1)
def load_articles() -> dict[str, Article]:
    """Every article (JS page included), slug -> Article, in file order."""
    articles: dict[str, Article] = {}
    for channel in CHANNELS:
        raw = resources.files("newsmirror.demo").joinpath("data", f"{channel}.txt").read_text("utf-8")
        for chunk in ("\n" + raw).split("\n@@@ ")[1:]:
            article = _parse_article(chunk)
            if article.slug in articles:
                raise ValueError(f"duplicate slug {article.slug}")
            articles[article.slug] = article
    _check(articles)
    return articles


def listed_articles() -> list[Article]:
    """Articles reachable through feeds and listings (not the JS page), newest first."""
    arts = [a for a in load_articles().values() if a.serve != "js"]
    return sorted(arts, key=lambda a: (a.published, a.slug), reverse=True)


def image_names() -> dict[str, Article]:
    """Image file name -> the article it belongs to."""
    return {name: art for art in load_articles().values() for name in art.images}
