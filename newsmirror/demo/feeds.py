"""RSS 2.0 and Atom 1.0 feeds of the demo site."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from html import escape
from typing import Callable

from newsmirror.demo.content import CHANNEL_TITLES, Article
from newsmirror.demo.render import SITE_NAME, iso

Updated = Callable[[Article], datetime]


def _x(text: str) -> str:
    return escape(text, quote=True)


def rss_feed(channel: str, base: str, articles: list[Article], updated: Updated) -> str:
    """RSS 2.0: RFC 822 ``pubDate``; the last edit time goes in ``atom:updated``."""
    title = CHANNEL_TITLES[channel][0]
    last = max(updated(a) for a in articles)
    items = []
    for art in articles:
        url = base + art.path
        items.append(
            f"<item><title>{_x(art.title)}</title><link>{url}</link>"
            f'<guid isPermaLink="true">{url}</guid><description>{_x(art.summary)}</description>'
            f"<dc:creator>{_x(art.author)}</dc:creator><category>{_x(title)}</category>"
            f"<pubDate>{format_datetime(art.published)}</pubDate>"
            f"<atom:updated>{iso(updated(art), 'en')}</atom:updated></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f"<channel><title>{_x(SITE_NAME)}: {_x(title)}</title><link>{base}/{channel}/</link>"
        f"<description>{_x(title)} stories from {SITE_NAME}</description><language>en</language>"
        f"<lastBuildDate>{format_datetime(last)}</lastBuildDate>"
        f'<atom:link href="{base}/feeds/{channel}.rss" rel="self" type="application/rss+xml"/>\n'
        + "\n".join(items) + "\n</channel>\n</rss>\n"
    )


def atom_feed(channel: str, base: str, articles: list[Article], updated: Updated) -> str:
    """Atom 1.0: RFC 3339 ``published``/``updated`` in +08:00, ``tag:`` ids."""
    title = CHANNEL_TITLES[channel][1]
    last = max(updated(a) for a in articles)
    entries = []
    for art in articles:
        entries.append(
            f"<entry><title>{_x(art.title)}</title><id>tag:harbourlight.example,2026:article/{art.slug}</id>"
            f'<link rel="alternate" type="text/html" href="{base + art.path}"/>'
            f"<published>{iso(art.published, 'zh')}</published><updated>{iso(updated(art), 'zh')}</updated>"
            f"<author><name>{_x(art.author)}</name></author>"
            f'<summary type="text">{_x(art.summary)}</summary></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">\n'
        f"<title>港湾之光 · {_x(title)}</title>"
        f"<subtitle>{_x(SITE_NAME)}: {_x(CHANNEL_TITLES[channel][0])}</subtitle>"
        f"<id>tag:harbourlight.example,2026:channel/{channel}</id><updated>{iso(last, 'zh')}</updated>"
        f'<link rel="self" type="application/atom+xml" href="{base}/feeds/{channel}.atom"/>'
        f'<link rel="alternate" type="text/html" href="{base}/{channel}/"/>\n'
        + "\n".join(entries) + "\n</feed>\n"
    )
