"""Article pages fetched and extracted by Dask tasks, one task per host (the `dask-local` / `dask://` executors).

    for task, page, extracted in await fetch_on_cluster(client, requests, fetcher, options, reporter):
        ...  # page: FetchError or the page's validators (no body); extracted: Article, ExtractError or None

Each task (`fetch_and_extract_host`) holds all of one host's requests and fetches them with its own
`fetch.Fetcher`, so per-host concurrency, delay, retries, the Retry-After cap, size caps and the host failure limit
hold across workers: a host's requests never run on two workers. The worker checks each page (`page_problem`,
not modified) and extracts it with the same call as a local run (`extract_page`), and sends back the Article or
the error and the validators -- never the page bytes. The driver keeps state, planning, robots.txt, `render_js`
pages, images, rendering and publishing. A task that fails (worker died, input that cannot be sent) becomes a
FetchError for each of its host's URLs, naming the host and the cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import uuid4

import httpx

from newsmirror.config import FetchSettings
from newsmirror.extract import ExtractOptions, extract_article
from newsmirror.fetch import Fetcher, FetchRequest, page_problem
from newsmirror.progress import Reporter
from newsmirror.records import Article, ExtractError, FetchedPage, FetchError, FetchTask
from newsmirror.resolve import ResolvingTransport

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

TASK_NAME = "fetch_and_extract_host"  # prefix of the tasks' keys on the scheduler (and its dashboard)


def extract_page(body: bytes, url: str, charset: str | None, options: ExtractOptions) -> Article | ExtractError:
    """`extract_article`, its failure as a value: a bug or a library crash on one page must not stop the run."""
    try:
        return extract_article(body, url, charset=charset, options=options)
    except ExtractError as exc:
        return exc
    except Exception as exc:
        return ExtractError(url, f"extractor crashed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Reply:
    """One page as a worker sends it back: the article, or the error as plain fields."""

    article: Article | None = None
    failed: str | None = None  # "fetch" or "extract" when there is no article
    reason: str = ""
    status: int | None = None
    retryable: bool = False
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None


def host_of(url: str) -> str:
    """The host a `Fetcher` keys its per-host limits by (name only, lower case); "" for a URL it would refuse."""
    try:
        return httpx.URL(url).host
    except Exception:  # an invalid URL: the fetcher reports it, whichever task holds it
        return ""


def by_host(requests: Iterable[FetchRequest]) -> dict[str, list[FetchRequest]]:
    batches: dict[str, list[FetchRequest]] = {}
    for request in requests:
        batches.setdefault(host_of(request.url), []).append(request)
    return batches


# -- in the worker ----------------------------------------------------------------------------------------------


def fetch_and_extract_host(requests: list[FetchRequest], settings: FetchSettings, options: dict[str, ExtractOptions],
                           host_delay: float = 0.0) -> list[tuple[FetchRequest, Reply]]:
    """Fetch one host's pages (each request's `key` is its FetchTask) and extract them: one Dask task.
    `host_delay`: seconds between request starts to this host, the driver's (`delay`, or a robots.txt Crawl-delay
    it learnt); the first request waits it too, as the driver may just have asked this host (a feed, robots.txt)."""
    return asyncio.run(_host_batch(requests, settings, options, host_delay))


async def _host_batch(requests: list[FetchRequest], settings: FetchSettings, options: dict[str, ExtractOptions],
                      host_delay: float) -> list[tuple[FetchRequest, Reply]]:
    transport = ResolvingTransport(settings.resolve) if settings.resolve else None
    loop = asyncio.get_running_loop()
    pending = []
    # extraction in a thread of its own, so that the next pages keep downloading meanwhile
    with ThreadPoolExecutor(max_workers=1) as extractor:
        async with Fetcher(settings, transport=transport) as fetcher:
            if host_delay > settings.delay:
                fetcher.slow_down(requests[0].url, host_delay)
            await asyncio.sleep(host_delay)
            async for request, result in fetcher.fetch_many(requests):
                if not isinstance(result, FetchError):
                    problem = page_problem(result)
                    if problem:  # an image, a PDF, an empty body: not an article
                        result = FetchError(request.url, problem, status=result.status)
                if isinstance(result, FetchError):
                    reply = Reply(failed="fetch", reason=result.reason, status=result.status,
                                  retryable=result.retryable)
                elif result.not_modified:
                    reply = Reply(not_modified=True, etag=result.etag, last_modified=result.last_modified)
                else:
                    task: FetchTask = request.key  # type: ignore[assignment]
                    future = loop.run_in_executor(extractor, extract_page, result.body, result.final_url,
                                                  result.charset, options.get(task.candidate.source, ExtractOptions()))
                    pending.append((request, future, result.etag, result.last_modified))  # not the page bytes
                    continue
                pending.append((request, reply, None, None))
            replies = []
            for request, got, etag, last_modified in pending:
                if isinstance(got, asyncio.Future):
                    extracted = await got
                    got = Reply(failed="extract", reason=extracted.reason) if isinstance(extracted, ExtractError) \
                        else Reply(extracted, etag=etag, last_modified=last_modified)
                replies.append((request, got))
    return replies


# -- in the driver ----------------------------------------------------------------------------------------------


def resolved(value: object) -> asyncio.Future:
    """A future that already holds `value` (what the local path awaits from its pool)."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


