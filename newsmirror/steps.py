"""The pipeline's I/O steps: read sources, fetch and extract articles, apply results to state, pick what to render.

`pipeline.py` strings these together; the deciding logic they call (discover parsers, plan, render) is pure.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Executor
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from newsmirror import convert, layout, pagetask, regenerate, retention
from newsmirror import hot
from newsmirror.assets import ImageLocaliser, image_sources, is_local
from newsmirror.config import Config, ConfigError, Source
from newsmirror.decode import decode_html
from newsmirror.discover import DiscoverError, parse_feed, parse_listing, parse_sitemap, parse_url_list
from newsmirror.extract import ExtractOptions
from newsmirror.executor import spreads, work_pool
from newsmirror.fetch import Fetcher, FetchRequest
from newsmirror.ids import article_id as new_article_id, canonical_url
from newsmirror.plan import Plan, retry_delay
from newsmirror.publish import inside, scratch_dir, write_atomic
from newsmirror.progress import Reporter
from newsmirror.decide import ArticleUpdate, decide
from newsmirror.editions import Edition, Lists
from newsmirror.records import (Article, Candidate, FetchedPage, FetchError, FetchTask, ItemResult,
                                NewsmirrorError, PageResult, RenderedFile, RunSummary, Stage)
from newsmirror.resolve import ResolvingTransport
from newsmirror.robots import robots_for
from newsmirror.siterules import SiteRules, SiteRulesError
from newsmirror.store import ArticleState, Store

CacheUpdate = tuple[str, str | None, str | None]


def fetcher(config: Config) -> Fetcher:
    transport = ResolvingTransport(config.fetch.resolve) if config.fetch.resolve else None
    return Fetcher(config.fetch, transport=transport)


def canonical_urls(candidates: list[Candidate]) -> list[str]:
    return sorted({canonical_url(c.url) for c in candidates})


def candidate_ids(candidates: list[Candidate], id_patterns: dict[str, str | None]) -> set[str]:
    """The ids new candidates would take (so plan checks collisions against those, not every stored id)."""
    return {new_article_id(c.url, id_patterns.get(c.source)) for c in candidates}


def counted(reporter: Reporter, stage: str, files: Iterable[RenderedFile]) -> Iterator[RenderedFile]:
    """Pass files through, advancing the reporter's `stage` as each one is produced."""
    reporter.stage(stage, None)
    for file in files:
        reporter.advance(stage)
        yield file


def report_failures(errors: Iterable[NewsmirrorError], summary: RunSummary, reporter: Reporter) -> None:
    """Items that failed before they were fetched (planning): one line each, counted as failed."""
    for error in errors:
        summary.failed += 1
        summary.failures.append(ItemResult(error.resource, error.stage, False, error=str(error)))
        reporter.failure(str(error))


# -- discover -------------------------------------------------------------------------------------------------


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


# -- fetch and extract ----------------------------------------------------------------------------------------


def extract_options(config: Config) -> dict[str, ExtractOptions]:
    """Extractor options per source (site rules loaded from their files); every bad rules file at once."""
    options: dict[str, ExtractOptions] = {}
    problems = []
    for source in config.sources:
        if source.rules:
            try:
                options[source.name] = ExtractOptions(rules=SiteRules.from_file(config.base_dir / source.rules))
            except SiteRulesError as exc:
                problems.append(f"key 'sources ({source.name}).rules': {exc}")
    problems += convert.validate(config)
    if problems:
        raise ConfigError(config.path or "<config>", problems)
    return options


