"""Fetch stage: URLs in, raw bytes out (`FetchedPage`), or a `FetchError` naming the URL.

One `Fetcher` owns one `httpx.AsyncClient`. It limits concurrency per host and overall, paces request starts per
host, retries transient failures with exponential back-off (honouring `Retry-After`), sends conditional GETs,
caps body size while streaming (after decompressing gzip/deflate itself, so the cap bounds a gzip bomb) and never
decodes text: charsets are `decode.py`'s job.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import httpx

from newsmirror.config import FetchSettings
from newsmirror.ids import url_problem
from newsmirror.errors import FetchError
from newsmirror.records import FetchedPage

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 30.0  # seconds; cap on one computed back-off delay
MAX_RETRY_AFTER = 60.0  # seconds; default cap on a server's Retry-After (fetch.max_retry_after)
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_ENCODING = "gzip, deflate"  # decoded here, under the size cap (a gzip bomb stops at max_bytes)
# What an article page may be: no media type, text/*, or an XML/XHTML type; plus file signatures of things that
# are not pages whatever their header says.
PAGE_TYPES = ("text/", "application/xhtml+xml", "application/xml")
NOT_A_PAGE = ((b"%PDF-", "a PDF"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
              (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "gzip data"))


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    key: object = None  # caller's tag, returned with the result


Result = tuple[FetchRequest, FetchedPage | FetchError]


class _Retry(Exception):
    """One attempt failed in a way worth retrying; `after` overrides the back-off delay (Retry-After)."""

    def __init__(self, reason: str, *, status: int | None = None, after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.after = after


@dataclass
class _Host:
    slots: asyncio.Semaphore
    pace: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    down: int = 0  # URLs in a row that ended in a timeout or connection error (no HTTP answer at all)
    delay: float = 0.0  # the host's own minimum delay between requests (robots.txt Crawl-delay)
    not_before: float = 0.0  # epoch seconds: a Retry-After longer than a run waits (no request before then)
    last_error: str = ""


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """`text/html; charset="UTF-8"` -> ("text/html", "utf-8"); missing parts are None. Never guesses."""
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'").strip().lower() or None
    return media.strip().lower() or None, charset


def retry_after_seconds(value: str | None, now: float | None = None,
                        cap: float = MAX_RETRY_AFTER) -> float | None:
    """Retry-After (seconds or an HTTP date) as seconds from `now` (epoch), capped at `cap` (`math.inf`: not
    capped); None when absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), cap) if seconds == seconds else None


def page_problem(page: FetchedPage) -> str | None:
    """Why a fetched body cannot be an article page (empty, an image, a PDF ...), or None."""
    if page.not_modified:
        return None
    if not page.body.strip():
        return f"empty response (HTTP {page.status} with no body)"
    media = page.content_type
    if media and not media.startswith(PAGE_TYPES) and not media.endswith("+xml"):
        return f"not an HTML page (Content-Type {media})"
    for signature, what in NOT_A_PAGE:
        if page.body.startswith(signature):
            return f"not an HTML page (the body is {what}, Content-Type {media or 'missing'})"
    return None


def backoff_delay(settings: FetchSettings, retry: int) -> float:
    """Delay before retry number `retry` (0-based): backoff * 2**retry, +0-10 % jitter, capped."""
    base = min(settings.backoff * 2**retry, MAX_BACKOFF)
    return min(base * (1 + random.random() * 0.1), MAX_BACKOFF)


def _check_url(url: str) -> httpx.URL:
    problem = url_problem(url)
    if problem:
        raise FetchError(url, problem)
    return httpx.URL(url.strip())


