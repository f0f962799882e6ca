"""The view counter: real HTTP on 127.0.0.1, real SQLite; exact counts, no client data kept, abuse, shutdown flush."""

from __future__ import annotations

import asyncio
import os
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
from newsmirror.counter import PIXEL, CounterOptions, CounterService, bind, load_targets
from newsmirror.records import Article
from newsmirror.store import Store

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
    time.sleep(0.5)  # at least one timed flush happens while the server runs
    flushed_before_stop = sum(views(config).values())
    assert flushed_before_stop > 0
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


def test_connection_cap_refuses_extra_clients_and_recovers(tmp_path):
    config = make_mirror(tmp_path)
    running = Running(config, CounterOptions(flush_seconds=0.2, timeout=5, max_connections=3))
    try:
        held = [socket.create_connection(("127.0.0.1", running.port), timeout=5) for _ in range(3)]
        time.sleep(0.1)
        assert request(running.port, get("/p/pages/world/a1.md")) == b""  # refused at once
        for sock in held:
            sock.close()
        time.sleep(0.1)
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

    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## View counter and hot list", 1)[1].split("\n## ", 1)[0]
    for key in CounterSettings.model_fields:
        assert f"`{key}`" in readme, key
    assert "hard crash" in section and "`flush_seconds`" in section
    scaffold = (Path(__file__).parent.parent / "newsmirror" / "templates" / "newsmirror.toml").read_text("utf-8")
    assert "[counter]" in scaffold