async def fetch_and_extract(config: Config, store: Store, fetcher: Fetcher, tasks: tuple[FetchTask, ...],
                            options: dict[str, ExtractOptions], localiser: ImageLocaliser | None,
                            reporter: Reporter, pool_spec: str = "local") -> list[PageResult]:
    """Fetch every planned article (conditional when we have validators) and extract it, one page task per host
    (pagetask.py): here in the event loop with extraction on every core (`local`), or on the Dask cluster
    `pool_spec` names. Each article's images are localised here as it arrives (on Dask: once every page task is
    done), recompressed in the same pool; `render_js` pages are rendered in Chromium here."""
    if not tasks:
        return []
    reporter.stage("fetch", len(tasks))
    reporter.stage("extract", len(tasks))
    in_browser = {s.name for s in config.sources if s.render_js}
    refused = await _robots_refusals(config, fetcher, tasks)
    requests = []
    for task in tasks:
        if task.candidate.source in in_browser or task in refused:
            continue
        etag, last_modified = store.cache_entry(task.url) if task.reason in {"changed", "retry"} else (None, None)
        requests.append(FetchRequest(task.url, etag=etag, last_modified=last_modified, key=task))
    results = [PageResult(task, error=FetchError(task.url, reason, retryable=True)) for task, reason in refused.items()]
    reporter.advance("fetch", len(refused))
    reporter.advance("extract", len(refused))
    imaging: list[asyncio.Future] = []
    limit = asyncio.Semaphore(2 * (os.cpu_count() or 1) + 2)  # articles whose images are in work at once

    def deliver(result: PageResult) -> None:
        reporter.advance("fetch")
        reporter.advance("extract")
        if result.article is not None and localiser is not None:
            imaging.append(asyncio.ensure_future(_with_images(result, localiser, limit, config.output_dir)))
        else:
            results.append(result)

    loop = asyncio.get_running_loop()
    with work_pool(pool_spec, len(tasks)) as pool, _images_on(localiser, pool.executor):
        def extract(body: bytes, url: str, charset: str | None, opts: ExtractOptions) -> asyncio.Future:
            return loop.run_in_executor(pool.executor, pagetask.extract_page, body, url, charset, opts)

        client = pool.client
        if client is not None:  # the page tasks on the cluster, then their images here (two phases)
            arrived: list[PageResult] = []
            await pagetask.on_cluster(client, requests, fetcher, options, arrived.append)
            for result in arrived:
                deliver(result)
        else:
            await asyncio.gather(*(pagetask.fetch_and_extract_host(fetcher, batch, options, extract, deliver)
                                   for batch in pagetask.by_host(requests).values()))
        await _render_in_browser([t for t in tasks if t.candidate.source in in_browser and t not in refused],
                                 config, options, extract, deliver)
        results += await asyncio.gather(*imaging)
    return results


@contextmanager
def _images_on(localiser: ImageLocaliser | None, executor: Executor) -> Iterator[None]:
    """Image recompression shares the extraction pool (the CPU-bound work on every core) while it is open."""
    if localiser is None or localiser.executor is not None or not spreads(executor):
        yield
        return
    localiser.executor = executor
    try:
        yield
    finally:
        localiser.executor = None


async def _robots_refusals(config: Config, fetcher: Fetcher, tasks: tuple[FetchTask, ...]) -> dict[FetchTask, str]:
    """Tasks that robots.txt forbids, for sources with `robots = true` (an article of no configured source, such
    as one from `add` or from before sources were recorded: when a source on its host obeys robots.txt)."""
    obeying = {s.name for s in config.sources if s.robots}
    known = {s.name for s in config.sources}
    hosts = {urlsplit(s.url).netloc for s in config.sources if s.robots and s.url}
    refused = {}
    for task in tasks:
        source = task.candidate.source
        if source in obeying or (source not in known and urlsplit(task.url).netloc in hosts):
            reason = await robots_for(fetcher).refusal(task.url)
            if reason:
                refused[task] = reason
    return refused


async def _render_in_browser(tasks: list[FetchTask], config: Config, options: dict[str, ExtractOptions],
                             extract: pagetask.Extract, deliver: pagetask.Deliver) -> None:
    """Pages of `render_js` sources, rendered in headless Chromium one at a time, then extracted."""
    for task in tasks:
        from newsmirror.browser import render_page_async  # Playwright: imported only when a source needs it

        try:
            html = await render_page_async(task.url, timeout=config.fetch.timeout, user_agent=config.fetch.user_agent)
        except FetchError as exc:
            deliver(PageResult(task, error=exc))
            continue
        page = FetchedPage(task.url, task.url, 200, "text/html", "utf-8", body=html.encode("utf-8"))
        await pagetask.extract_delivered(task, page, options, extract, deliver)


async def _with_images(result: PageResult, localiser: ImageLocaliser, limit: asyncio.Semaphore,
                       root: Path) -> PageResult:
    """The article with its images copied into the mirror (written now: content-addressed, so a run never holds
    its images in memory); a failure here (a full disk) fails the article, to be retried next run."""
    assert result.article is not None
    try:
        async with limit:  # images wait for the pool here, not as downloaded bytes in its queue
            article, assets, failures = await localiser.localise(result.article)
        for file in assets:
            target = inside(root, file.path)
            if not target.is_file():
                write_atomic(target, file.content, scratch_dir(root))  # a kill leaves no temp file
    except Exception as exc:  # noqa: BLE001
        reason = exc.reason if isinstance(exc, NewsmirrorError) else f"images: {type(exc).__name__}: {exc}"
        return PageResult(result.task, error=NewsmirrorError(result.task.url, Stage.EXTRACT, reason))
    return replace(result, article=article, assets=tuple(f.path for f in assets),
                   image_failures=tuple((f.src, f.reason.split("] ", 1)[-1]) for f in failures))


