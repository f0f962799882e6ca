"""Article page sizes against a throttle that stalls each connection after 16 KB (docs/operations.md#text-before-the-throttle).

    .venv/bin/python benchmarks/throttle_sizes.py                  # demo mirror + 2,000 synthetic articles
    .venv/bin/python benchmarks/throttle_sizes.py --mirror DIR     # an existing mirror's HTML article pages too

Prints the distribution of gzip-compressed (level 6, as static hosts serve) HTML edition article pages: on the demo
mirror (built in a temp dir), on 2,000 synthetic articles rendered from benchmarks/synthetic_site.py's generator
(1,500-6,000 characters, every 5th in Chinese, 1-3 photos with captions), and the longest article that still fits
the 14 KB target, for English and Chinese prose, estimated from the demo's own paragraphs (each once: the
synthetic site's small vocabulary and repeated text both compress unrealistically well).
"""

from __future__ import annotations

import argparse
import gzip
from html import escape
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmirror.config import parse_config  # noqa: E402
from newsmirror.demo import content as demo_content  # noqa: E402
from newsmirror.demo.mirror import DEMO_HOST  # noqa: E402
from newsmirror.demo.site import DemoSite, demo_config_text  # noqa: E402
from newsmirror.editions.html import render_site  # noqa: E402
from newsmirror.pipeline import run_once  # noqa: E402
from newsmirror.progress import QUIET, Reporter  # noqa: E402
from newsmirror.records import Article, ArticleState, ImageRef  # noqa: E402
from synthetic_site import Content, article_id  # noqa: E402

TARGET = 14 * 1024


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 6))


def summary(name: str, sizes: list[int]) -> str:
    sizes = sorted(sizes)
    pct = [sizes[min(len(sizes) - 1, int(len(sizes) * q))] for q in (0.5, 0.9, 0.99)]
    over = sum(1 for s in sizes if s > TARGET)
    return (f"{name}: {len(sizes)} pages, gzip min {sizes[0]:,} B, median {pct[0]:,}, p90 {pct[1]:,}, "
            f"p99 {pct[2]:,}, max {sizes[-1]:,}; over 14 KB: {over}")


def mirror_pages(root: Path) -> list[int]:
    return [gz(p.read_bytes()) for p in sorted(root.rglob("pages/*/*.html"))]


def demo_mirror(directory: Path) -> Path:
    with DemoSite(public_host=DEMO_HOST) as site:
        text = demo_config_text(f"http://{DEMO_HOST}", output="mirror", state="state.db")
        address = site.base_url.removeprefix("http://")
        text = text.replace("[fetch]\n", f'[fetch]\nresolve = {{ "{DEMO_HOST}" = "{address}" }}\n', 1)
        config = parse_config(text, directory / "newsmirror.toml", directory)
        run_once(config, Reporter(QUIET))
    return config.output_dir


def _config(directory: Path):
    text = demo_config_text("http://news.example", output="mirror", state="state.db")
    config = parse_config(text, directory / "newsmirror.toml", directory)
    mirror = config.mirror.model_copy(update={"public_base_urls": ["https://a.example/mirror/", "https://b.example/"]})
    return config.model_copy(update={"mirror": mirror})


def _state(index: int, channel: str, title: str) -> ArticleState:
    return ArticleState(id=article_id(index), url=f"https://news.example/articles/{article_id(index)}.html",
                        channel=channel, channels=(channel,), title=title, published="2026-06-01T12:00:00+00:00",
                        status="ok", attempts=0, next_retry=None, source_version=None, content_hash="x",
                        first_seen="2026-06-01T12:00:00+00:00")


def _body(paragraphs: list[str], captions: list[str]) -> str:
    out = []
    for n, text in enumerate(paragraphs):
        out.append(f"<p>{text}</p>")
        if n < len(captions):
            out.append(f'<figure><img src="assets/{n:02x}/{n:016x}.webp" alt="Photo {n + 1}">'
                       f"<figcaption>{captions[n]}</figcaption></figure>")
    return "".join(out)


def render_page(config, state: ArticleState, paragraphs: list[str], captions: list[str], language: str) -> bytes:
    body = _body(paragraphs, captions)
    article = Article(url=state.url, title=state.title or "", text="\n\n".join(paragraphs), body_html=body,
                      published=state.published, author="Staff Reporter", language=language)
    page = f"site/pages/{state.channel}/{state.id}.html"
    files = render_site(config, [(state, article)], {}, [], {})
    return next(f.content for f in files if f.path == page)


def synthetic(config, count: int) -> list[int]:
    content = Content(count)
    sizes = []
    for index in range(count):
        captions = [f"Photo {k + 1}: a scene from story {index}." for k in range(len(content.images(index)))]
        state = _state(index, content.channel(index), content.title(index))
        sizes.append(gz(render_page(config, state, content.paragraphs(index), captions,
                                    "zh" if content.chinese(index) else "en")))
    return sizes


def longest_fitting(config, language: str) -> tuple[int, int, int, float]:
    """The longest article of demo-like prose in `language` whose page stays under 14 KB gzip, estimated from the
    demo's own paragraphs, each used once (repeating text would flatter gzip): the page's fixed cost (an empty
    article), the compressed bytes per character of running text, and the characters that fit.
    Returns (characters that fit, characters measured, fixed bytes, bytes per character)."""
    paragraphs = [escape(demo_content.LINK.sub(r"\1", block[1]).replace("**", ""))
                  for article in demo_content.load_articles().values() if article.lang == language
                  for block in article.body if block[0] == "p"]
    state = _state(0, "city", "A long article")
    fixed = gz(render_page(config, state, [], [], language))
    whole = gz(render_page(config, state, paragraphs, [], language))
    chars = sum(len(p) for p in paragraphs)
    rate = (whole - fixed) / chars
    return int((TARGET - fixed) / rate), chars, fixed, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, help="also measure this mirror's HTML article pages")
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        print(summary("demo", mirror_pages(demo_mirror(directory / "demo"))))
        config = _config(directory / "synthetic")
        print(summary(f"synthetic ({args.articles})", synthetic(config, args.articles)))
        for language in ("en", "zh"):
            fits, measured, fixed, rate = longest_fitting(config, language)
            print(f"{language}: a page costs {fixed:,} B gzip without text, then {rate:.3f} B per character of text "
                  f"(measured on {measured:,} characters of distinct demo prose): about {fits:,} characters fit "
                  "in 14 KB")
    if args.mirror:
        print(summary(str(args.mirror), mirror_pages(args.mirror)))


if __name__ == "__main__":
    main()
