"""The view counter: real HTTP on 127.0.0.1, real SQLite; exact counts, no client data kept, abuse, shutdown flush."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from newsmirror.config import Config, parse_config
from newsmirror.views.counter import CounterOptions, CounterService, bind
from newsmirror.views.pixel import PIXEL
from newsmirror.views.protocol import MAX_HEAD, PixelProtocol
from newsmirror.views.targets import load_targets
from newsmirror.records import Article
from newsmirror.state.store import Store

PIXEL_URL = "https://counter.example/p/{path}"
PAGES = ["pages/world/a1.md", "site/pages/world/a1.html", "pages/world/a2.md", "site/pages/world/a2.html",
         "pages/tech/b1.md", "site/pages/tech/b1.html"]


def make_mirror(tmp_path: Path, **counter: object) -> Config:
    """A config whose state holds three published articles (no network needed)."""
    lines = ['[mirror]', f'counter_pixel = "{PIXEL_URL}"', 'state = "state.db"', '[counter]']
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in counter.items()]
    (tmp_path / "newsmirror.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = parse_config((tmp_path / "newsmirror.toml").read_text(), tmp_path / "newsmirror.toml", tmp_path)
    with Store(config.state_path) as store:
        for article_id, channel in (("a1", "world"), ("a2", "world"), ("b1", "tech")):
            url = f"https://news.example.org/{channel}/{article_id}.html"
            store.ensure_article(article_id, url, channel, "2026-11-01T00:00:00+00:00")
            store.add_channels(article_id, (channel,), "2026-11-01T00:00:00+00:00")
            store.save_article(article_id, Article(url, f"Title {article_id}", "text", "<p>text</p>"), "h", None,
                               "2026-11-01T00:00:00+00:00")
    return config


def views(config: Config) -> dict[str, int]:
    with Store(config.state_path) as store:
        rows = store.db.execute("SELECT page, sum(count) AS n FROM views GROUP BY page").fetchall()
    return {r["page"]: r["n"] for r in rows}


def wait_until(condition, seconds: float = 10.0) -> None:
    """Poll `condition` until it holds (a bound a loaded machine meets), instead of sleeping and hoping."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class Running:
    """A CounterService on its own uvloop thread (the CLI runs the same service in the main thread)."""

    def __init__(self, config: Config, options: CounterOptions):
        import uvloop

        self.loop = uvloop.new_event_loop()
        self.service = CounterService(config, options)
        self.sock = bind("127.0.0.1", 0)[0]
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(self.sock), self.loop).result(10)

    def call(self, coro_fn):
        async def run():
            return await coro_fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def stop(self) -> int:
        written = self.call(self.service.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        return written


@pytest.fixture
def counter(tmp_path):
    config = make_mirror(tmp_path)
    running = Running(config, CounterOptions(flush_seconds=0.2, timeout=0.5, max_connections=200))
    yield config, running
    if not running.loop.is_closed():
        running.stop()


def request(port: int, raw: bytes, source: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
        sock.sendall(raw)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def get(path: str, extra: str = "", close: bool = True) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: counter.example\r\n{extra}"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode("latin-1")


def test_targets_cover_every_edition_of_every_page(tmp_path):
    config = make_mirror(tmp_path)
    with Store(config.state_path) as store:
        targets = load_targets(config, store)
    assert sorted(targets.pages.values()) == sorted(PAGES)
    assert targets.page(b"/p/pages/world/a1.md") == "pages/world/a1.md"
    assert targets.page(b"/p/pages/world/a1.md?utm=x") == "pages/world/a1.md"  # a query is ignored
    assert targets.page(b"/p/pages%2Fworld%2Fa1.md") == "pages/world/a1.md"  # one spelling per target
    assert targets.page(b"/p/pages/world/../world/a1.md") is None
    assert targets.page(b"/p/pages/world/a9.md") is None


def test_targets_from_a_template_with_id_channel_and_query(tmp_path):
    config = make_mirror(tmp_path)
    mirror = config.mirror.model_copy(update={"counter_pixel": "https://c.example/v.gif?c={channel}&a={id}"})
    config = config.model_copy(update={"mirror": mirror})
    with Store(config.state_path) as store:
        targets = load_targets(config, store)
    assert targets.keep_query
    assert targets.page(b"/v.gif?c=world&a=a1") == "pages/world/a1.md"  # both editions share it: the first
    assert targets.page(b"/v.gif?c=world&a=a1&x=1") is None
    assert targets.page(b"/v.gif") is None


def test_pixel_response_and_exact_counts_per_page(counter):
    config, running = counter
    reply = request(running.port, get("/p/pages/world/a1.md"))
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == PIXEL
    headers = head.lower()
    for expected in (b"content-type: image/gif", b"cache-control: no-store", b"referrer-policy: no-referrer",
                     b"content-length: 43"):
        assert expected in headers
    assert b"set-cookie" not in headers
    # HEAD answers like GET (no body) and counts nothing; a page the mirror lacks gets the pixel, uncounted
    reply = request(running.port, b"HEAD /p/pages/world/a1.md HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"\r\n\r\n")
    assert request(running.port, get("/p/pages/world/zz.md")).endswith(PIXEL)
    # keep-alive with pipelining: 5 requests on one connection, all answered, all counted
    pipelined = get("/p/site/pages/tech/b1.html", close=False) * 4 + get("/p/site/pages/tech/b1.html")
    assert request(running.port, pipelined).count(b"HTTP/1.1 200 OK") == 5
    assert running.stop() >= 0
    assert views(config) == {"pages/world/a1.md": 1, "site/pages/tech/b1.html": 5}


def test_exact_counts_with_concurrent_clients_and_periodic_flushes(counter):
    config, running = counter
    per_client, clients = 60, 24

    def client(index: int) -> int:
        page = PAGES[index % len(PAGES)]
        done = 0
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            reader = sock.makefile("rb")
            for _ in range(per_client):
                sock.sendall(get(f"/p/{page}", close=False))
                status = reader.readline()
                while reader.readline() not in (b"\r\n", b""):
                    pass
                assert reader.read(len(PIXEL)) == PIXEL and status.startswith(b"HTTP/1.1 200")
                done += 1
        return done

    with ThreadPoolExecutor(clients) as pool:
        completed = sum(pool.map(client, range(clients)))
    wait_until(lambda: sum(views(config).values()) > 0)  # a timed flush happens while the server runs
    running.stop()
    counted = views(config)
    assert completed == per_client * clients
    assert sum(counted.values()) == completed
    assert counted == {page: per_client * clients // len(PAGES) for page in PAGES}


def test_abuse_gets_clear_answers_and_the_service_keeps_counting(counter):
    config, running = counter
    port = running.port
    assert request(port, get("/p/" + "a" * 5000)).startswith(b"HTTP/1.1 414")
    assert request(port, get("/p/..%2f..%2fetc%2fpasswd")).endswith(PIXEL)
    assert request(port, get("/p/pages/world/%ff%fe%c3%28.md")).endswith(PIXEL)  # invalid UTF-8, encoded
    raw = request(port, b"GET /p/\xff\xfe\xc3\x28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400")  # raw bytes that are not a URL: the parser refuses them
    for method in (b"POST", b"PUT", b"DELETE", b"OPTIONS"):
        reply = request(port, method + b" /p/pages/world/a1.md HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 405") and b"allow: get, head" in reply.lower()
    assert request(port, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")
    # a header that never ends, streamed: refused once 16 KB arrived without a complete request
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /p/pages/world/a1.md HTTP/1.1\r\nHost: x\r\nX-Junk: ")
        reply = b""
        try:
            for _ in range(40):
                sock.sendall(b"j" * 1000)
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    assert reply.startswith(b"HTTP/1.1 431"), reply[:100]
    # slowloris: half a request line, then nothing; the server closes it (timeout 0.5 s) without answering
    with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
        slow.sendall(b"GET /p/pages/world/a1.md HTTP/1.1\r\nHost: x\r\nX-a: ")
        started = time.monotonic()
        assert slow.recv(100) == b""
        assert time.monotonic() - started < 3
    # 10k distinct junk paths on keep-alive connections: every one gets the pixel, nothing is kept for them
    junk = b"".join(get(f"/p/pages/junk/{i}-{'x' * (i % 50)}.md", close=False) for i in range(10000))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(junk + get("/p/pages/world/a2.md"))
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 10001
    assert sum(len(pages) for pages in running.service.counts.values()) <= 1  # only a2, never junk
    assert request(port, get("/p/pages/world/a1.md")).endswith(PIXEL)
    running.stop()
    assert views(config) == {"pages/world/a2.md": 1, "pages/world/a1.md": 1}


# -- the 16 KB request limit, however the bytes arrive -----------------------------------------------------------

A1 = "/p/pages/world/a1.md"


class Reads:
    """Records the reads of every server connection (by the client's port), so a client can send its next piece only
    once the server has read the last one (each piece then reaches the parser in one read or more, never merged with
    the next) and knows when the server closed; it waits on a condition, never sleeps."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.cond = threading.Condition()
        self.seen: dict[int, tuple[int, bool]] = {}  # client port -> (bytes read, closed)
        original = PixelProtocol.data_received
        reads = self

        def data_received(protocol: PixelProtocol, data: bytes) -> None:
            port = protocol.transport.get_extra_info("peername")[1]
            try:
                original(protocol, data)
            finally:
                with reads.cond:
                    total, closed = reads.seen.get(port, (0, False))
                    reads.seen[port] = (total + len(data), closed or protocol.closed)
                    reads.cond.notify_all()

        monkeypatch.setattr(PixelProtocol, "data_received", data_received)

    def connected(self, port: int) -> None:
        """A new connection from client `port` (which an earlier one may have used): it has sent nothing yet."""
        with self.cond:
            self.seen.pop(port, None)

    def wait(self, port: int, sent: int) -> bool:
        """Wait until the server has read `sent` bytes from client `port` or closed it; True if it closed."""
        def ready() -> bool:
            total, closed = self.seen.get(port, (0, False))
            return total >= sent or closed

        with self.cond:
            assert self.cond.wait_for(ready, timeout=60), (self.seen.get(port), sent)
            return self.seen[port][1]


@pytest.fixture
def limit_server(tmp_path, monkeypatch):
    """A counter whose counts stay in memory (no timed flush) and which closes no connection for idleness while a
    loaded machine runs the test, with every read recorded."""
    reads = Reads(monkeypatch)
    config = make_mirror(tmp_path)
    running = Running(config, CounterOptions(flush_seconds=3600, timeout=60, max_connections=50))
    yield config, running, reads
    if not running.loop.is_closed():
        running.stop()


def counted(running: Running, page: str = "pages/world/a1.md") -> int:
    """The views of `page` held in memory, read on the service's own loop."""
    async def read() -> int:
        return sum(pages.get(page, 0) for pages in running.service.counts.values())
    return running.call(read)


def send_in_pieces(running: Running, reads: Reads, raw: bytes, cuts: list[int] | None = None) -> bytes:
    """Send `raw` cut at the offsets in `cuts` (None: one sendall), each piece once the server has read the one
    before, stopping when the server closes; then read the reply to its end."""
    bounds = [0, *sorted(set(c for c in cuts or () if 0 < c < len(raw))), len(raw)]
    with socket.create_connection(("127.0.0.1", running.port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port = sock.getsockname()[1]
        reads.connected(port)
        for start, stop in zip(bounds, bounds[1:]):
            try:
                sock.sendall(raw[start:stop])
            except (BrokenPipeError, ConnectionResetError):  # answered and closed before the rest arrived
                break
            if reads.wait(port, stop):
                break
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # closed with bytes unread: the reply was queued before the reset
            pass
    return b"".join(chunks)


def sized(size: int, path: str = A1, close: bool = True) -> bytes:
    """A GET of `path` whose head (request line to blank line) is exactly `size` bytes, padded with one header."""
    raw = get(path, extra="X-Pad: \r\n", close=close)
    pad = size - len(raw)
    assert pad >= 0
    return raw.replace(b"X-Pad: ", b"X-Pad: " + b"p" * pad)


def statuses(reply: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)]


MANY_HEADERS = get(A1, extra="".join(f"X-{i}: v\r\n" for i in range(2000)))  # 2000 small headers, ~20 KB
LIMIT_CASES = {  # request bytes -> (statuses, views counted)
    "100 KB of headers": (sized(100 * 1024), [431], 0),
    "head of exactly 16 KB": (sized(MAX_HEAD), [200], 1),
    "head one byte under 16 KB": (sized(MAX_HEAD - 1), [200], 1),
    "head one byte over 16 KB": (sized(MAX_HEAD + 1), [431], 0),
    "many small headers summing over 16 KB": (MANY_HEADERS, [431], 0),
    "blank lines before the request line count": (b"\r\n" * 10000 + get(A1), [431], 0),
    "a request line alone over 16 KB (its target is over 2 KB first)": (b"GET /p/" + b"a" * 20000, [414], 0),
    "pipelined, the fourth over": (get(A1, close=False) * 3 + sized(MAX_HEAD + 1), [200, 200, 200, 431], 3),
    "pipelined, the fourth exactly 16 KB": (get(A1, close=False) * 3 + sized(MAX_HEAD), [200, 200, 200, 200], 4),
    "pipelined, the first over": (sized(20000, close=False) + get(A1), [431], 0),
}


def _chunkings(raw: bytes) -> dict[str, list[int] | None]:
    blank = raw.find(b"\r\n\r\n")
    return {
        "one sendall": None,
        "1000-byte pieces": list(range(1000, len(raw), 1000)),
        "blank line split across reads": [blank + 1, blank + 3],
        "split at the limit": [MAX_HEAD - 1, MAX_HEAD, MAX_HEAD + 1],
    }


@pytest.mark.parametrize("case", LIMIT_CASES)
def test_request_limit_holds_however_the_bytes_arrive(limit_server, case):
    """Each request may use 16 KB (its head; a body counts too); one byte more gets 431 and a close, and is not
    counted, whether the request comes in one send, in pieces, split inside its blank line or after others."""
    _config, running, reads = limit_server
    raw, expected, views_counted = LIMIT_CASES[case]
    before = counted(running)
    for chunking, cuts in _chunkings(raw).items():
        reply = send_in_pieces(running, reads, raw, cuts)
        assert statuses(reply) == expected, (chunking, reply[:200])
        assert counted(running) - before == views_counted, chunking
        before += views_counted


def test_request_with_a_body_counts_its_body_and_closes_after_it(limit_server):
    """The parser frames a body, so a request with one is answered with a close; head and body share the 16 KB."""
    _config, running, reads = limit_server
    with_body = b"GET %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" % A1.encode()
    reply = send_in_pieces(running, reads, with_body + get(A1, close=False))
    assert statuses(reply) == [200] and b"connection: close" in reply.lower()
    big = b"GET %s HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" % A1.encode() + b"b" * 20000
    for cuts in (None, list(range(100, len(big), 3000))):
        assert statuses(send_in_pieces(running, reads, big, cuts)) == [431]
    assert counted(running) == 1


def test_the_answer_depends_on_the_request_size_never_on_how_it_is_cut(limit_server):
    """Property: for a request whose head is N bytes (after up to two small pipelined ones), cut into pieces at any
    offsets, each piece read by the server before the next is sent: N <= 16 KB gets 200 and one view, N > 16 KB gets
    431 and none."""
    from hypothesis import given, settings, strategies as st

    _config, running, reads = limit_server
    near = st.integers(MAX_HEAD - 8, MAX_HEAD + 8)
    sizes = st.one_of(near, st.integers(300, MAX_HEAD), st.integers(MAX_HEAD + 1, 3 * MAX_HEAD))

    @settings(derandomize=True, max_examples=60, deadline=None, database=None)
    @given(size=sizes, before=st.integers(0, 2), cuts=st.lists(st.integers(1, 3 * MAX_HEAD + 200), max_size=6),
           near_end=st.lists(st.integers(-6, 6), max_size=3))
    def check(size: int, before: int, cuts: list[int], near_end: list[int]) -> None:
        raw = get(A1, close=False) * before + sized(size)
        cuts = cuts + [len(raw) - 4 + d for d in near_end]  # around the blank line, where a split matters most
        was = counted(running)
        reply = send_in_pieces(running, reads, raw, cuts)
        if size <= MAX_HEAD:
            assert statuses(reply) == [200] * (before + 1) and reply.endswith(PIXEL), reply[-200:]
            assert counted(running) == was + before + 1
        else:
            assert statuses(reply) == [200] * before + [431], reply[-200:]
            assert counted(running) == was + before

    check()


def test_connection_cap_refuses_extra_clients_and_recovers(tmp_path):
    config = make_mirror(tmp_path)
    running = Running(config, CounterOptions(flush_seconds=0.2, timeout=5, max_connections=3))
    try:
        held = [socket.create_connection(("127.0.0.1", running.port), timeout=5) for _ in range(3)]
        wait_until(lambda: len(running.service.connections) == 3)  # the server has taken all three
        assert request(running.port, get("/p/pages/world/a1.md")) == b""  # refused at once
        for sock in held:
            sock.close()
        wait_until(lambda: not running.service.connections)  # and has seen them close
        assert request(running.port, get("/p/pages/world/a1.md")).endswith(PIXEL)
    finally:
        running.stop()
    assert views(config) == {"pages/world/a1.md": 1}


def test_new_pages_are_counted_after_a_refresh(tmp_path):
    config = make_mirror(tmp_path)
    running = Running(config, CounterOptions(flush_seconds=0.2, refresh_seconds=0.3))
    try:
        with Store(config.state_path) as store:
            store.ensure_article("c1", "https://news.example.org/c1", "world", "2026-11-02T00:00:00+00:00")
            store.save_article("c1", Article("https://news.example.org/c1", "C", "t", "<p>t</p>"), "h", None,
                               "2026-11-02T00:00:00+00:00")
        deadline = time.monotonic() + 5
        while running.service.targets.page(b"/p/pages/world/c1.md") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        request(running.port, get("/p/pages/world/c1.md"))
    finally:
        running.stop()
    assert views(config) == {"pages/world/c1.md": 1}


def _spawn(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "serve-counter", "--config", str(tmp_path / "newsmirror.toml"),
         "--port", "0", *args],
        stdout=open(tmp_path / "out.log", "wb"), stderr=subprocess.PIPE, cwd=tmp_path,
    )
    line = process.stderr.readline().decode()
    assert "counting views at http://127.0.0.1:" in line, line
    port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
    return process, port


@pytest.mark.parametrize("processes, stop", [(1, signal.SIGTERM), (2, signal.SIGINT)])
def test_cli_flushes_on_signal_and_keeps_nothing_about_clients(tmp_path, processes, stop):
    """Counts exist only in memory (flush interval one hour) until SIGTERM/SIGINT; afterwards every byte the service
    wrote (stdout, stderr, the database and its WAL) is searched for the client's address, agent and referrer."""
    config = make_mirror(tmp_path, flush_seconds=3600)
    before = set(os.listdir(tmp_path))
    process, port = _spawn(tmp_path, "--processes", str(processes))
    client, agent, referrer = "127.0.0.77", "CanaryAgent/9.9", "https://referrer-canary.example/x"
    try:
        extra = f"User-Agent: {agent}\r\nReferer: {referrer}\r\nCookie: canary=cookie-value\r\n"
        for i in range(30):
            reply = request(port, get(f"/p/{PAGES[i % 3]}", extra=extra), source=client)
            assert reply.endswith(PIXEL)
        request(port, b"POST /p/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", source=client)
        request(port, b"BROKEN\r\n\r\n", source=client)
        assert views(config) == {}  # nothing written yet: the flush interval is an hour
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert views(config) == {PAGES[0]: 10, PAGES[1]: 10, PAGES[2]: 10}
    written = err + (tmp_path / "out.log").read_bytes()
    for name in set(os.listdir(tmp_path)) - {"newsmirror.toml"}:
        written += (tmp_path / name).read_bytes()
    for secret in (client, agent, referrer, "canary=cookie-value", "referrer-canary"):
        assert secret.encode() not in written, secret
    assert set(os.listdir(tmp_path)) - before <= {"out.log", "state.db-wal", "state.db-shm"}


def test_counter_keys_and_crash_loss_are_documented():
    from newsmirror.config import CounterSettings

    docs = Path(__file__).parent.parent / "docs"
    reference = (docs / "configuration.md").read_text("utf-8")
    operations = (docs / "operations.md").read_text("utf-8")
    section = operations.split("## View counter and hot list", 1)[1].split("\n## ", 1)[0]
    for key in CounterSettings.model_fields:
        assert f"`{key}`" in reference, key
    assert "hard crash" in section and "`flush_seconds`" in section
    scaffold = (Path(__file__).parent.parent / "newsmirror" / "templates" / "newsmirror.toml").read_text("utf-8")
    assert "[counter]" in scaffold
