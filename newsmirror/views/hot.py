"""The hot list (pure): rank articles by their views over a window of days, recent days weighing more.

Views are kept per page path and UTC day (`views(page, day, count)`). One article has several pages (the Markdown
page, the HTML page, the converted edition's page), so counts are added up per article id. A view `age` days old
weighs `0.5 ** (age / half_life)`: with a half-life of 2 days, yesterday's views count 0.71, last week's 0.09.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from newsmirror.config import Config
from newsmirror.records import ArticleState
from newsmirror.state.store import Store


def article_id(page: str) -> str | None:
    """The article id of a page path (`pages/<channel>/<id>.md`, `site/pages/<channel>/<id>.html`, ...)."""
    parts = page.split("?", 1)[0].removesuffix(".md").removesuffix(".html").split("/")
    if len(parts) >= 3 and parts[-3] == "pages" and parts[-1]:
        return parts[-1]
    return None


def window_start(today: date, days: int) -> date:
    """The first day counted: a window of `days` days ending today."""
    return today - timedelta(days=max(days, 1) - 1)


def weight(age_days: int, half_life_days: float) -> float:
    if half_life_days <= 0:
        return 1.0
    return 0.5 ** (max(age_days, 0) / half_life_days)


def scores(views: Iterable[tuple[str, str, int]], today: date, days: int,
           half_life_days: float) -> dict[str, float]:
    """Article id -> decayed views within the window, from (page, ISO day, count) rows; other rows are ignored."""
    first = window_start(today, days)
    result: dict[str, float] = {}
    for page, day_text, count in views:
        ident = article_id(page)
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            continue
        if ident is None or count <= 0 or not first <= day <= today:
            continue
        result[ident] = result.get(ident, 0.0) + count * weight((today - day).days, half_life_days)
    return result


def rank(views: Iterable[tuple[str, str, int]], today: date, days: int, half_life_days: float) -> list[str]:
    """Article ids, hottest first (ties: the id, so the order is stable)."""
    scored = scores(views, today, days, half_life_days)
    return sorted(scored, key=lambda ident: (-round(scored[ident], 9), ident))


def hot_list(config: Config, store: Store, now: datetime) -> list[ArticleState]:
    """The most viewed articles of the last `hot_days` days (UTC), recent views weighing more (hot.py)."""
    today = (now.astimezone(timezone.utc) if now.tzinfo else now).date()
    views = store.views_since(window_start(today, config.mirror.hot_days).isoformat())
    ranked = []
    for article_id in rank(views, today, config.mirror.hot_days, config.counter.hot_half_life_days):
        state = store.article(article_id)
        if state is not None and state.status == "ok":
            ranked.append(state)
            if len(ranked) == config.mirror.hot_size:
                break
    return ranked
