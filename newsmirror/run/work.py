"""Work: fetch and extract the planned articles (one page task per host, pagetask.py) and copy their images into
the mirror; robots.txt refusals and `render_js` pages are decided and rendered here, on the driver.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from newsmirror import convert

from newsmirror.run import pagetask
from newsmirror.layout import is_local
from newsmirror.fetch.assets import ImageLocaliser, image_sources
from newsmirror.config import Config, ConfigError
from newsmirror.run.pool import spreads, work_pool
from newsmirror.extract.page import ExtractOptions
from newsmirror.fetch.client import Fetcher, FetchRequest
from newsmirror.progress import Reporter
from newsmirror.publish.commit import inside, scratch_dir, write_atomic
from newsmirror.errors import FetchError, NewsmirrorError, Stage
from newsmirror.records import Article, FetchedPage, FetchTask, PageResult, RenderedFile
from newsmirror.sources.robots import robots_for
from newsmirror.extract.siterules import SiteRules, SiteRulesError
from newsmirror.state.store import Store

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
        conditional = task.reason in {"changed", "retry", "recheck"}
        etag, last_modified = store.cache_entry(task.url) if conditional else (None, None)
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
        from newsmirror.fetch.browser import render_page_async  # Playwright: imported only when a source needs it

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
