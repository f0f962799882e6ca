"""ImageLocaliser against a real HTTP server on 127.0.0.1 and a real SQLite store."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageChops

from newsmirror.layout import asset_link, asset_path, is_local
from newsmirror.fetch.assets import ImageLocaliser, body_image_sources, image_sources, rewrite_image_sources
from newsmirror.config import FetchSettings, ImageSettings
from newsmirror.fetch.client import Fetcher
from newsmirror.records import Article, ImageRef
from newsmirror.state.store import Store
from newsmirror.extract.transform import sanitize


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _photo(width: int, height: int) -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height))
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    noisy = ImageChops.add(gradient, Image.effect_noise((width, height), 30), 1, -64)
    image = Image.merge("RGB", (noisy, Image.effect_noise((width, height), 60), across))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    return _encode(image, "JPEG", quality=90, exif=exif.tobytes())


def _alpha_png() -> bytes:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 100, 100))
    return _encode(image, "PNG")


def _gif() -> bytes:
    frames = [Image.new("P", (60, 40), c) for c in (1, 2)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


class ImageServer:
    """Serves `routes` (path -> (status, content type, body)); counts requests per path; routes may change."""

    def __init__(self) -> None:
        small = Image.new("RGB", (320, 200), (200, 120, 40))
        same = _encode(small, "JPEG", quality=85)
        self.routes: dict[str, tuple[int, str, bytes]] = {
            "/big.jpg": (200, "image/jpeg", _photo(3000, 2000)),
            "/small.jpg": (200, "image/jpeg", same),
            "/copy-of-small.jpg": (200, "image/jpeg", same),
            "/alpha.png": (200, "image/png", _alpha_png()),
            "/pic.webp": (200, "image/webp", _encode(small, "WEBP")),
            "/anim.gif": (200, "image/gif", _gif()),
            "/page.html": (200, "text/html; charset=utf-8", b"<!doctype html><p>Sorry, hot-linking denied</p>"),
        }
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with server.lock:
                    server.hits[self.path] += 1
                    status, kind, body = server.routes.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def server():
    srv = ImageServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db") as s:
        yield s


def article(url: str, *srcs: str, lead: str | None = None) -> Article:
    figures = "".join(f'<figure><img src="{s}" alt="alt {i}"><figcaption>Caption {i}</figcaption></figure>'
                      for i, s in enumerate(srcs))
    return Article(
        url=url, title="T", text="Text", body_html=f"<p>Intro &amp; more</p>{figures}<p>End</p>",
        lead_image=ImageRef(lead or srcs[0], "lead alt", "lead caption") if (lead or srcs) else None,
        images=tuple(ImageRef(s, f"alt {i}", f"Caption {i}") for i, s in enumerate(srcs)),
    )


def localise(store: Store, articles: list[Article], settings: ImageSettings = ImageSettings(), **kwargs):
    """Run one localiser (as one pipeline run would) over `articles` concurrently."""
    async def run():
        async with Fetcher(FetchSettings(retries=0)) as fetcher:
            localiser = ImageLocaliser(settings, store, fetcher, **kwargs)
            return await asyncio.gather(*(localiser.localise(a) for a in articles))
    return asyncio.run(run())


def test_asset_paths():
    digest = hashlib.sha256(b"x").hexdigest()
    path = asset_path(digest, "webp")
    assert path == f"assets/{digest[:2]}/{digest[:16]}.webp"
    assert is_local(path) and is_local(asset_path(digest, "jpg"))
    for other in ("https://cdn.example/assets/ab/x.webp", "assets/../etc/passwd", "/assets/ab/0123.webp", ""):
        assert not is_local(other)
    assert asset_link(path, "pages/world/a1.md") == f"../../{path}"
    assert asset_link(path, "pages/world/a1.md", "https://cdn.mirror.example/m/") == \
        f"https://cdn.mirror.example/m/{path}"


def test_rewrite_image_sources_and_find_them():
    body = ('<p>a &amp; b</p><figure><img src="https://x.example/1.jpg" srcset="https://x.example/1@2x.jpg 2x" '
            'alt="one"><figcaption>c</figcaption></figure><img src="https://x.example/2.jpg" alt="two">tail')
    assert body_image_sources(body) == ["https://x.example/1.jpg", "https://x.example/2.jpg"]
    out = rewrite_image_sources(body, {"https://x.example/1.jpg": "assets/ab/abcdef0123456789.webp"})
    assert out == ('<p>a &amp; b</p><figure><img src="assets/ab/abcdef0123456789.webp" alt="one">'
                   '<figcaption>c</figcaption></figure><img src="https://x.example/2.jpg" alt="two">tail')
    assert rewrite_image_sources(body, {"https://other.example/x.jpg": "assets/x"}) is body
    assert rewrite_image_sources("<p>no images</p>", {"a": "b"}) == "<p>no images</p>"
    # the sanitizer the renderers use keeps a mirror-relative src
    assert 'src="assets/ab/abcdef0123456789.webp"' in sanitize(out)


def test_localise_resizes_recompresses_and_rewrites_everything(server, store):
    big, png = server.url("/big.jpg"), server.url("/alpha.png")
    source = article("https://news.example/a1", big, png, server.url("/pic.webp"), server.url("/anim.gif"))
    [(result, files, failures)] = localise(store, [source])
    assert failures == []
    assert len(files) == 4
    by_path = {f.path: f.content for f in files}
    for f in files:
        assert is_local(f.path) and f.path.endswith(".webp")
        assert f.path == asset_path(hashlib.sha256(f.content).hexdigest(), "webp")
        assert len(f.content) <= 150_000
    local = [ref.src for ref in result.images]
    assert all(is_local(s) for s in local) and len(set(local)) == 4
    assert result.lead_image == ImageRef(local[0], "lead alt", "lead caption")
    assert [(r.alt, r.caption) for r in result.images] == [(f"alt {i}", f"Caption {i}") for i in range(4)]
    assert body_image_sources(result.body_html) == local
    assert "Caption 1" in result.body_html and "Intro &amp; more" in result.body_html
    photo = Image.open(io.BytesIO(by_path[local[0]]))
    assert photo.size == (1024, 683) and not photo.getexif()
    assert Image.open(io.BytesIO(by_path[local[1]])).mode == "RGBA"
    assert store.image_assets([big, png]) == {big: local[0], png: local[1]}


def test_jpeg_when_configured(server, store):
    [(result, files, _)] = localise(store, [article("https://news.example/j", server.url("/big.jpg"))],
                                    ImageSettings(format="jpeg"))
    assert result.images[0].src.endswith(".jpg")
    assert Image.open(io.BytesIO(files[0].content)).format == "JPEG"


def test_each_url_downloaded_once_and_identical_images_share_one_file(server, store):
    small, copy = server.url("/small.jpg"), server.url("/copy-of-small.jpg")
    before = server.hits.copy()
    runs = localise(store, [article("https://news.example/b1", small), article("https://news.example/b2", small),
                            article("https://news.example/b3", copy)])
    assert server.hits["/small.jpg"] - before["/small.jpg"] == 1
    assert server.hits["/copy-of-small.jpg"] - before["/copy-of-small.jpg"] == 1
    paths = {result.images[0].src for result, _, _ in runs}
    assert len(paths) == 1  # both URLs give the same bytes: one asset
    assert [f.path for _, files, _ in runs for f in files] == list(paths)  # and the file is returned once
    # a later run: no download at all, nothing to write
    [(again, files, failures)] = localise(store, [article("https://news.example/b4", small, copy)])
    assert server.hits["/small.jpg"] - before["/small.jpg"] == 1
    assert files == [] and failures == [] and {r.src for r in again.images} == paths


def test_missing_asset_file_is_made_again_when_root_is_given(server, store, tmp_path):
    small = server.url("/small.jpg")
    [(first, files, _)] = localise(store, [article("https://news.example/m1", small)], root=tmp_path)
    before = server.hits["/small.jpg"]
    [(second, files_again, _)] = localise(store, [article("https://news.example/m1", small)], root=tmp_path)
    assert server.hits["/small.jpg"] == before + 1 and files_again == files  # the tree lacked the file
    (tmp_path / files[0].path).parent.mkdir(parents=True)
    (tmp_path / files[0].path).write_bytes(files[0].content)
    [(third, files_third, _)] = localise(store, [article("https://news.example/m1", small)], root=tmp_path)
    assert server.hits["/small.jpg"] == before + 1 and files_third == []
    assert first == second == third


def test_failures_keep_the_source_url_are_recorded_and_never_raise(server, store):
    good, missing, html = server.url("/small.jpg"), server.url("/gone.jpg"), server.url("/page.html")
    source = article("https://news.example/f1", good, missing, html)
    [(result, files, failures)] = localise(store, [source])
    assert [f.src for f in failures] == [missing, html]
    assert failures[0].reason == f"{missing} [fetch] HTTP 404 Not Found"
    assert failures[1].reason.startswith(f"{html} [transform] not an image")
    assert "Content-Type text/html" in failures[1].reason
    assert is_local(result.images[0].src) and is_local(result.lead_image.src)
    assert [r.src for r in result.images[1:]] == [missing, html]
    assert body_image_sources(result.body_html)[1:] == [missing, html]
    assert [(r.alt, r.caption) for r in result.images] == [(r.alt, r.caption) for r in source.images]
    assert len(files) == 1
    row = store.image_state(missing)
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 1, failures[0].reason)
    assert [r["src"] for r in store.failed_images()] == sorted([missing, html])


def test_failed_image_is_retried_by_a_later_run_once_the_server_is_fixed(server, store):
    flaky = server.url("/later.jpg")
    store.ensure_article("f2", "https://news.example/f2", "world", "2026-01-01")
    source = article("https://news.example/f2", flaky)
    [(first, _, failures)] = localise(store, [source])
    assert len(failures) == 1 and first.images[0].src == flaky
    store.save_article("f2", first, "hash", None, "2026-01-01")  # the pipeline saves the article as it is
    assert store.articles_with_failed_images(max_attempts=8) == ["f2"]
    assert store.articles_with_failed_images(max_attempts=1) == []  # given up after max_attempts failures
    [(_, _, failures)] = localise(store, [store.article_record("f2")])
    assert store.image_state(flaky)["attempts"] == 2

    server.routes["/later.jpg"] = server.routes["/pic.webp"]  # the server is fixed
    try:
        [(fixed, files, failures)] = localise(store, [store.article_record("f2")])
    finally:
        del server.routes["/later.jpg"]
    assert failures == [] and len(files) == 1
    assert fixed.images[0].src == files[0].path == fixed.lead_image.src
    assert body_image_sources(fixed.body_html) == [files[0].path]
    assert store.image_state(flaky)["status"] == "ok" and store.image_state(flaky)["attempts"] == 0
    store.save_article("f2", fixed, "hash2", None, "2026-01-02")
    assert store.articles_with_failed_images(max_attempts=8) == []


def test_image_errors_of_every_kind_become_failures(server, store):
    sources = ["http://127.0.0.1:1/refused.jpg", "ftp://x.example/a.jpg", server.url("/gone.png")]
    [(result, files, failures)] = localise(store, [article("https://news.example/e", sources[0], sources[2])])
    assert [f.src for f in failures] == [sources[0], sources[2]]
    assert "[fetch] connection error" in failures[0].reason
    [(result, files, failures)] = localise(store, [article("https://news.example/e2", sources[1])])
    assert (files, failures) == ([], [])  # not an http(s) URL: left as it is
    assert result.images[0].src == sources[1]


def test_article_without_images_is_returned_unchanged(store):
    plain = Article(url="https://news.example/p", title="T", text="x", body_html="<p>x</p>")
    [(result, files, failures)] = localise(store, [plain])
    assert result is plain and files == [] and failures == []
    assert image_sources(plain) == []
