"""Fetch stage against a real HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from faultserver import ClientLog, assert_spaced
from newsmirror.config import FetchSettings
from newsmirror.fetch.client import Fetcher, FetchRequest, fetch_all, parse_content_type, retry_after_seconds
from newsmirror.errors import FetchError
from newsmirror.records import FetchedPage

GBK_BODY = "<html><body><p>中文新闻：今天的消息</p></body></html>".encode("gbk")
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"
BIG = 8192  # larger than the max_bytes used below


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "MockServer"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        srv = self.server
        with srv.lock:
            srv.hits[path] += 1
            hits = srv.hits[path]
            srv.headers_seen[path] = dict(self.headers)
        if path == "/page":
            validators = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
            if self.headers.get("If-None-Match") == ETAG or self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return self.send(304, headers=validators)
            return self.send(200, b"<html>hello</html>", {"Content-Type": "text/html; charset=UTF-8", **validators})
        if path == "/gbk":
            return self.send(200, GBK_BODY, {"Content-Type": "text/html"})
        if path == "/quoted-charset":
            return self.send(200, b"x", {"Content-Type": 'Text/HTML; Charset="ISO-8859-1"'})
        if path == "/gzip":
            return self.send(200, gzip.compress(b"zipped " * 50), {"Content-Type": "text/plain", "Content-Encoding": "gzip"})
        if path.startswith("/flaky503/"):
            return self.send(503) if hits <= 2 else self.send(200, b"ok", {"Content-Type": "text/plain"})
        if path.startswith("/ratelimited/"):
            return self.send(429, headers={"Retry-After": "0"}) if hits == 1 else self.send(200, b"ok")
        if path == "/missing":
            return self.send(404, b"not here")
        if path.startswith("/broken/"):
            return self.send(500, b"boom")
        if path.startswith("/not-implemented"):
            return self.send(501)
        if path == "/slow":
            time.sleep(1.0)
            return self.send(200, b"late")
        if path == "/huge-length":
            return self.send(200, b"x" * BIG)
        if path == "/huge-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(BIG // 512):
                self.wfile.write(b"200\r\n" + b"y" * 512 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/huge-until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"z" * BIG)
            self.close_connection = True
            return None
        if path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                return self.send(200, b"arrived", {"Content-Type": "text/plain"})
            return self.send(302, headers={"Location": f"/redirect/{left - 1}"})
        if path == "/to-ftp":
            return self.send(302, headers={"Location": "ftp://127.0.0.1/file"})
        if path.startswith("/concurrent/") or path.startswith("/paced/"):
            with srv.lock:
                srv.in_flight += 1
                srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
                srv.starts.append(time.monotonic())
            time.sleep(0.2 if path.startswith("/concurrent/") else 0.0)
            with srv.lock:
                srv.in_flight -= 1
            return self.send(200, path.encode())
        return self.send(404)


class MockServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.headers_seen: dict[str, dict[str, str]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out or stop reading break the pipe; that is expected here

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def server():
    srv = MockServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def settings(**changes: object) -> FetchSettings:
    base: dict[str, object] = {"backoff": 0.01, "timeout": 2.0, "retries": 3, "max_bytes": 4096}
    return FetchSettings(**{**base, **changes})


def fetch(cfg: FetchSettings, request: FetchRequest | str) -> FetchedPage:
    async def run() -> FetchedPage:
        async with Fetcher(cfg) as fetcher:
            return await fetcher.fetch(request)

    return asyncio.run(run())


def fetch_error(cfg: FetchSettings, request: FetchRequest | str) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(cfg, request)
    return info.value


# --- normal pages, metadata, conditional GET -------------------------------------------------------------------


def test_page_metadata_and_user_agent(server):
    page = fetch(settings(user_agent="test-agent/1.0"), server.url("/page"))
    assert page.status == 200 and page.body == b"<html>hello</html>"
    assert page.url == page.final_url == server.url("/page")
    assert (page.content_type, page.charset) == ("text/html", "utf-8")
    assert (page.etag, page.last_modified) == (ETAG, LAST_MODIFIED)
    assert not page.not_modified
    assert server.headers_seen["/page"]["User-Agent"] == "test-agent/1.0"


def test_conditional_get_returns_not_modified(server):
    page = fetch(settings(), FetchRequest(server.url("/page"), etag=ETAG, last_modified=LAST_MODIFIED))
    assert page.not_modified and page.status == 304 and page.body == b""
    assert (page.etag, page.last_modified) == (ETAG, LAST_MODIFIED)
    sent = server.headers_seen["/page"]
    assert sent["If-None-Match"] == ETAG and sent["If-Modified-Since"] == LAST_MODIFIED


def test_conditional_get_with_last_modified_only(server):
    page = fetch(settings(), FetchRequest(server.url("/page"), last_modified=LAST_MODIFIED))
    assert page.not_modified and page.last_modified == LAST_MODIFIED and page.etag == ETAG


def test_gbk_bytes_are_kept_and_charset_not_guessed(server):
    page = fetch(settings(), server.url("/gbk"))
    assert page.body == GBK_BODY
    assert page.content_type == "text/html" and page.charset is None


def test_content_type_parameters(server):
    page = fetch(settings(), server.url("/quoted-charset"))
    assert (page.content_type, page.charset) == ("text/html", "iso-8859-1")


def test_gzip_is_decompressed(server):
    assert fetch(settings(), server.url("/gzip")).body == b"zipped " * 50


# --- retries -------------------------------------------------------------------------------------------------------


def test_503_twice_then_success(server):
    page = fetch(settings(), server.url("/flaky503/a"))
    assert page.status == 200 and page.body == b"ok"
    assert server.hits["/flaky503/a"] == 3


def test_retries_exhausted_on_503(server):
    err = fetch_error(settings(retries=1), server.url("/flaky503/b"))
    assert err.retryable and err.status == 503
    assert err.reason == "HTTP 503 after 2 attempts"
    assert server.hits["/flaky503/b"] == 2


def test_429_honours_retry_after(server):
    started = time.monotonic()
    page = fetch(settings(backoff=5.0), server.url("/ratelimited/a"))  # Retry-After: 0 wins over back-off
    assert page.status == 200 and server.hits["/ratelimited/a"] == 2
    assert time.monotonic() - started < 2


def test_404_is_permanent_and_not_retried(server):
    err = fetch_error(settings(), server.url("/missing"))
    assert not err.retryable and err.status == 404
    assert err.reason == "HTTP 404 Not Found"
    assert str(err) == f"{server.url('/missing')} [fetch] HTTP 404 Not Found"
    assert server.hits["/missing"] == 1


def test_500_forever_exhausts_retries(server):
    err = fetch_error(settings(retries=3), server.url("/broken/a"))
    assert err.retryable and err.status == 500
    assert err.reason == "HTTP 500 after 4 attempts"
    assert server.hits["/broken/a"] == 4


def test_no_retries_means_one_attempt(server):
    err = fetch_error(settings(retries=0), server.url("/broken/b"))
    assert err.reason == "HTTP 500 after 1 attempt" and server.hits["/broken/b"] == 1


def test_other_5xx_not_retried_but_retryable_later(server):
    err = fetch_error(settings(), server.url("/not-implemented"))
    assert err.retryable and err.status == 501 and server.hits["/not-implemented"] == 1


def test_timeout(server):
    started = time.monotonic()
    err = fetch_error(settings(timeout=0.2, retries=1), server.url("/slow"))
    assert err.retryable and err.status is None
    assert err.reason == "timed out after 0.2 s (2 attempts)"
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = fetch_error(settings(retries=1), f"http://127.0.0.1:{port}/")
    assert err.retryable and "connection error" in err.reason and "(2 attempts)" in err.reason
    assert str(err).startswith(f"http://127.0.0.1:{port}/ [fetch] ")


# --- size cap, redirects, URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/huge-length", "/huge-chunked", "/huge-until-close"])
def test_body_over_max_bytes(server, path):
    err = fetch_error(settings(max_bytes=4096), server.url(path))
    assert err.reason == "response larger than 4096 bytes" and not err.retryable


def test_body_at_limit_is_fine(server):
    assert len(fetch(settings(max_bytes=BIG), server.url("/huge-chunked")).body) == BIG


def test_redirects_followed_and_final_url(server):
    page = fetch(settings(max_redirects=3), server.url("/redirect/3"))
    assert page.body == b"arrived" and page.url == server.url("/redirect/3")
    assert page.final_url == server.url("/redirect/0")


def test_too_many_redirects(server):
    err = fetch_error(settings(max_redirects=2), server.url("/redirect/5"))
    assert err.reason == "too many redirects (more than 2)" and not err.retryable


def test_redirect_to_unsupported_scheme(server):
    err = fetch_error(settings(), server.url("/to-ftp"))
    assert "unsupported URL scheme" in err.reason and not err.retryable


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/file", "unsupported URL scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("javascript:alert(1)", "unsupported URL scheme 'javascript'"),
        ("not a url", "invalid URL"),
        ("http://", "invalid URL"),
        ("http://exa mple.org/", "invalid URL"),
        ("http://example.org:99999/", "invalid URL"),
        ("http://[::1/", "invalid URL"),
    ],
)
def test_bad_urls(url, reason):
    err = fetch_error(settings(), url)
    assert err.reason.startswith(reason) and err.resource == url and not err.retryable


def test_fetch_outside_context_manager():
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher(settings()).fetch("http://127.0.0.1/"))


# --- concurrency, pacing, many ------------------------------------------------------------------------------------


def test_per_host_concurrency_limit(server):
    with server.lock:
        server.max_in_flight = 0
    requests = [FetchRequest(server.url(f"/concurrent/{i}"), key=i) for i in range(8)]
    started = time.monotonic()
    results = fetch_all(settings(per_host_concurrency=2), requests)
    assert all(isinstance(r, FetchedPage) for _, r in results)
    assert server.max_in_flight == 2
    assert time.monotonic() - started >= 0.8  # 8 requests, 2 at a time, 0.2 s each


def test_global_concurrency_limit(server):
    with server.lock:
        server.max_in_flight = 0
    requests = [FetchRequest(server.url(f"/concurrent/g{i}")) for i in range(4)]
    fetch_all(settings(per_host_concurrency=4, total_concurrency=1), requests)
    assert server.max_in_flight == 1


def test_delay_between_request_starts(server):
    with server.lock:
        server.starts.clear()
    requests = [FetchRequest(server.url(f"/paced/{i}")) for i in range(3)]
    with ClientLog() as log:  # when the client started each request (the server's thread sees them later)
        fetch_all(settings(per_host_concurrency=4, delay=0.15), requests)
    assert len(server.starts) == 3
    starts = [c.started for c in log.select() if c.path.startswith("/paced/")]
    assert len(starts) == 3
    assert_spaced(starts, 0.15)


def test_fetch_all_keeps_input_order_and_reports_errors(server):
    requests = [
        FetchRequest(server.url("/concurrent/slow-one"), key="a"),
        FetchRequest(server.url("/missing"), key="b"),
        FetchRequest("gopher://x/", key="c"),
        FetchRequest(server.url("/gbk"), key="d"),
    ]
    results = fetch_all(settings(), requests)
    assert [req.key for req, _ in results] == ["a", "b", "c", "d"]
    kinds = [type(res) for _, res in results]
    assert kinds == [FetchedPage, FetchError, FetchError, FetchedPage]


def test_fetch_many_yields_as_completed(server):
    async def run() -> list[object]:
        requests = [FetchRequest(server.url("/concurrent/late"), key="late"), FetchRequest(server.url("/gbk"), key="early")]
        async with Fetcher(settings(per_host_concurrency=4)) as fetcher:
            return [req.key async for req, _ in fetcher.fetch_many(requests)]

    assert asyncio.run(run()) == ["early", "late"]


# --- pure helpers --------------------------------------------------------------------------------------------------


def test_parse_content_type():
    assert parse_content_type(None) == (None, None)
    assert parse_content_type("text/html") == ("text/html", None)
    assert parse_content_type("application/xml;charset=Windows-1252; q=1") == ("application/xml", "windows-1252")
    assert parse_content_type("text/html; charset=") == ("text/html", None)


def test_retry_after_seconds():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds("3600") == 60.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # an HTTP date in the past
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412470.0) == 20.0
    assert retry_after_seconds("soon") is None
