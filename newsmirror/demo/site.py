"""The demo news site: a real HTTP server on 127.0.0.1 in a background thread.

    with DemoSite() as site:
        site.base_url                      # "http://127.0.0.1:PORT"
        site.edit_article(slug, "A new paragraph.")
        site.set_status("/feeds/science.rss", 500)

Routes: ``/`` home, ``/<channel>/`` listings, ``/feeds/science.rss`` (RSS 2.0), ``/feeds/city.atom``
(Atom), ``/articles/<slug>.html``, ``/js/<slug>.html`` (body built by JavaScript), ``/images/<name>``,
``/static/...``, ``/robots.txt``. Pages and feeds send ``ETag``/``Last-Modified`` and answer 304.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from newsmirror.demo import images, render
from newsmirror.demo.config_text import demo_config_text
from newsmirror.demo.content import (CHANNELS, EDITED, GBK_SLUG, JS_SLUG, LAZY_SLUG, SHARED_SLUG, TAKEN_DOWN, Article,
                                     image_names, listed_articles, load_articles)
from newsmirror.demo.feeds import atom_feed, rss_feed
from newsmirror.demo.render import BOILERPLATE_PHRASES

__all__ = ["DemoSite", "demo_config_text", "CHANNELS", "GBK_SLUG", "SHARED_SLUG", "LAZY_SLUG", "JS_SLUG",
           "BOILERPLATE_PHRASES", "FEEDS"]

#: channel -> feed path, for the channels that have one
FEEDS = {ch: f"/feeds/{ch}.{kind}" for ch, kind in CHANNELS.items() if kind in ("rss", "atom")}
ROBOTS = b"User-agent: *\nDisallow: /account/\n"


@dataclass
class Response:
    status: int
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)


class DemoSite:
    """Serves the sample site; state (edits, forced statuses) is per instance."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_host: str | None = None):
        """``public_host`` (e.g. ``"news.demo.test"``): name the site uses for itself in absolute URLs
        (canonical links, feeds, in-article links) instead of ``127.0.0.1:PORT``; the caller must route
        that host to :attr:`base_url` itself (e.g. newsmirror's ``fetch.resolve``)."""
        self._host, self._port, self._public_host = host, port, public_host
        self._articles = load_articles()
        self._listed = listed_articles()
        self._lock = threading.Lock()
        self._edits: dict[str, list[str]] = {}
        self._updated: dict[str, datetime] = {}
        self._status: dict[str, int] = {}
        self._replaced: dict[str, list[tuple[str, str]]] = {}  # slug -> (old, new) text replacements, in order
        self._counts: dict[str, str] = {}  # slug -> a churn line shown at the top of its body
        self._redirects: dict[str, str] = {}  # path -> Location
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of every request
        self.answers: list[tuple[str, int]] = []  # (path with query, status) of every response, in order

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "DemoSite":
        if self._server is None:
            self._server = _Server((self._host, self._port), _make_handler(self))
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="demo-site",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self) -> "DemoSite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoSite is not running; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def public_url(self) -> str:
        """Base of the absolute URLs in pages and feeds: ``http://<public_host>``, else :attr:`base_url`."""
        return f"http://{self._public_host}" if self._public_host else self.base_url

    # -- test controls -----------------------------------------------------------------------
    def edit_article(self, slug: str, text: str) -> None:
        """Append paragraph ``text`` to an article; its updated time becomes the newest on the site plus 1 h."""
        if slug not in self._articles:
            raise KeyError(f"no demo article {slug!r}")
        with self._lock:
            self._edits.setdefault(slug, []).append(text)
            # One hour after the newest time on the site, so feeds' Last-Modified moves on too.
            latest = max([a.published for a in self._articles.values()] + list(self._updated.values()))
            self._updated[slug] = latest + timedelta(hours=1)

    def next_day(self) -> None:
        """The site a day later: `content.EDITED` edited in place (its dates unchanged, as quiet edits are) and
        `content.TAKEN_DOWN` gone (404; still in its feed, as a hurried removal leaves it)."""
        slug, old, new = EDITED
        self.replace_text(slug, old, new)
        self.set_status(self._articles[TAKEN_DOWN].path, 404)

    def set_status(self, path: str, code: int | None) -> None:
        """Make ``path`` answer ``code`` (e.g. 500, 404) until ``set_status(path, None)``."""
        with self._lock:
            if code is None:
                self._status.pop(path, None)
            else:
                self._status[path] = code

    def replace_text(self, slug: str, old: str, new: str) -> None:
        """Edit an article in place: ``old`` becomes ``new`` in its page (applied after earlier replacements)."""
        if slug not in self._articles:
            raise KeyError(f"no demo article {slug!r}")
        with self._lock:
            self._replaced.setdefault(slug, []).append((old, new))

    def set_churn(self, slug: str, line: str | None) -> None:
        """Show ``line`` (e.g. "1,204 views · 36 comments · 10:32") as the first paragraph of the article's body,
        the kind of text that changes on every visit; ``None`` removes it."""
        with self._lock:
            if line is None:
                self._counts.pop(slug, None)
            else:
                self._counts[slug] = line

    def redirect(self, path: str, location: str | None) -> None:
        """Make ``path`` answer 302 to ``location`` (e.g. "/") until ``redirect(path, None)``."""
        with self._lock:
            if location is None:
                self._redirects.pop(path, None)
            else:
                self._redirects[path] = location

    def article_urls(self) -> list[str]:
        """URLs (on :attr:`base_url`, so fetchable as is) of every article in feeds and listings, newest first.

        Pages and feeds name articles by :attr:`public_url`. The JS-built page is not among them: see
        :meth:`js_article_url`."""
        return [self.base_url + a.path for a in self._listed]

    def js_article_url(self) -> str:
        return self.base_url + self._articles[JS_SLUG].path

    def updated(self, article: Article) -> datetime:
        with self._lock:
            return self._updated.get(article.slug, article.published)

    def channel_articles(self, channel: str) -> list[Article]:
        return [a for a in self._listed if channel in a.channels]

    # -- pages -------------------------------------------------------------------------------
    def _popular(self) -> list[Article]:
        return self._listed[3::8][:5]

    def _related(self, article: Article) -> list[Article]:
        same = [a for a in self.channel_articles(article.channel) if a.slug != article.slug]
        start = sum(article.slug.encode()) % max(len(same), 1)
        return (same[start:] + same[:start])[:3]

    def _article(self, article: Article) -> Response:
        with self._lock:
            extra = list(self._edits.get(article.slug, []))
            replaced = list(self._replaced.get(article.slug, []))
            churn = self._counts.get(article.slug)
        updated = self.updated(article)
        html = render.article_page(article, self.public_url, extra=extra, updated=updated,
                                   related=self._related(article), popular=self._popular(),
                                   meta_charset=article.serve != "gbk")
        for old, new in replaced:
            html = html.replace(old, new)
        if churn is not None:
            html = html.replace('<div class="article-body">\n', f'<div class="article-body">\n<p>{escape(churn)}</p>\n', 1)
        if article.serve == "gbk":
            return Response(200, "text/html", html.encode("gbk"), updated)
        return Response(200, body=html.encode("utf-8"), last_modified=updated)

    def _latest(self, articles: list[Article]) -> datetime:
        return max(self.updated(a) for a in articles)

    def route(self, path: str) -> Response:
        """The response for a GET of ``path`` (no query), ignoring forced statuses and conditionals."""
        base = self.public_url
        if path == "/":
            by_channel = {ch: self.channel_articles(ch) for ch in CHANNELS}
            html = render.home_page(by_channel, self._articles[JS_SLUG], FEEDS)
            return Response(200, body=html.encode(), last_modified=self._latest(self._listed))
        if path.startswith("/articles/") and path.endswith(".html"):
            article = self._articles.get(path[len("/articles/"):-len(".html")])
            if article and article.serve != "js":
                return self._article(article)
        if path.startswith("/js/") and path.endswith(".html"):
            article = self._articles.get(path[len("/js/"):-len(".html")])
            if article and article.serve == "js":
                return self._article(article)
        channel = path.strip("/")
        if channel in CHANNELS:
            if not path.endswith("/"):
                return Response(301, headers={"Location": f"/{channel}/"})
            arts = self.channel_articles(channel)
            html = render.listing_page(channel, base, arts, self._popular(), FEEDS.get(channel))
            return Response(200, body=html.encode(), last_modified=self._latest(arts))
        for channel, feed_path in FEEDS.items():
            if path == feed_path:
                arts = self.channel_articles(channel)
                if feed_path.endswith(".rss"):
                    xml, ctype = rss_feed(channel, base, arts, self.updated), "application/rss+xml; charset=utf-8"
                else:
                    xml, ctype = atom_feed(channel, base, arts, self.updated), "application/atom+xml; charset=utf-8"
                return Response(200, ctype, xml.encode(), self._latest(arts))
        if path.startswith("/images/") and path[len("/images/"):] in image_names():
            data, ctype = _image(path[len("/images/"):])
            return Response(200, ctype, data)
        static = {
            "/static/placeholder.gif": (images.placeholder_gif, "image/gif"),
            "/static/logo.png": (images.logo_png, "image/png"),
            "/static/site.css": (lambda: render.CSS.encode(), "text/css; charset=utf-8"),
            "/robots.txt": (lambda: ROBOTS, "text/plain; charset=utf-8"),
        }
        if path in static:
            make, ctype = static[path]
            return Response(200, ctype, make())
        return _error(404)

    def respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        """Full handling of one request: forced status, routing, conditional GET."""
        response = self._respond(method, target, headers)
        with self._lock:
            self.answers.append((target, response.status))
        return response

    def _respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        path = urlsplit(target).path
        with self._lock:
            self.requests.append((method, target))
            forced = self._status.get(path)
            location = self._redirects.get(path)
        if forced is not None:
            return _error(forced)
        if location is not None:
            return Response(302, headers={"Location": location})
        response = self.route(path)
        if response.status != 200:
            return response
        etag = '"' + hashlib.sha1(response.body).hexdigest()[:20] + '"'
        response.headers["ETag"] = etag
        if response.last_modified:
            response.headers["Last-Modified"] = format_datetime(response.last_modified, usegmt=True)
        if _not_modified(headers, etag, response.last_modified):
            return Response(304, response.content_type, b"", headers=response.headers)
        return response


@lru_cache(maxsize=None)
def _image(name: str) -> tuple[bytes, str]:
    """Images are deterministic, so all sites share one cache."""
    return images.make_image(name)


def _error(code: int) -> Response:
    try:
        message = HTTPStatus(code).phrase
    except ValueError:
        message = "Error"
    return Response(code, body=render.error_page(code, message).encode())


def _not_modified(headers: dict[str, str], etag: str, last_modified: datetime | None) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since_text = headers.get("if-modified-since")
    if since_text and last_modified:
        try:
            since = parsedate_to_datetime(since_text)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        return last_modified.replace(microsecond=0) <= since
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()

    def handle_error(self, request, client_address) -> None:  # quiet: clients may hang up early
        pass


def _make_handler(site: DemoSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "HarbourLight/1.0"
        sys_version = ""
        timeout = 5
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def _serve(self, head_only: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = site.respond(self.command, self.path, headers)
            self.send_response(response.status)
            if response.status != 304:
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not head_only and response.status != 304:
                self.wfile.write(response.body)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(True)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler
