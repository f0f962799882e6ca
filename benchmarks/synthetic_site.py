"""A synthetic news site for the scale benchmarks, served on 127.0.0.1 (generated, nothing downloaded).

    .venv/bin/python benchmarks/synthetic_site.py --articles 2000 --port 8099   # serve until Ctrl-C

    with SiteProcess(articles=2000) as site:     # the same server in a child process (it never takes our GIL)
        site.base_url                            # "http://127.0.0.1:PORT"

N articles (default 2,000) over six channels, newest first, ids `a000001`...: each channel has an RSS feed
(`/feeds/<channel>.rss`) and a listing page (`/<channel>/`). Every 10th article is also announced by the next
channel's feed (a duplicate across channels). Articles have 1,500-6,000 characters of body text (every 5th in
Chinese), 1-3 photos, and boilerplate around the body (navigation, a cookie notice, "most read", related links,
footer). Photos are 1600x1000 JPEGs of a few hundred KB: a pool of `POOL` distinct generated pictures; each image
URL serves its pool picture with the URL written into a JPEG comment, so every URL has its own bytes (and costs a
full decode) while the recompressed outputs of one pool picture are identical (content-addressed duplicates).
Pages and feeds send ETag and answer conditional requests with 304. `--feed-size N` lists only the newest N per
feed and listing; `--hidden N` holds the newest N articles back until `GET /_control/reveal` (incremental.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import subprocess
import sys
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHANNELS = ("world", "business", "tech", "culture", "science", "city")
POOL = 24  # distinct photos
PHOTO_SIZE = (1600, 1000)
START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
WORDS = ("harbour council report river market school budget energy museum station festival bridge research data "
         "weather coast farmers transport library housing hospital league season archive policy water forest city "
         "northern district engineers residents volunteers minister survey quarterly growth community evening "
         "morning officials measured announced expected according several hundred thousand since earlier").split()
HANZI = ("港口 议会 报告 河流 市场 学校 预算 能源 博物馆 车站 节日 桥梁 研究 数据 天气 海岸 农民 交通 图书馆 住房 医院 "
         "联赛 季节 档案 政策 水资源 森林 城市 北部 地区 工程师 居民 志愿者 部长 调查 季度 增长 社区 傍晚 早晨 官员 "
         "宣布 预计 根据 数百 数千 以来 此前 今年 去年 发展 计划 项目 服务 公共 安全 环境").split()


def article_id(index: int) -> str:
    return f"a{index:06d}"


class Content:
    """Deterministic pages and images of the synthetic site (seeded by the article index)."""

    def __init__(self, articles: int = 2000, feed_size: int | None = None, hidden: int = 0):
        self.count = articles
        self.feed_size = feed_size  # entries per feed and listing (None: every article)
        self.hidden = hidden  # the newest `hidden` articles are announced only after /_control/reveal

    def channel(self, index: int) -> str:
        return CHANNELS[index % len(CHANNELS)]

    def channels(self, index: int) -> tuple[str, ...]:
        first = self.channel(index)
        return (first, CHANNELS[(index + 1) % len(CHANNELS)]) if index % 10 == 0 else (first,)

    def published(self, index: int) -> datetime:
        return START - timedelta(minutes=37 * index)  # index 0 is the newest

    def chinese(self, index: int) -> bool:
        return index % 5 == 4

    def title(self, index: int) -> str:
        rng = random.Random(index)
        if self.chinese(index):
            return "".join(rng.choice(HANZI) for _ in range(6)) + f"（{index}）"
        return " ".join(rng.choice(WORDS) for _ in range(6)).capitalize() + f" ({index})"

    def images(self, index: int) -> list[str]:
        return [f"/images/{article_id(index)}-{k}.jpg" for k in range(1 + index % 3)]

    def paragraphs(self, index: int) -> list[str]:
        rng = random.Random(index * 7919)
        target = rng.randint(1500, 6000)
        out, size = [], 0
        while size < target:
            if self.chinese(index):
                sentences = ["".join(rng.choice(HANZI) for _ in range(rng.randint(8, 18))) + "。"
                             for _ in range(rng.randint(4, 8))]
                text = "".join(sentences)
            else:
                sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
                             for _ in range(rng.randint(3, 6))]
                text = " ".join(sentences)
            out.append(text)
            size += len(text)
        return out

    def listed(self, channel: str) -> list[int]:
        """Article indexes a channel's feed and listing announce, newest first."""
        found = [i for i in range(self.hidden, self.count) if channel in self.channels(i)]
        return found[: self.feed_size] if self.feed_size else found

    # -- HTML ---------------------------------------------------------------------------------------------

    def article_page(self, index: int, base: str) -> str:
        title = escape(self.title(index))
        lang = "zh-CN" if self.chinese(index) else "en"
        paras = self.paragraphs(index)
        figures = [
            f'<figure><img src="{base}{src}" alt="Photo {k + 1} for story {index}" width="1600" height="1000">'
            f"<figcaption>Photo {k + 1}: a scene from story {index}.</figcaption></figure>"
            for k, src in enumerate(self.images(index))
        ]
        body = []
        for n, para in enumerate(paras):
            body.append(f"<p>{escape(para)}</p>")
            if n < len(figures):
                body.append(figures[n])
        related = "".join(f'<li><a href="{base}/articles/{article_id(j)}.html">{escape(self.title(j))}</a></li>'
                          for j in ((index + d) % self.count for d in (3, 11, 29)))
        nav = "".join(f'<a href="{base}/{c}/">{c.title()}</a>' for c in CHANNELS)
        published = self.published(index).isoformat()
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Synthetic Daily</title>'
            f'<link rel="canonical" href="{base}/articles/{article_id(index)}.html">'
            f'<meta property="og:title" content="{title}"><meta property="article:published_time" '
            f'content="{published}"><meta name="author" content="Staff Reporter {index % 17}">'
            f'<link rel="stylesheet" href="/static/site.css"></head><body>'
            f'<header class="site-header"><a class="logo" href="{base}/">Synthetic Daily</a><nav>{nav}</nav>'
            f'<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div></header>'
            f'<main><article><h1>{title}</h1><p class="byline">By <span class="author">Staff Reporter {index % 17}'
            f'</span> · <time datetime="{published}">{published[:10]}</time></p>'
            f'<div class="article-body">{"".join(body)}</div>'
            f'<div class="share">Share this story: Facebook Twitter Email</div></article>'
            f'<aside class="related"><h2>Related</h2><ul>{related}</ul></aside>'
            f'<aside class="most-read"><h2>Most read</h2><ol>{related}</ol></aside></main>'
            f'<footer><p>© 2026 Synthetic Daily. All rights reserved. Terms · Privacy · Contact · Advertise</p>'
            f"<p>Subscribe to our newsletter for the day's top stories.</p></footer></body></html>"
        )

    def feed(self, channel: str, base: str) -> str:
        items = []
        for i in self.listed(channel):
            url = f"{base}/articles/{article_id(i)}.html"
            items.append(f"<item><title>{escape(self.title(i))}</title><link>{url}</link><guid>{url}</guid>"
                         f"<pubDate>{format_datetime(self.published(i))}</pubDate></item>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                f"<title>Synthetic Daily: {channel}</title><link>{base}/{channel}/</link>"
                f"<description>{channel}</description>\n" + "\n".join(items) + "\n</channel></rss>\n")

    def listing(self, channel: str, base: str) -> str:
        links = "".join(f'<li><a class="story" href="{base}/articles/{article_id(i)}.html">{escape(self.title(i))}'
                        f"</a></li>" for i in self.listed(channel))
        return (f'<!doctype html><html><head><meta charset="utf-8"><title>{channel}</title></head><body>'
                f'<nav><a href="{base}/">Home</a></nav><ul class="stories">{links}</ul></body></html>')

    # -- images -------------------------------------------------------------------------------------------

    def image(self, name: str) -> bytes | None:
        """`a000012-1.jpg` -> its pool photo with the name in a JPEG comment; None for an unknown name."""
        stem = name.removesuffix(".jpg")
        ident, _, k = stem.partition("-")
        if not (ident.startswith("a") and ident[1:].isdigit() and k.isdigit()):
            return None
        index = int(ident[1:])
        if index >= self.count or int(k) >= 1 + index % 3:
            return None
        photo = pool_photo((index * 3 + int(k)) % POOL)
        comment = name.encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return photo[:2] + segment + photo[2:]

    def image_names(self) -> list[str]:
        return [src.rsplit("/", 1)[1] for i in range(self.count) for src in self.images(i)]

    def pool_index(self, name: str) -> int:
        ident, _, k = name.removesuffix(".jpg").partition("-")
        return (int(ident[1:]) * 3 + int(k)) % POOL