def _utc_in(seconds: float) -> str:
    """The UTC time `seconds` from now, to the minute (for messages)."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=min(seconds, 1e9))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


class Fetcher:
    """Async context manager: `async with Fetcher(settings) as f: page = await f.fetch(url)`."""

    def __init__(self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, _Host] = {}
        self._global = asyncio.Semaphore(settings.total_concurrency)

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(s.timeout),
            follow_redirects=True,
            max_redirects=s.max_redirects,
            limits=httpx.Limits(max_connections=s.total_concurrency, max_keepalive_connections=s.total_concurrency),
            headers={"User-Agent": s.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, request: FetchRequest | str) -> FetchedPage:
        """Fetch one URL, retrying transient failures; raises FetchError."""
        if isinstance(request, str):
            request = FetchRequest(request)
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        url = request.url
        parsed = _check_url(url)
        host = self._host(parsed.host)
        attempts = self.settings.retries + 1
        # The host slot is held across retries: a struggling host gets no extra requests from us meanwhile.
        async with host.slots:
            limit = self.settings.host_failure_limit
            if limit and host.down >= limit:  # a host that does not answer costs a few timeouts, not one per URL
                raise FetchError(url, f"not tried: {parsed.host} gave no answer to {host.down} URLs in a row this "
                                      f"run (last: {host.last_error})", retryable=True)
            for attempt in range(attempts):
                wait = host.not_before - time.time()
                if wait > 0:  # the host asked for a pause longer than a run waits: its other URLs wait too
                    raise FetchError(url, f"not tried: {parsed.host} asked us to wait; retried after "
                                          f"{_utc_in(wait)}", retryable=True, retry_after=wait)
                await self._pace(host)
                try:
                    async with self._global:
                        page = await self._attempt(request)
                    host.down = 0
                    return page
                except FetchError as error:
                    host.down = 0  # the host answered (an HTTP error, a redirect loop, a body too big ...)
                    if error.retry_after:
                        host.not_before = max(host.not_before, time.time() + error.retry_after)
                    raise
                except _Retry as retry:
                    if attempt + 1 >= attempts:
                        tried = _plural(attempts)
                        reason = f"{retry.reason} after {tried}" if retry.status else f"{retry.reason} ({tried})"
                        if retry.status is None:
                            host.down, host.last_error = host.down + 1, retry.reason
                        raise FetchError(url, reason, status=retry.status, retryable=True) from retry.__cause__
                    delay = retry.after if retry.after is not None else backoff_delay(self.settings, attempt)
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _host(self, name: str) -> _Host:
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = _Host(asyncio.Semaphore(self.settings.per_host_concurrency))
        return host

    def slow_down(self, url: str, seconds: float) -> float:
        """At least `seconds` between request starts to `url`'s host from now on (a robots.txt Crawl-delay), at
        most `max_retry_after`; returns the delay that holds."""
        host = self._host(_check_url(url).host)
        host.delay = max(host.delay, min(seconds, self.settings.max_retry_after))
        return self.host_delay(url)

    def host_delay(self, url: str) -> float:
        """Seconds between request starts to `url`'s host: the configured `delay` or the host's own, if longer."""
        host = self._hosts.get(_check_url(url).host)
        return max(self.settings.delay, host.delay if host else 0.0)

    async def _pace(self, host: _Host) -> None:
        """Keep the delay (configured or the host's own) between request starts to one host."""
        delay = max(self.settings.delay, host.delay)
        if not delay:
            return
        loop = asyncio.get_running_loop()
        async with host.pace:
            wait = host.next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            host.next_start = loop.time() + delay

    async def _attempt(self, request: FetchRequest) -> FetchedPage:
        """One HTTP GET (following redirects). Raises _Retry for transient failures, FetchError otherwise."""
        assert self._client is not None
        url, s = request.url, self.settings
        headers = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        try:
            async with asyncio.timeout(s.timeout):  # whole attempt, not only each read
                async with self._client.stream("GET", url, headers=headers) as response:
                    return await self._read(request, response)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Retry(f"timed out after {s.timeout:g} s") from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError(url, f"too many redirects (more than {s.max_redirects})") from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(url, f"unsupported URL scheme in redirect: {exc}") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # a reset says nothing
            raise _Retry(f"connection error: {detail}") from exc
        except (httpx.DecodingError, zlib.error) as exc:
            raise FetchError(url, f"could not decode response body: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc

    async def _read(self, request: FetchRequest, response: httpx.Response) -> FetchedPage:
        url, status = request.url, response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        content_type, charset = parse_content_type(response.headers.get("Content-Type"))
        if status == 304:
            return FetchedPage(
                url=url,
                final_url=str(response.url),
                status=304,
                content_type=content_type,
                charset=charset,
                etag=etag or request.etag,
                last_modified=last_modified or request.last_modified,
                body=b"",
                not_modified=True,
            )
        if status in RETRY_STATUSES:
            after = retry_after_seconds(response.headers.get("Retry-After"), cap=math.inf)
            if after is not None and after > self.settings.max_retry_after:  # not waited out within a run
                raise FetchError(url, f"HTTP {status}: the server asks to wait {after:.0f} s (more than "
                                      f"fetch.max_retry_after = {self.settings.max_retry_after:g} s); "
                                      f"retried after {_utc_in(after)}",
                                 status=status, retryable=True, retry_after=after)
            raise _Retry(f"HTTP {status}", status=status, after=after)
        if status >= 500:  # not retried now, but a later run may succeed
            raise FetchError(url, f"HTTP {status} {response.reason_phrase}".rstrip(), status=status, retryable=True)
        if status >= 300 or status < 200:
            raise FetchError(url, f"HTTP {status} {response.reason_phrase}".rstrip(), status=status)
        body = await self._read_body(url, response)
        return FetchedPage(
            url=url,
            final_url=str(response.url),
            status=status,
            content_type=content_type,
            charset=charset,
            etag=etag,
            last_modified=last_modified,
            body=body,
        )

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        """The body, decompressed here (gzip/deflate) so that `max_bytes` caps what it grows to, not only
        what crossed the wire: a gzip bomb stops after at most max_bytes + 1 decompressed bytes."""
        limit = self.settings.max_bytes
        too_big = f"response larger than {limit} bytes"
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise FetchError(url, too_big, status=response.status_code)
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if "gzip" in encoding else 0))
        else:
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}", status=response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            if inflater is None:
                data = raw
            else:
                if encoding == "deflate" and not chunks and raw[:1] and raw[0] & 0x0F != 8:
                    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate without the zlib header
                data = inflater.decompress(raw, limit - size + 1)
                if inflater.unconsumed_tail:  # more output waiting than the cap allows
                    raise FetchError(url, f"{too_big} once decompressed", status=response.status_code)
            size += len(data)
            if size > limit:
                raise FetchError(url, too_big if inflater is None else f"{too_big} once decompressed",
                                 status=response.status_code)
            chunks.append(data)
        if inflater is not None:
            chunks.append(inflater.flush())
        return b"".join(chunks)

    async def fetch_many(self, requests: Iterable[FetchRequest]) -> AsyncIterator[Result]:
        """Fetch all, yielding (request, page or error) as each completes; never raises per item."""
        async for _, request, result in self._fetch_indexed(requests):
            yield request, result

    async def _fetch_indexed(
        self, requests: Iterable[FetchRequest]
    ) -> AsyncIterator[tuple[int, FetchRequest, FetchedPage | FetchError]]:
        async def one(index: int, request: FetchRequest) -> tuple[int, FetchRequest, FetchedPage | FetchError]:
            try:
                return index, request, await self.fetch(request)
            except FetchError as exc:
                return index, request, exc
            except Exception as exc:  # a bug must not abort the other items; keep the cause
                error = FetchError(request.url, f"unexpected error: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                return index, request, error

        tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def fetch_all(
    settings: FetchSettings,
    requests: Iterable[FetchRequest],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Result]:
    """Synchronous convenience: fetch everything, return (request, page or error) in input order."""
    requests = list(requests)

    async def run() -> list[Result]:
        results: list[FetchedPage | FetchError | None] = [None] * len(requests)
        async with Fetcher(settings, transport=transport) as fetcher:
            async for index, _, result in fetcher._fetch_indexed(requests):
                results[index] = result
        return [(r, res) for r, res in zip(requests, results) if res is not None]

    return asyncio.run(run())