class OnDisk:
    """A file already in the work tree (an image asset written as it was made): published like a rendered
    file, its bytes read when the publisher compares them."""

    def __init__(self, root: Path, path: str):
        self.root, self.path = root, path

    @property
    def content(self) -> bytes:
        return (self.root / self.path).read_bytes()


def asset_files(config: Config, outcomes: list[PageResult], retried: list[tuple[str, Article, list[RenderedFile]]]
                ) -> Iterator[RenderedFile | OnDisk]:
    """Every image file the run's articles show: made now, or already on disk from a run stopped before its
    commit (those must be staged with this run's pages too), each once."""
    seen: set[str] = set()
    made = [OnDisk(config.output_dir, path) for o in outcomes for path in o.assets] + [f for r in retried for f in r[2]]
    articles = [o.article for o in outcomes if o.article is not None] + [r[1] for r in retried]
    for file in made:
        if file.path not in seen:
            seen.add(file.path)
            yield file
    for article in articles:
        for src in image_sources(article):
            if src not in seen and is_local(src) and (config.output_dir / src).is_file():
                seen.add(src)
                yield OnDisk(config.output_dir, src)


async def retry_images(config: Config, store: Store, localiser: ImageLocaliser, skip: set[str]
                       ) -> list[tuple[str, Article, list[RenderedFile]]]:
    """Published articles with images that failed before: try those images again (ids in `skip` are being
    fetched anyway). Returns (id, article with the images now local, new asset files) for each that changed."""
    improved = []
    for article_id in store.articles_with_failed_images(config.mirror.max_attempts):
        old = store.article_record(article_id)
        if article_id in skip or old is None:
            continue
        new, files, _failures = await localiser.localise(old)
        if new != old:
            improved.append((article_id, new, files))
    return improved


# -- apply to state -------------------------------------------------------------------------------------------


def apply_results(store: Store, results: list[PageResult], decided: Plan, now: datetime, config: Config,
                  summary: RunSummary, run_id: int, reporter: Reporter) -> set[str]:
    """Decide what the results mean (decide.py, pure), write it to state, count it; return the ids whose page
    must be (re)rendered."""
    ids = [r.task.article_id for r in results]
    existing = {state.id: state for state in map(store.article, ids) if state is not None}
    updates = decide(results, existing, now, config.mirror.retry_base_minutes, decided.new_channels)
    store.apply(updates, run_id, now.isoformat())
    for update in updates:
        tally(update, summary, reporter)
    summary.unchanged += len(decided.unchanged)
    return {u.article_id for u in updates if u.rerender}


def tally(update: ArticleUpdate, summary: RunSummary, reporter: Reporter) -> None:
    """Count one update in the run's summary (a 304 counts as unchanged, a removal only as its notice) and
    report it; a failure is one line."""
    kind, stage = update.kind, Stage(update.stage) if update.stage else Stage.EXTRACT
    if kind == "channels":
        return
    if kind == "failed":
        error = NewsmirrorError(update.url, stage, update.reason or "")
        result = ItemResult(update.url, stage, False, update.article_id, kind, str(error))
        summary.failures.append(result)
    elif kind == "removed":
        result = ItemResult(update.url, stage, True, update.article_id, kind, update.reason)
    elif kind == "not_modified":
        result = ItemResult(update.url, Stage.FETCH, True, update.article_id, "unchanged")
        summary.unchanged += 1
    else:
        result = ItemResult(update.url, Stage.EXTRACT, True, update.article_id, kind)
    if kind in ("new", "updated", "unchanged", "failed"):
        setattr(summary, kind, getattr(summary, kind) + 1)
        summary.count(update.channel, kind)
    reporter.item(result)


# -- render ---------------------------------------------------------------------------------------------------


RenderFailure = Callable[[ArticleState, Exception], None]


def listed_channels(config: Config, store: Store) -> list[str]:
    """The channels the editions list: the configured ones, then any other that has entries in state."""
    configured = config.channel_names()
    return [name for name in _all_channels(config, store)
            if name in configured or len(regenerate.ChannelEntries(store, name))]


