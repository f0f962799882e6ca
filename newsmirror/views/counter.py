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
import resource
import signal
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass

import uvloop

from newsmirror.config import Config
from newsmirror.errors import Stage, StateError
from newsmirror.state.store import Store
from newsmirror.views.counts import Writer, merge_counts, utc_day
from newsmirror.views.pixel import Responses
from newsmirror.views.protocol import PixelProtocol
from newsmirror.views.targets import Targets, pixel_template


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
            merge_counts(self.counts, counts)
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
        raise StateError.from_sqlite(config.state_path, exc, Stage.STATE) from exc
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
