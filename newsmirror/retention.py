"""Retention (pure): which article pages a run removes from the work tree.

Per channel, keep the newest `keep_newest` pages and/or those of the last `keep_days` days (a channel's settings
override the mirror-wide defaults; unset means keep everything). A retired article keeps its entry on the channel's
index and archive pages, which then links to the original URL, so nothing is orphaned; pages in the hot list are
never retired. Retirement is final: a retired page is not brought back when its article changes at the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsmirror import render, render_html
from newsmirror.config import Config
from newsmirror.store import ArticleState


@dataclass(frozen=True)
class Policy:
    keep_newest: int | None = None
    keep_days: int | None = None

    @property
    def active(self) -> bool:
        return self.keep_newest is not None or self.keep_days is not None


def policy_for(config: Config, channel: str) -> Policy:
    settings = config.channels.get(channel)
    newest = settings.keep_newest if settings and settings.keep_newest is not None else config.mirror.keep_newest
    days = settings.keep_days if settings and settings.keep_days is not None else config.mirror.keep_days
    return Policy(newest, days)


def select_retired(config: Config, channels: Mapping[str, Sequence[ArticleState]], protected: Iterable[str],
                   now: datetime) -> list[ArticleState]:
    """Articles to retire now. `channels`: each channel's published articles, newest first; an article is governed
    by the channel its page lives in (its primary channel). `protected`: ids that must stay (the hot list)."""
    keep = set(protected)
    retired: list[ArticleState] = []
    for channel, states in channels.items():
        policy = policy_for(config, channel)
        if not policy.active:
            continue
        cutoff = (now - timedelta(days=policy.keep_days)).date().isoformat() if policy.keep_days is not None else ""
        own = [s for s in states if s.channel == channel]
        for position, state in enumerate(own):
            too_many = policy.keep_newest is not None and position >= policy.keep_newest
            too_old = bool(cutoff) and state.date[:10] < cutoff
            if (too_many or too_old) and not state.retired and state.id not in keep:
                retired.append(state)
    return sorted(retired, key=lambda s: s.id)


def page_files(config: Config, state: ArticleState) -> list[str]:
    """Every file of one article's page in the mirror (both editions, QR codes included); images are shared
    content-addressed assets and stay."""
    paths: list[str] = []
    if config.editions.markdown:
        paths += [render.page_path(state.channel, state.id), render.qr_path(state.channel, state.id)]
    if config.editions.html:
        for page in render_html.page_paths(config, state):
            paths += [page, page.removesuffix(".html") + ".png"]
    return paths
