"""Read every source: fetch each feed, sitemap or listing page (conditional GET), parse it (discover.py, pure) and
collect the article candidates, the validators to keep and every failure -- of a source, or of one of its items.
"""

from __future__ import annotations

import asyncio

from newsmirror.config import Config, Source
from newsmirror.extract.decode import decode_html
from newsmirror.sources.discover import DiscoverError, parse_feed, parse_listing, parse_sitemap, parse_url_list
from newsmirror.fetch.client import Fetcher, FetchRequest
from newsmirror.progress import Reporter
from newsmirror.errors import FetchError, NewsmirrorError
from newsmirror.records import Candidate, FetchedPage, ItemResult, RunSummary
from newsmirror.sources.robots import robots_for
from newsmirror.state.store import Store

CacheUpdate = tuple[str, str | None, str | None]


async def discover_all(config: Config, store: Store, fetcher: Fetcher, reporter: Reporter,
                       summary: RunSummary) -> tuple[list[Candidate], list[CacheUpdate], list[NewsmirrorError]]:
    """Read every enabled source; a source that fails is recorded and skipped. Returns the candidates, the
    validators to keep and every failure (of a source or one of its items), for the run's record."""
    sources = [s for s in config.sources if s.enabled]
    reporter.stage("sources", len(sources))
    results = await asyncio.gather(*(_read_source(s, store, fetcher) for s in sources))
    candidates: list[Candidate] = []
    caches: list[CacheUpdate] = []
    failures: list[NewsmirrorError] = []
    for found, cache, errors in results:
        reporter.advance("sources")
        failures += errors
        for error in errors:  # the source's own, or a child sitemap's (then the source still counts as read)
            summary.failures.append(ItemResult(error.resource, error.stage, False, error=str(error)))
            reporter.failure(str(error))
        if errors and not (found or cache):
            summary.sources_failed += 1
            continue
        summary.sources_read += 1
        candidates += found
        caches += cache
    return candidates, caches, failures


async def _read_source(source: Source, store: Store, fetcher: Fetcher
                       ) -> tuple[list[Candidate], list[CacheUpdate], list[NewsmirrorError]]:
    """(candidates, cache validators to keep, errors); no candidates and no validators with errors: it failed.
    Errors are the source's own or its items' (an unusable link): one item never costs the others."""
    if source.kind == "urls":
        found = parse_url_list(source)
        return found.candidates, [], list(found.failures)
    assert source.url is not None
    try:
        refusal = await robots_for(fetcher).refusal(source.url) if source.robots else None
        if refusal:
            raise FetchError(source.url, refusal, retryable=True)
        page = await _conditional_fetch(source.url, store, fetcher)
        if page.not_modified:
            return [], [], []
        caches = [(source.url, page.etag, page.last_modified)]
        if source.kind == "feed":
            found = parse_feed(page.body, source, page.final_url, page.content_type)
            return found.candidates, caches, list(found.failures)
        if source.kind == "listing":
            found = parse_listing(decode_html(page.body, page.charset), source, page.final_url)
            return found.candidates, caches, list(found.failures)
        found = parse_sitemap(page.body, source, page.final_url)
        errors: list[NewsmirrorError] = list(found.failures)
        missing = False  # a child sitemap that could not be read
        for child_url in found.children[:50]:  # one level of sitemap index; a child that fails costs its entries
            try:
                child = await fetcher.fetch(child_url)
                child_found = parse_sitemap(child.body, source, child.final_url)
                found.candidates += child_found.candidates
                errors += child_found.failures
            except (FetchError, DiscoverError) as exc:
                errors.append(exc)
                missing = True
        if missing and not found.candidates:
            return [], [], errors
        found.candidates.sort(key=lambda c: c.published or "", reverse=True)
        # with a child missing, the index is read again next run (no validators kept) so that child is retried
        return found.candidates[: source.max_items], [] if missing else caches, errors
    except (FetchError, DiscoverError) as exc:
        return [], [], [exc]
    except Exception as exc:  # noqa: BLE001 - a bug reading one source must not stop the others
        return [], [], [DiscoverError(source.url, f"unexpected {type(exc).__name__}: {exc}")]


async def _conditional_fetch(url: str, store: Store, fetcher: Fetcher) -> FetchedPage:
    etag, last_modified = store.cache_entry(url)
    return await fetcher.fetch(FetchRequest(url, etag=etag, last_modified=last_modified))