Received = tuple[FetchTask, FetchError | FetchedPage, Article | ExtractError | None]


async def fetch_on_cluster(client: Client, requests: list[FetchRequest], fetcher: Fetcher,
                           options: dict[str, ExtractOptions], reporter: Reporter) -> list[Received]:
    """Every request fetched and extracted on the cluster, one task per host, all submitted at once, with the
    settings of the driver's `fetcher` and the per-host delays it learnt (robots.txt Crawl-delay). Returns
    (task, FetchError or the page's validators without its body, Article / ExtractError / None when the fetch
    failed or the page was not modified) per request, once each host's delay has passed since its task ended
    (the driver fetches images next). Never raises for a task's failure."""
    from distributed import as_completed

    settings = fetcher.settings
    received: list[Received] = []
    futures = {}
    for host, batch in by_host(requests).items():
        delay = _host_delay(fetcher, batch[0].url)
        try:
            future = client.submit(fetch_and_extract_host, batch, settings, options, delay, pure=False,
                                   key=f"{TASK_NAME}-{host or 'invalid'}-{uuid4().hex}")
        except Exception as exc:  # the inputs could not be sent
            received += _task_failed(host, batch, exc, reporter)
            continue
        futures[future] = (host, batch, delay)
    loop = asyncio.get_running_loop()
    ready = loop.time()  # when the driver may fetch from every host again
    done = as_completed(list(futures))
    while futures and (future := await loop.run_in_executor(None, next, done, None)) is not None:
        host, batch, delay = futures.pop(future)
        ready = max(ready, loop.time() + delay)  # every request of this task started before now
        try:
            replies = await loop.run_in_executor(None, future.result)
        except Exception as exc:  # the task raised, its worker died, its result could not come back ...
            received += _task_failed(host, batch, exc, reporter)
            continue
        finally:
            future.release()
        for request, reply in replies:
            received.append(_received(request, reply))
            reporter.advance("fetch")
    await asyncio.sleep(max(0.0, ready - loop.time()))
    return received


def _host_delay(fetcher: Fetcher, url: str) -> float:
    try:
        return fetcher.host_delay(url)
    except FetchError:  # an invalid URL: the task reports it
        return fetcher.settings.delay


def _received(request: FetchRequest, reply: Reply) -> Received:
    task: FetchTask = request.key  # type: ignore[assignment]
    if reply.failed == "fetch":
        return task, FetchError(task.url, reply.reason, status=reply.status, retryable=reply.retryable), None
    page = FetchedPage(task.url, task.url, 304 if reply.not_modified else 200, etag=reply.etag,
                       last_modified=reply.last_modified, not_modified=reply.not_modified)
    if reply.failed == "extract":
        return task, page, ExtractError(task.url, reply.reason)
    return task, page, reply.article


def _task_failed(host: str, batch: list[FetchRequest], exc: BaseException, reporter: Reporter) -> list[Received]:
    failed: list[Received] = []
    for request in batch:
        task: FetchTask = request.key  # type: ignore[assignment]
        error = FetchError(task.url, f"the Dask task fetching host {host or '(invalid URL)'} failed: "
                                     f"{type(exc).__name__}: {exc}", retryable=True)
        error.__cause__ = exc
        failed.append((task, error, None))
        reporter.advance("fetch")
    return failed