def render_changed(config: Config, store: Store, editions: Sequence[Edition], names: list[str], changed: set[str],
                   now: datetime, full: bool = False, on_failure: RenderFailure | None = None
                   ) -> Iterator[RenderedFile]:
    """Every edition's files, one at a time: pages of changed articles, the index pages they touch
    (`regenerate.index_pages`), the home page, the hot list (and for the HTML edition the touched feeds and
    the search page). Every list page and every article page missing on disk when the render configuration
    changed since the last run; every page when `full` (rebuild). Unchanged files are skipped when written.

    An article whose pages cannot be rendered yields none of them and goes to `on_failure` (which takes it out
    of the lists, see `render_failed`) before any list is rendered; without `on_failure` the error propagates."""
    root = config.output_dir
    everything = full or regenerate.render_needs_all(config, store, names)
    numbers: dict[str, set[int]] | None = None
    if not everything:  # the index pages to redo, decided before any article can leave the lists
        touched = changed | set(store.retired_at(now.isoformat()))
        entries = {name: regenerate.ChannelEntries(store, name) for name in names}
        numbers = regenerate.index_pages(config, store, entries, touched)

    def stale(state: ArticleState) -> bool:
        return full or state.id in changed or not all((root / p).exists() for p in layout.page_paths(config, state))

    def articles() -> Iterator[tuple[ArticleState, Article]]:
        states = (s for batch in store.published_batches() for s in batch if stale(s)) if everything else \
            (s for s in map(store.article, sorted(changed)) if s is not None and s.status == "ok")
        for state in states:
            if state.retired:
                continue  # retention removed its page; its entries link to the original
            article = store.article_record(state.id)
            if article is not None:
                yield state, article

    for state, article in articles():
        try:  # the error boundary of rendering: all of an article's files, or none
            files = [file for edition in editions for file in edition.article_files(state, article)]
        except Exception as exc:  # noqa: BLE001 - one page that cannot be rendered costs that page only
            if on_failure is None:
                raise
            on_failure(state, exc)
            continue
        yield from files
    channels = {name: regenerate.ChannelEntries(store, name) for name in names}  # counted after any failure
    lists = Lists(channels, hot_list(config, store, now),
                  None if numbers is None else {n: p for n, p in numbers.items() if n in channels},
                  store.article_record)
    for edition in editions:
        yield from edition.list_files(lists)
    regenerate.remember(config, store, names)


def render_failed(store: Store, config: Config, now: datetime, run_id: int, summary: RunSummary,
                  reporter: Reporter) -> RenderFailure:
    """What `render_changed` does with an article it cannot render: one failure line; the article leaves the
    lists (status failed) and is fetched and rendered again after the usual back-off."""
    def failed(state: ArticleState, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, NewsmirrorError) else f"unexpected {type(exc).__name__}: {exc}"
        error = NewsmirrorError(state.url, Stage.RENDER, reason)
        retry_at = (now + retry_delay(state.attempts + 1, config.mirror.retry_base_minutes)).isoformat()
        store.mark_failed(state.id, error.stage.value, reason, retry_at, now.isoformat(), unpublish=True)
        store.record_failure(run_id, state.url, error.stage.value, reason, now.isoformat())
        summary.failed += 1
        summary.count(state.channel, "failed")
        summary.failures.append(ItemResult(state.url, Stage.RENDER, False, state.id, "failed", str(error)))
        reporter.failure(str(error))
    return failed


def _all_channels(config: Config, store: Store) -> list[str]:
    names = config.channel_names()
    return names + sorted(c for c in store.channel_names() if c not in names)


def retire(config: Config, store: Store, now: datetime, summary: RunSummary, changed: set[str]) -> list[str]:
    """Apply retention: mark the articles it selects as retired in state; return their page files to remove.
    Pages whose text links to a retired article join `changed`, so their link goes back to the original URL."""
    policies = {name: retention.policy_for(config, name) for name in _all_channels(config, store)}
    policies = {name: policy for name, policy in policies.items() if policy.active}
    if not policies:
        return []
    protected = {state.id for state in hot_list(config, store, now)}
    chosen = [state for name, policy in policies.items()
              for state in store.retention_candidates(name, policy.keep_newest, policy.cutoff_day(now))
              if state.id not in protected]
    store.retire([state.id for state in chosen], now.isoformat())
    changed.update(store.articles_linking_to([state.url for state in chosen]))
    for state in chosen:
        summary.count(state.channel, "removed")
    return [path for state in chosen for path in layout.article_files(config, state)]


def hot_list(config: Config, store: Store, now: datetime) -> list[ArticleState]:
    """The most viewed articles of the last `hot_days` days (UTC), recent views weighing more (hot.py)."""
    today = (now.astimezone(timezone.utc) if now.tzinfo else now).date()
    views = store.views_since(hot.window_start(today, config.mirror.hot_days).isoformat())
    ranked = []
    for article_id in hot.rank(views, today, config.mirror.hot_days, config.counter.hot_half_life_days):
        state = store.article(article_id)
        if state is not None and state.status == "ok":
            ranked.append(state)
            if len(ranked) == config.mirror.hot_size:
                break
    return ranked
