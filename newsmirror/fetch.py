"""Fetch stage: URLs in, raw bytes out (`FetchedPage`), or a `FetchError` naming the URL.

One `Fetcher` owns one `httpx.AsyncClient`. It limits concurrency per host and overall, paces request starts per
host, retries transient failures with exponential back-off (honouring `Retry-After`), sends conditional GETs,
caps body size while streaming and never decodes the body.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpx

from newsmirror.config import FetchSettings
from newsmirror.records import FetchedPage, FetchError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 30.0  # seconds; cap on one computed back-off delay
MAX_RETRY_AFTER = 60.0  # seconds; cap on a server's Retry-After
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


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


def retry_after_seconds(value: str | None) -> float | None:
    """The seconds form of Retry-After, capped at MAX_RETRY_AFTER; None for absent or HTTP-date forms."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if seconds == seconds else None


def backoff_delay(settings: FetchSettings, retry: int) -> float:
    """Delay before retry number `retry` (0-based): backoff * 2**retry, +0-10 % jitter, capped."""
    base = min(settings.backoff * 2**retry, MAX_BACKOFF)
    return min(base * (1 + random.random() * 0.1), MAX_BACKOFF)


def _check_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(url, f"invalid URL: {exc}") from exc
    if not parsed.scheme:
        raise FetchError(url, "invalid URL: not an absolute http(s) URL")
    if parsed.scheme not in ("http", "https"):
        raise FetchError(url, f"unsupported URL scheme {parsed.scheme!r}")
    if not parsed.host or "%" in parsed.host:  # httpx percent-encodes spaces etc. in a host
        raise FetchError(url, "invalid URL: no valid host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError(url, f"invalid URL: port {parsed.port}")
    return parsed


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
            headers={"User-Agent": s.user_agent, "Accept": ACCEPT},
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
        host = self._hosts.get(parsed.host)
        if host is None:
            host = self._hosts[parsed.host] = _Host(asyncio.Semaphore(self.settings.per_host_concurrency))
        attempts = self.settings.retries + 1
        # The host slot is held across retries: a struggling host gets no extra requests from us meanwhile.
        async with host.slots:
            for attempt in range(attempts):
                await self._pace(host)
                try:
                    async with self._global:
                        return await self._attempt(request)
                except _Retry as retry:
                    if attempt + 1 >= attempts:
                        tried = _plural(attempts)
                        reason = f"{retry.reason} after {tried}" if retry.status else f"{retry.reason} ({tried})"
                        raise FetchError(url, reason, status=retry.status, retryable=True) from retry.__cause__
                    delay = retry.after if retry.after is not None else backoff_delay(self.settings, attempt)
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _pace(self, host: _Host) -> None:
        """Keep `delay` seconds between request starts to one host."""
        if not self.settings.delay:
            return
        loop = asyncio.get_running_loop()
        async with host.pace:
            wait = host.next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            host.next_start = loop.time() + self.settings.delay

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
            raise _Retry(f"connection error: {type(exc).__name__}: {exc}") from exc
        except httpx.DecodingError as exc:
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
            after = retry_after_seconds(response.headers.get("Retry-After"))
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
        limit = self.settings.max_bytes
        too_big = f"response larger than {limit} bytes"
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise FetchError(url, too_big, status=response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(url, too_big, status=response.status_code)
            chunks.append(chunk)
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
