"""The page task: fetch one host's planned articles and extract them -- one coroutine, wherever it runs.

    await fetch_and_extract_host(fetcher, requests, options, extract, deliver)   # deliver(PageResult) per page

Locally (`--executor local`) the driver runs one such task per host in its event loop, all sharing its `Fetcher`
(so global and per-host limits hold), with `extract` sending the CPU work to the process pool. On Dask
(`on_cluster`), each host's task runs inside a worker with a `Fetcher` of its own and a thread for extraction, so
a host's requests never run on two workers and politeness holds however many workers there are; the worker sends
back PageResults, never page bytes. Either way each page gives one `PageResult`: the article (not yet with local
images: the driver does those, it owns the state), a 304, or the error. A task that fails as a whole (a worker
died, input that cannot be sent) becomes a FetchError for each of its host's URLs, naming the host and the cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx

from newsmirror.config import FetchSettings
from newsmirror.extract.page import ExtractOptions, extract_article
from newsmirror.fetch.client import Fetcher, FetchRequest, page_problem
from newsmirror.errors import ExtractError, FetchError, NewsmirrorError
from newsmirror.records import Article, FetchedPage, FetchTask, PageResult
from newsmirror.fetch.resolve import ResolvingTransport
from newsmirror.run.recheck import redirected_home

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

TASK_NAME = "fetch_and_extract_host"  # prefix of the tasks' keys on the scheduler (and its dashboard)
RESULT_TIMEOUT = 120.0  # seconds to bring a finished task's results back from its worker

Extract = Callable[[bytes, str, "str | None", ExtractOptions], Awaitable["Article | ExtractError"]]
Deliver = Callable[[PageResult], None]


def extract_page(body: bytes, url: str, charset: str | None, options: ExtractOptions) -> Article | ExtractError:
    """`extract_article`, its failure as a value: a bug or a library crash on one page must not stop the run."""
    try:
        return extract_article(body, url, charset=charset, options=options)
    except ExtractError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001
        return ExtractError(url, f"extractor crashed: {type(exc).__name__}: {exc}")


def host_of(url: str) -> str:
    """The host a `Fetcher` keys its per-host limits by (name only, lower case); "" for a URL it would refuse."""
    try:
        return httpx.URL(url).host
    except Exception:  # noqa: BLE001 - an invalid URL: the fetcher reports it, whichever task holds it
        return ""


def by_host(requests: Iterable[FetchRequest]) -> dict[str, list[FetchRequest]]:
    batches: dict[str, list[FetchRequest]] = {}
    for request in requests:
        batches.setdefault(host_of(request.url), []).append(request)
    return batches


async def fetch_and_extract_host(fetcher: Fetcher, requests: list[FetchRequest], options: dict[str, ExtractOptions],
                                 extract: Extract, deliver: Deliver) -> None:
    """Fetch `requests` (one host's; each request's `key` is its FetchTask) as they complete, extract each page
    with `extract`, and `deliver` one PageResult per request."""
    extracting = []
    async for request, page in fetcher.fetch_many(requests):
        task: FetchTask = request.key  # type: ignore[assignment]
        if not isinstance(page, FetchError):
            problem = page_problem(page)
            if problem:  # an image, a PDF, an empty body: not an article
                page = FetchError(task.url, problem, status=page.status)
            elif redirected_home(task.url, page.final_url):  # the article is gone (decide: removed, if published)
                page = FetchError(task.url, f"redirected to the site's home page {page.final_url}", status=page.status)
                page.gone = True
        if isinstance(page, FetchError):
            deliver(PageResult(task, error=page))
        elif page.not_modified:
            deliver(PageResult(task, not_modified=True, etag=page.etag, last_modified=page.last_modified))
        else:
            extracting.append(asyncio.ensure_future(extract_delivered(task, page, options, extract, deliver)))
    await asyncio.gather(*extracting)


async def extract_delivered(task: FetchTask, page: FetchedPage, options: dict[str, ExtractOptions],
                            extract: Extract, deliver: Deliver) -> None:
    """Extract one fetched page and deliver its PageResult (its source's site rules apply)."""
    try:
        found = await extract(page.body, page.final_url, page.charset,
                              options.get(task.candidate.source, ExtractOptions()))
    except Exception as exc:  # noqa: BLE001 - a worker lost (or a bug) costs this article, not the run
        found = ExtractError(task.url, f"unexpected {type(exc).__name__}: {exc}")
    if isinstance(found, ExtractError):
        deliver(PageResult(task, error=ExtractError(task.url, found.reason)))
        return
    article = replace(found, url=task.url, title=found.title or task.candidate.title or task.url,
                      published=found.published or task.candidate.published)  # what the page lacks, the source said
    deliver(PageResult(task, article=article, etag=page.etag, last_modified=page.last_modified))


# -- on a Dask cluster ------------------------------------------------------------------------------------------


def host_task(requests: list[FetchRequest], settings: FetchSettings, options: dict[str, ExtractOptions],
              host_delay: float = 0.0) -> list[PageResult]:
    """One Dask task: the page task of one host, in the worker. `host_delay`: seconds between request starts to
    this host, the driver's (`delay`, or a robots.txt Crawl-delay it learnt); the first request waits it too, as
    the driver may just have asked this host (a feed, robots.txt)."""
    return asyncio.run(_in_worker(requests, settings, options, host_delay))


async def _in_worker(requests: list[FetchRequest], settings: FetchSettings, options: dict[str, ExtractOptions],
                     host_delay: float) -> list[PageResult]:
    transport = ResolvingTransport(settings.resolve) if settings.resolve else None
    loop = asyncio.get_running_loop()
    results: list[PageResult] = []
    # extraction in a thread of its own, so that the next pages keep downloading meanwhile
    with ThreadPoolExecutor(max_workers=1) as thread:
        async with Fetcher(settings, transport=transport) as fetcher:
            if host_delay > settings.delay:
                fetcher.slow_down(requests[0].url, host_delay)
            await asyncio.sleep(host_delay)

            def extract(body: bytes, url: str, charset: str | None, opts: ExtractOptions) -> Awaitable:
                return loop.run_in_executor(thread, extract_page, body, url, charset, opts)

            await fetch_and_extract_host(fetcher, requests, options, extract, results.append)
    return results


async def on_cluster(client: Client, requests: list[FetchRequest], fetcher: Fetcher,
                     options: dict[str, ExtractOptions], deliver: Deliver) -> None:
    """Every request fetched and extracted on the cluster, one task per host, all submitted at once, with the
    settings of the driver's `fetcher` and the per-host delays it learnt (robots.txt Crawl-delay). Delivers each
    host's PageResults as its task ends; returns once each host's delay has passed since its task ended (the
    driver fetches images next). Never raises for a task's failure."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Queue = asyncio.Queue()  # Dask calls back in a thread of its own; nothing here blocks a thread
    futures = {}
    for host, batch in by_host(requests).items():
        delay = _host_delay(fetcher, batch[0].url)
        try:
            future = client.submit(host_task, batch, fetcher.settings, options, delay, pure=False,
                                   key=f"{TASK_NAME}-{host or 'invalid'}-{uuid4().hex}")
        except Exception as exc:  # noqa: BLE001 - the inputs could not be sent
            _task_failed(host, batch, exc, deliver)
            continue
        futures[future] = (host, batch, delay)
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(finished.put_nowait, done))
    ready = loop.time()  # when the driver may fetch from every host again
    while futures:
        future = await finished.get()
        host, batch, delay = futures.pop(future)
        ready = max(ready, loop.time() + delay)  # every request of this task started before now
        try:
            results = await loop.run_in_executor(None, partial(future.result, timeout=RESULT_TIMEOUT))
        except Exception as exc:  # noqa: BLE001 - the task raised, its worker died, its result could not come back
            _task_failed(host, batch, exc, deliver)
            continue
        finally:
            future.release()
        for result in results:
            deliver(result)
    await asyncio.sleep(max(0.0, ready - loop.time()))


def _host_delay(fetcher: Fetcher, url: str) -> float:
    try:
        return fetcher.host_delay(url)
    except NewsmirrorError:  # an invalid URL: the task reports it
        return fetcher.settings.delay


def _task_failed(host: str, batch: list[FetchRequest], exc: BaseException, deliver: Deliver) -> None:
    for request in batch:
        task: FetchTask = request.key  # type: ignore[assignment]
        error = FetchError(task.url, f"the Dask task fetching host {host or '(invalid URL)'} failed: "
                                     f"{type(exc).__name__}: {exc}", retryable=True)
        error.__cause__ = exc
        deliver(PageResult(task, error=error))
