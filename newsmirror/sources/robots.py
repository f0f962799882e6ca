"""robots.txt, for sources that ask for it (`robots = true`), parsed with protego.

Each host's robots.txt is fetched once per run through the run's fetcher, so its politeness limits apply; the rules
are kept by that fetcher (`robots_for`), so they live and die with the run, never in the process. RFC 9309: a
robots.txt that does not exist (4xx) allows everything; one that cannot be read (5xx, timeout, refused) disallows
everything for this run, and the URLs are retried next run.
A Crawl-delay for our user agent slows that host down to it for the rest of the run (at most `fetch.max_retry_after`).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from protego import Protego

from newsmirror.fetch.client import Fetcher
from newsmirror.errors import FetchError


class RobotsCache:
    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher
        self._rules: dict[str, asyncio.Future[Protego | str | None]] = {}

    async def refusal(self, url: str) -> str | None:
        """Why `url` may not be fetched ("disallowed by robots.txt", "robots.txt unavailable: ..."), or None."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = asyncio.ensure_future(self._load(origin))
        rules = await self._rules[origin]
        if isinstance(rules, str):
            return rules
        if rules is not None and not rules.can_fetch(url, self.fetcher.settings.user_agent):
            return f"disallowed by {origin}/robots.txt"
        return None

    async def _load(self, origin: str) -> Protego | str | None:
        """Parsed rules; None when there is no robots.txt; a reason string when it could not be read."""
        try:
            page = await self.fetcher.fetch(f"{origin}/robots.txt")
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None
            return f"robots.txt unavailable ({exc.reason}); not fetched this run"
        rules = Protego.parse(page.body[:512_000].decode("utf-8", errors="replace"))
        crawl_delay = rules.crawl_delay(self.fetcher.settings.user_agent)
        if crawl_delay:
            self.fetcher.slow_down(origin, float(crawl_delay))
        return rules


def robots_for(fetcher: Fetcher) -> RobotsCache:
    """The robots.txt rules of `fetcher`'s run: held by the fetcher itself (made on first use), so a second run in
    the same process (`watch`) starts with none and a closed run's rules go with its fetcher."""
    cache = getattr(fetcher, "robots", None)
    if cache is None:
        cache = fetcher.robots = RobotsCache(fetcher)  # type: ignore[attr-defined]
    return cache
