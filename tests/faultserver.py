"""A misbehaving HTTP server for fault-injection tests: real sockets on 127.0.0.1, one asyncio loop in a thread.

Each path gets a behaviour (`server.route("/x", hang())`); the Host header is ignored, so tests can give every
fault its own host name (`fetch.resolve`) and fetch them all at once. The server records when each request
arrived and how many were open per host, so tests can check concurrency; pacing is checked on the client's side
(`ClientLog`), where the server's lag does not blur it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

FOREVER = 3600.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    host: str
    headers: dict[str, str]


Behaviour = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 403: "Forbidden",
           404: "Not Found", 410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


# -- behaviours -------------------------------------------------------------------------------------------------


def reply(body: bytes | str = b"", content_type: str | None = "text/html; charset=utf-8", status: int = 200,
          headers: dict[str, str] | None = None) -> Behaviour:
    """A well-formed response."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    extra = dict(headers or {})
    if content_type:
        extra["Content-Type"] = content_type

    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(status, extra, len(data)) + (b"" if request.method == "HEAD" else data))
        await writer.drain()
    return behave


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    return reply(f"<html><body><h1>{code}</h1></body></html>", status=code, headers=headers)


def redirect(location: str, code: int = 302) -> Behaviour:
    return reply(b"", None, code, {"Location": location})


def sequence(*behaviours: Behaviour) -> Behaviour:
    """One behaviour per request in turn; the last one repeats."""
    hits = [0]

    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = min(hits[0], len(behaviours) - 1)
        hits[0] += 1
        await behaviours[index](request, reader, writer)
    return behave


def hang() -> Behaviour:
    """Accept, read the request, never answer."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(FOREVER)
    return behave


def stall_body(sent: bytes = b"<html><body><p>", length: int = 10_000) -> Behaviour:
    """Headers and the first bytes of the body, then silence."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "text/html"}, length) + sent)
        await writer.drain()
        await asyncio.sleep(FOREVER)
    return behave


def trickle(body: bytes, interval: float = 1.0) -> Behaviour:
    """One byte every `interval` seconds (each read succeeds; only an overall deadline stops it)."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "text/html"}, len(body)))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)
    return behave


def reset_mid_body(body: bytes) -> Behaviour:
    """Half the body, then a TCP reset (SO_LINGER 0)."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "text/html"}, len(body)) + body[: len(body) // 2])
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    return behave


