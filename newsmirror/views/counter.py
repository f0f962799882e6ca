"""`newsmirror serve-counter`: the view-counter pixel service.

Each `GET` of a pixel URL (the `mirror.counter_pixel` template filled in for a page the mirror holds) gets a 1x1
GIF and adds one to that page's count for the day (UTC); any other path gets the same pixel and counts nothing.
Nothing about the client is kept: no address, user agent, referrer or cookie reaches memory beyond parsing,
the database or any log (there is no access log).

Speed: an `asyncio.Protocol` on uvloop parsing with httptools, responses prebuilt once a second (they carry the
Date), counts held in memory per process and written to SQLite every `flush_seconds` by a writer thread and on
SIGTERM/SIGINT. A hard crash loses at most the last `flush_seconds` of counts. With `processes > 1` the parent binds
one SO_REUSEPORT socket per worker on the same address, then forks the workers; each flushes its own counts.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import httptools
import uvloop

from newsmirror.config import Config, ConfigError
from newsmirror.records import Stage
from newsmirror.state.store import StateError, Store

# A transparent 1x1 GIF (43 bytes).
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
MAX_TARGET = 2048  # longest request target we read (bytes); longer gets 414
MAX_HEAD = 16384  # most bytes of one request, counted from the end of the one before; more gets 431
_END_OF_HEAD = b"\r\n\r\n"  # the parser requires CRLF line ends: a request's head ends at its first blank line
_LINE_ENDS = re.compile(rb"[\r\n]*")  # CR and LF before a request line, which the parser skips
_SAFE = "/?&=%:@!$'()*+,;~-._"  # characters a request target keeps unencoded when we compare targets


# -- which request targets count ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """Request target (bytes, as the pixel URL sends it) -> the page path counted in `views`."""

    pages: dict[bytes, str]
    keep_query: bool  # the template has a query string; otherwise a query on the request is ignored

    def page(self, raw: bytes) -> str | None:
        if not self.keep_query and b"?" in raw:
            raw = raw.split(b"?", 1)[0]
        page = self.pages.get(raw)
        if page is None and b"%" in raw:
            page = self.pages.get(canonical_target(raw))
        return page


def canonical_target(raw: bytes) -> bytes:
    """One spelling per target: percent-decode, then encode what must be encoded (`..%2f` becomes `../`)."""
    return quote(unquote_to_bytes(raw), safe=_SAFE).encode("ascii")


def pixel_template(config: Config) -> str:
    template = config.mirror.counter_pixel
    if not template:
        raise ConfigError(config.path or "<config>", [
            "key 'mirror.counter_pixel': the counter needs the pixel URL template the pages embed; found none"])
    return template


def load_targets(config: Config, store: Store) -> Targets:
    """Every pixel target of every page the mirror holds (Markdown page, HTML pages in every edition)."""
    from newsmirror import layout  # imported here: not needed at startup

    template = pixel_template(config)
    pages: dict[bytes, str] = {}
    for state in store.published_articles():
        if state.retired:  # retention removed its page
            continue
        for path in layout.page_paths(config, state):
            url = urlsplit(template.format(path=path, id=state.id, channel=state.channel))
            target = quote(url.path + (f"?{url.query}" if url.query else ""), safe=_SAFE).encode("ascii")
            pages.setdefault(target, path)
    return Targets(pages, keep_query="?" in template)


# -- counts in memory, and the thread that writes them ---------------------------------------------------------


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


class Writer:
    """Owns the SQLite connection on one thread: flushes counts, reloads targets."""

    def __init__(self, config: Config):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="counter-writer")
        self._store: Store | None = None

    def _db(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.state_path)
        return self._store

    def flush(self, counts: dict[str, dict[str, int]]) -> Future:
        return self.pool.submit(self._state, self._flush, counts)

    def _flush(self, counts: dict[str, dict[str, int]]) -> int:
        store = self._db()
        rows = [(page, day, n) for day, pages in counts.items() for page, n in pages.items() if n]
        if rows:
            store.add_view_counts(rows)
        return sum(n for _, _, n in rows)

    def targets(self) -> Future:
        return self.pool.submit(self._state, lambda: load_targets(self.config, self._db()))

    def _state(self, work: Callable[..., Any], *args: object) -> Any:
        """`work(*args)`, its SQLite errors as one line naming the state file (never a traceback)."""
        try:
            return work(*args)
        except sqlite3.Error as exc:
            raise StateError(str(self.config.state_path), f"state database: {exc}", Stage.STATE) from exc

    def close(self) -> None:
        def close_db() -> None:
            if self._store is not None:
                self._store.close()
        self.pool.submit(close_db).result()
        self.pool.shutdown()


# -- the HTTP side ---------------------------------------------------------------------------------------------


def _response(status: str, headers: list[str], body: bytes, head: bool = False, close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (b"" if head else body)


class Responses:
    """Every response the counter sends, rebuilt once a second with the current Date."""

    def __init__(self, now: float):
        date = f"Date: {formatdate(now, usegmt=True)}"
        pixel = [date, "Content-Type: image/gif", "Cache-Control: no-store", "Referrer-Policy: no-referrer",
                 "X-Content-Type-Options: nosniff", "Cross-Origin-Resource-Policy: cross-origin"]
        text = [date, "Content-Type: text/plain; charset=utf-8", "Cache-Control: no-store"]
        self.get = _response("200 OK", pixel, PIXEL)
        self.get_close = _response("200 OK", pixel, PIXEL, close=True)
        self.head = _response("200 OK", pixel, PIXEL, head=True)
        self.head_close = _response("200 OK", pixel, PIXEL, head=True, close=True)
        self.not_allowed = _response("405 Method Not Allowed", [*text, "Allow: GET, HEAD"], b"GET or HEAD only\n",
                                     close=True)
        self.bad = _response("400 Bad Request", text, b"bad request\n", close=True)
        self.too_long = _response("414 URI Too Long", text, b"request target too long\n", close=True)
        self.too_big = _response("431 Request Header Fields Too Large", text, b"request too large\n", close=True)


class PixelProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each with a prebuilt response.

    The size limit holds per request however its bytes arrive: `data_received` finds where each request's head ends
    (its first blank line) and feeds the parser up to there, so the bytes a request has used are known across reads
    and between requests pipelined in one read. Nothing is buffered (headers are not kept: no on_header); between
    reads a connection keeps a count and the last three bytes of an unfinished head. A body (which the parser frames,
    not this scanner) counts toward its request's limit too, and the connection is closed after answering it."""

    __slots__ = ("service", "transport", "parser", "url", "used", "tail", "started", "body", "active", "closed")

    def __init__(self, service: "CounterService"):
        self.service = service
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self._next_request()
        self.active = True  # a request completed since the last idle sweep
        self.closed = False  # answered with close (or failed): ignore the rest of what was pipelined

    def _next_request(self) -> None:
        self.used = 0  # bytes of the request in progress fed to the parser so far (never more than MAX_HEAD)
        self.tail = b""  # the last (up to) 3 bytes of its unfinished head: its blank line may span two reads
        self.started = False  # its request line has begun (the CR and LF before one are skipped)
        self.body = False  # its head is complete and a body follows

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        if len(self.service.connections) >= self.service.max_connections:
            transport.abort()
            return
        self.service.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.service.connections.discard(self)
        self.transport = None

    def pause_writing(self) -> None:  # a client that does not read its responses: stop reading its requests
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        pos, end, view = 0, len(data), None
        while pos < end and not self.closed:
            room = MAX_HEAD - self.used
            if room <= 0:  # more bytes for a request that has had all it may have
                self._fail(self.service.responses.too_big)
                return
            limit = end if end - pos <= room else pos + room
            head_ends = False
            if self.body:  # the parser frames the body (and reads on past it: the connection closes after it)
                stop = limit
            elif not self.started and data[pos] in b"\r\n":
                stop = _LINE_ENDS.match(data, pos, limit).end()
            else:
                self.started = True
                stop = self._blank_line_across(data, pos, limit) if self.tail else 0
                if not stop:
                    found = data.find(_END_OF_HEAD, pos, limit)
                    stop = found + 4 if found >= 0 else 0
                head_ends = stop > 0
                if not head_ends:
                    stop = limit
                    self.tail = (self.tail + data[max(pos, stop - 3):stop])[-3:]
            self.used += stop - pos
            if pos == 0 and stop == end:
                piece = data
            else:
                if view is None:
                    view = memoryview(data)
                piece = view[pos:stop]
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                self._fail(self.service.responses.bad)
            except httptools.HttpParserError:
                if not self.closed:
                    self._fail(self.service.responses.bad)
            pos = stop
            if head_ends and self.used and not self.closed:  # the head is complete, the request is not: a body
                self.body = True

    def _blank_line_across(self, data: bytes, pos: int, limit: int) -> int:
        """Just past the head's blank line when it began in the previous read (`tail`), if it ends by `limit`; or 0."""
        found = (self.tail + data[pos:pos + 3]).find(_END_OF_HEAD)
        stop = pos + found + 4 - len(self.tail)
        return stop if found >= 0 and stop <= limit else 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_TARGET:
            self._fail(self.service.responses.too_long)
            raise httptools.HttpParserError("target too long")

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        self.active = True
        framed = not self.body  # after a body the parser, not data_received, has found where the next request starts
        self._next_request()
        url, self.url = self.url, b""
        service = self.service
        responses = service.responses
        parser = self.parser
        method = parser.get_method()
        keep = framed and parser.should_keep_alive() and parser.get_http_version() == "1.1"
        if method == b"GET":
            page = service.pages.get(url) or service.targets.page(url)
            if page is not None:
                today = service.today
                today[page] = today.get(page, 0) + 1
            transport.write(responses.get if keep else responses.get_close)
        elif method == b"HEAD":  # answered like GET, not counted: link checkers and monitors, not readers
            transport.write(responses.head if keep else responses.head_close)
        else:
            transport.write(responses.not_allowed)
            keep = False
        if not keep:
            transport.close()
            self.closed = True

    def _fail(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
        self.closed = True


@dataclass(frozen=True)
class CounterOptions:
    flush_seconds: float = 1.0
    refresh_seconds: float = 60.0
    timeout: float = 10.0  # a connection that completes no request for this long is closed (slow clients)
    max_connections: int = 10000


class CounterService:
    """One worker: the server on a listening socket, the in-memory counts, the timers and the writer."""

    def __init__(self, config: Config, options: CounterOptions):
        self.config = config
        self.options = options
        self.max_connections = options.max_connections
        self.connections: set[PixelProtocol] = set()
        self.writer = Writer(config)
        self.targets = Targets({}, False)
        self.pages = self.targets.pages  # the exact-match fast path of targets.page()
        self.counts: dict[str, dict[str, int]] = {}  # day -> page -> views not yet written
        self.day = utc_day(time.time())
        self.today = self.counts.setdefault(self.day, {})
        self.responses = Responses(time.time())
        self.server: asyncio.AbstractServer | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pending: list[asyncio.Future] = []

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._use(await asyncio.wrap_future(self.writer.targets()))
        self.server = await loop.create_server(lambda: PixelProtocol(self), sock=sock, backlog=4096)
        now = time.monotonic()
        self._next = {"flush": now + self.options.flush_seconds, "refresh": now + self.options.refresh_seconds,
                      "sweep": now + self.options.timeout}
        self._timer = loop.call_later(min(1.0, self.options.flush_seconds), self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now, wall = time.monotonic(), time.time()
        self.responses = Responses(wall)
        day = utc_day(wall)
        if day != self.day:
            self.day, self.today = day, self.counts.setdefault(day, {})
        if now >= self._next["flush"]:
            self._next["flush"] = now + self.options.flush_seconds
            self.flush()
        if now >= self._next["refresh"]:
            self._next["refresh"] = now + self.options.refresh_seconds
            self._pending.append(loop.create_task(self._refresh()))
        if now >= self._next["sweep"]:
            self._next["sweep"] = now + self.options.timeout
            self._sweep()
        self._pending = [f for f in self._pending if not f.done()]
        self._timer = loop.call_later(min(1.0, self.options.flush_seconds), self._tick)

    def _take(self) -> dict[str, dict[str, int]]:
        counts = self.counts
        self.counts = {}
        self.today = self.counts.setdefault(self.day, {})
        return counts

    def flush(self) -> asyncio.Future:
        """Hand the counts so far to the writer thread; on failure they are merged back for the next flush."""
        counts = self._take()
        future = asyncio.wrap_future(self.writer.flush(counts))

        def done(f: asyncio.Future) -> None:
            if f.cancelled() or f.exception() is None:
                return
            sys.stderr.write(f"counter: writing counts failed: {f.exception()}; keeping them for the next flush\n")
            for day, pages in counts.items():
                into = self.counts.setdefault(day, {})
                for page, n in pages.items():
                    into[page] = into.get(page, 0) + n
            if self.day in self.counts:
                self.today = self.counts[self.day]

        future.add_done_callback(done)
        self._pending.append(future)
        return future

    async def _refresh(self) -> None:
        try:
            self._use(await asyncio.wrap_future(self.writer.targets()))
        except Exception as exc:  # keep counting with the old set; say why
            sys.stderr.write(f"counter: reloading pages failed: {exc}\n")

    def _use(self, targets: Targets) -> None:
        self.targets, self.pages = targets, targets.pages

    def _sweep(self) -> None:
        for conn in list(self.connections):
            if conn.active:
                conn.active = False
            elif conn.transport is not None:
                conn.transport.abort()

    async def stop(self) -> int:
        """Stop accepting, close every connection, write every count; returns the views written last."""
        if self._timer is not None:
            self._timer.cancel()
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.gather(*self._pending, return_exceptions=True)
        last = 0
        for _attempt in range(3):
            try:
                last += await self.flush()
                break
            except Exception:
                await asyncio.sleep(0.5)
        self.writer.close()
        return last


# -- processes -------------------------------------------------------------------------------------------------


def _quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """The default handler prints transports and sockets (peer addresses): print the message and error only."""
    exc = context.get("exception")
    sys.stderr.write(f"counter: {context.get('message', 'error')}"
                     + (f" ({type(exc).__name__}: {exc})" if exc else "") + "\n")


def run_worker(config: Config, sock: socket.socket, options: CounterOptions) -> int:
    """Serve on `sock` until SIGTERM or SIGINT, then flush. Returns an exit status."""
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_quiet_exceptions)
    service = CounterService(config, options)
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    async def main() -> None:
        await service.start(sock)
        await stopping.wait()
        await service.stop()

    try:
        loop.run_until_complete(main())
        return 0
    finally:
        loop.close()


def bind(host: str, port: int, processes: int = 1) -> list[socket.socket]:
    """One listening socket per worker, all on one address (SO_REUSEPORT: the kernel spreads connections evenly;
    one socket shared by forked workers leaves most connections to whichever wakes first). Port 0: any free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reuse = processes > 1 and hasattr(socket, "SO_REUSEPORT")
    first = socket.create_server((host, port), family=family, backlog=4096, reuse_port=reuse)
    socks = [first] + [socket.create_server((host, first.getsockname()[1]), family=family, backlog=4096,
                                            reuse_port=True) for _ in range(processes - 1 if reuse else 0)]
    for sock in socks:
        sock.setblocking(False)
    return socks


def _raise_file_limit(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, connections + 64) if hard != resource.RLIM_INFINITY else connections + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def serve_counter(config: Config, socks: list[socket.socket], processes: int, options: CounterOptions) -> int:
    """Run `processes` workers until SIGTERM/SIGINT, forked after binding: worker i serves `socks[i]` (or all
    share `socks[0]` when there is one socket)."""
    pixel_template(config)
    try:
        Store(config.state_path).close()  # migrate once, before the workers open it
    except sqlite3.Error as exc:
        raise StateError(str(config.state_path), f"state database: {exc}", Stage.STATE) from exc
    _raise_file_limit(options.max_connections)
    if processes <= 1:
        return run_worker(config, socks[0], options)
    children: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(processes):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            mine = socks[index % len(socks)]
            for other in socks:
                if other is not mine:
                    other.close()
            code = 1
            try:
                code = run_worker(config, mine, options)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    for sock in socks:
        sock.close()
    status = 0
    for child in children:
        while True:
            try:
                _, code = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        status = status or os.waitstatus_to_exitcode(code)
    return status