@lru_cache(maxsize=POOL)
def pool_photo(number: int) -> bytes:
    """A 1600x1000 "photo": sky gradient, sun, ridges and buildings, with sensor-like noise (a few hundred KB)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(number)
    width, height = PHOTO_SIZE
    top, bottom = tuple(rng.randint(120, 230) for _ in range(3)), tuple(rng.randint(10, 120) for _ in range(3))
    mask = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), mask)
    draw = ImageDraw.Draw(img)
    sx, sy, r = rng.randint(100, width - 100), rng.randint(60, 300), rng.randint(30, 90)
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(250, 230, rng.randint(120, 200)))
    for layer in range(4):
        base_y = height // 2 + layer * 70
        ridge = [(x, base_y + rng.randint(-90, 60)) for x in range(0, width + 80, 80)]
        draw.polygon([(0, height), *ridge, (width, height)],
                     fill=tuple(rng.randint(20 + layer * 25, 90 + layer * 35) for _ in range(3)))
    x = rng.randint(0, 120)
    while x < width:
        w, h = rng.randint(25, 90), rng.randint(60, 420)
        draw.rectangle((x, height - h, x + w, height), fill=tuple(rng.randint(15, 110) for _ in range(3)))
        for wy in range(height - h + 10, height - 10, 18):  # lit windows
            if rng.random() < 0.5:
                draw.rectangle((x + 5, wy, x + 11, wy + 8), fill=(240, 220, 150))
        x += w + rng.randint(4, 60)
    noise = Image.effect_noise((width, height), 22).convert("RGB")
    img = ImageChops.add(img, noise, scale=1.0, offset=-110).filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


# -- serving ------------------------------------------------------------------------------------------------


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def make_handler(content: Content, public: str | None = None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            base = public or f"http://{self.headers.get('Host', '127.0.0.1')}"
            path = self.path.split("?", 1)[0]
            status, ctype, body = 404, "text/plain", b"not found"
            if path.startswith("/articles/") and path.endswith(".html"):
                ident = path[len("/articles/"):-len(".html")]
                if ident.startswith("a") and ident[1:].isdigit() and int(ident[1:]) < content.count:
                    status, ctype = 200, "text/html; charset=utf-8"
                    body = _page(content, int(ident[1:]), base)
            elif path.startswith("/feeds/") and path.endswith(".rss") and path[7:-4] in CHANNELS:
                status, ctype, body = 200, "application/rss+xml", _feed(content, path[7:-4], base)
            elif path.strip("/") in CHANNELS:
                status, ctype = 200, "text/html; charset=utf-8"
                body = content.listing(path.strip("/"), base).encode()
            elif path.startswith("/images/"):
                data = content.image(path[len("/images/"):])
                if data is not None:
                    status, ctype, body = 200, "image/jpeg", data
            elif path == "/_control/reveal":  # announce the held-back newest articles from now on
                content.hidden = 0
                _feed.cache_clear()
                status, ctype, body = 200, "text/plain", b"revealed"
            elif path == "/static/site.css":
                status, ctype, body = 200, "text/css", b"body{font-family:sans-serif}"
            etag = _etag(body) if status == 200 else None
            if etag and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            self.send_response(status)
            if status != 304:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@lru_cache(maxsize=256)
def _page(content: Content, index: int, base: str) -> bytes:
    return content.article_page(index, base).encode("utf-8")


@lru_cache(maxsize=len(CHANNELS) * 2)
def _feed(content: Content, channel: str, base: str) -> bytes:
    return content.feed(channel, base).encode("utf-8")


def serve(articles: int, port: int = 0, feed_size: int | None = None, hidden: int = 0) -> None:
    content = Content(articles, feed_size, hidden)
    for number in range(POOL):  # draw the photos before answering anything
        pool_photo(number)
    server = _Server(("127.0.0.1", port), make_handler(content))
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.1)


class SiteProcess:
    """The synthetic site served by a child Python process; stopped on exit."""

    def __init__(self, articles: int = 2000, feed_size: int | None = None, hidden: int = 0):
        self.articles, self.feed_size, self.hidden = articles, feed_size, hidden
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> "SiteProcess":
        command = [sys.executable, str(Path(__file__).resolve()), "--articles", str(self.articles),
                   "--hidden", str(self.hidden)] + (["--feed-size", str(self.feed_size)] if self.feed_size else [])
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.process.kill()
            raise RuntimeError("synthetic site did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def config_text(base_url: str, articles: int, *, output: str = "mirror", state: str = "mirror.db",
                executor_note: str = "") -> str:
    """A newsmirror config for the site: one feed per channel plus the listing page of the first channel."""
    sources = "".join(
        f'[[sources]]\nname = "{c}"\nkind = "feed"\nchannel = "{c}"\nurl = "{base_url}/feeds/{c}.rss"\n'
        f'id_pattern = "/articles/(a\\\\d+)\\\\.html"\nmax_items = {articles}\n\n' for c in CHANNELS)
    sources += (f'[[sources]]\nname = "{CHANNELS[0]}-listing"\nkind = "listing"\nchannel = "{CHANNELS[0]}"\n'
                f'url = "{base_url}/{CHANNELS[0]}/"\nlink_selector = "a.story"\n'
                f'id_pattern = "/articles/(a\\\\d+)\\\\.html"\nmax_items = {articles}\n\n')
    return (f'# synthetic site benchmark{executor_note}\n[mirror]\ntitle = "Synthetic mirror"\nlanguage = "en"\n'
            f'output = "{output}"\nstate = "{state}"\npublic_urls = ["https://git.example.org/bench/mirror/"]\n\n'
            "[fetch]\nper_host_concurrency = 4\nretries = 1\nbackoff = 0.1\n\n" + sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--feed-size", type=int, default=None, help="entries per feed and listing (default: all)")
    parser.add_argument("--hidden", type=int, default=0, help="hold back the newest N until GET /_control/reveal")
    args = parser.parse_args()
    try:
        serve(args.articles, args.port, args.feed_size, args.hidden)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