def truncated(body: bytes, claimed: int) -> Behaviour:
    """Content-Length says `claimed`, the body is shorter, then the connection closes cleanly."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "text/html"}, claimed) + body)
        await writer.drain()
    return behave


def gzip_bomb(expanded: int = 100_000_000) -> Behaviour:
    """A ~100 KB gzip body that inflates to `expanded` zero bytes, sent with Content-Encoding: gzip."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    chunk = b"\0" * 1_000_000
    data = b"".join(compressor.compress(chunk) for _ in range(expanded // len(chunk))) + compressor.flush()
    return reply(data, "text/html", headers={"Content-Encoding": "gzip"})


def big_body(size: int, chunk: int = 1 << 16, declare_length: bool = True) -> Behaviour:
    """`size` bytes of HTML-ish filler, streamed (never held whole by the server)."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Type": "text/html"}, size if declare_length else None))
        block = (b"<p>filler</p>" * (chunk // 13 + 1))[:chunk]
        sent = 0
        try:
            while sent < size:
                part = block[: min(chunk, size - sent)]
                writer.write(part)
                await writer.drain()
                sent += len(part)
        except (ConnectionError, OSError):
            pass  # the client gave up at its size cap
    return behave


def close_at_once() -> Behaviour:
    """Accept and close without a byte of response."""
    async def behave(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return None
    return behave


# -- the server -------------------------------------------------------------------------------------------------


@dataclass
class Hit:
    at: float  # time.monotonic() when the request line arrived
    host: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class FaultServer:
    """`with FaultServer() as server: server.route("/a", hang()); server.url("/a")`."""

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.default: Behaviour = status(404)  # for paths without a route
        self.hits: list[Hit] = []
        self.open_now: Counter[str] = Counter()  # requests being answered, per host
        self.open_max: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 16)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            if task is not asyncio.current_task():
                task.cancel()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.address}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return path

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h.path == path)

    def times(self, host: str | None = None, path: str | None = None) -> list[float]:
        return [h.at for h in self.hits if (host is None or h.host == host) and (path is None or h.path == path)]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = ""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {}
            for header in header_lines:
                if ":" in header:
                    name, value = header.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            host = headers.get("host", "").split(":")[0]
            path = target if target.startswith("/") else "/" + target.split("/", 3)[-1]
            self.hits.append(Hit(time.monotonic(), host, path, headers))
            self.open_now[host] += 1
            self.open_max[host] = max(self.open_max[host], self.open_now[host])
            behaviour = self.routes.get(path) or self.routes.get(path.split("?", 1)[0]) or self.default
            try:
                await behaviour(Request(method, path, host, headers), reader, writer)
            finally:
                self.open_now[host] -= 1
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()


def refused_url(path: str = "/") -> str:
    """A URL on a loopback port where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- the client's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    host: str  # the Host header (a name given in `fetch.resolve` keeps it)
    path: str
    started: float  # time.monotonic() when the request entered httpx's transport (before connecting)
    answered: float  # ... when the transport returned the response head (or raised)


class ClientLog:
    """When the client under test started each request, taken in the client itself: `with ClientLog() as log`
    wraps httpx's transport (every Fetcher's, in any thread of this process, Dask's in-process workers too).

    For pacing, these are the times to check: the Fetcher spaces the starts of its requests, and the transport is
    entered right after, in the same thread with no await in between. The server's `Hit.at` is taken later, in
    another thread that may wait for the GIL or a CPU first: on a loaded machine two requests sent 0.4 s apart
    were seen by the server 0.8 ms apart."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._real = None

    def __enter__(self) -> "ClientLog":
        import httpx

        real = self._real = httpx.AsyncHTTPTransport.handle_async_request
        calls = self.calls

        async def handle(transport, request):
            started = time.monotonic()
            host = request.headers.get("host", "").split(":")[0]
            try:
                return await real(transport, request)
            finally:
                calls.append(Call(host, request.url.path, started, time.monotonic()))

        httpx.AsyncHTTPTransport.handle_async_request = handle
        return self

    def __exit__(self, *exc: object) -> None:
        import httpx

        httpx.AsyncHTTPTransport.handle_async_request = self._real

    def select(self, host: str | None = None, path: str | None = None) -> list[Call]:
        """Calls in the order they started."""
        return sorted((c for c in self.calls if (host is None or c.host == host) and (path is None or c.path == path)),
                      key=lambda c: c.started)

    def starts(self, host: str | None = None, path: str | None = None) -> list[float]:
        return [c.started for c in self.select(host, path)]


# The most a request's start, as ClientLog sees it, may lag behind the moment the Fetcher let it start: both are in
# one thread with no await between them, so only a wait for a CPU or for the GIL (Dask workers and extraction
# threads share it) comes in between. Seen: up to 22 ms beside four busy processes on two cores.
SLACK = 0.05


def assert_spaced(starts: list[float], wait: float) -> None:
    """Request starts (ClientLog's, in order) at least `wait` apart, each pair and all of them together."""
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    shown = (wait, [round(gap, 4) for gap in gaps])
    assert gaps and min(gaps) >= wait - SLACK, shown
    assert starts[-1] - starts[0] >= (len(starts) - 1) * wait - SLACK, shown


def mirror_config_text(resolve: dict[str, str], sources: str, fetch: str = "timeout = 5\nretries = 0",
                       before_fetch: str = "", after_fetch: str = "") -> str:
    """The config of a test mirror whose hosts resolve to fault servers: both editions, no search index.

    `fetch` holds the [fetch] keys besides `resolve`; `before_fetch` and `after_fetch` add tables or keys around it.
    """
    hosts = ", ".join(f'"{host}" = "{address}"' for host, address in resolve.items())
    return (f'\n[mirror]\noutput = "mirror"\nstate = "state.db"\n[editions]\nsearch = false\n{before_fetch}\n'
            f"[fetch]\n{fetch}\nresolve = {{ {hosts} }}\n{after_fetch}\n{sources}\n")
