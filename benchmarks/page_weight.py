"""Page weight: what a reader's phone downloads for one mirrored article, against the source page.

    .venv/bin/python benchmarks/page_weight.py                 # mirror the bundled demo site into a temp dir
    .venv/bin/python benchmarks/page_weight.py --mirror DIR    # measure an existing mirror work tree

Per article page (Markdown `pages/*/*.md`, and HTML `site/**/*.html` when the HTML edition exists): the page's
bytes, each local image's bytes, the QR code, and their total; then the source (the original HTML and its images,
fetched in the same run) as the baseline. Images still hot-linked (remote URLs) count 0 local bytes and are
reported. Budgets: page <= 30 KB (for a ~3000-character article), image <= 150 KB.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from lxml import html as lxml_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmirror.config import parse_config  # noqa: E402
from newsmirror.demo.mirror import DEMO_HOST  # noqa: E402
from newsmirror.demo.site import DemoSite, demo_config_text  # noqa: E402
from newsmirror.pipeline import run_once  # noqa: E402

PAGE_BUDGET = 30 * 1024
IMAGE_BUDGET = 150 * 1000  # images.max_bytes
KB = 1024
MD_IMAGE = re.compile(r"!\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>", re.IGNORECASE)
ORIGINAL = re.compile(r"^[^*\n][^\n]*?: <(https?://[^>]+)>\s*$", re.MULTILINE)  # "Original URL: <…>" (not bold)
PIXEL = re.compile(r"\bwidth\s*=\s*[\"']?1[\"'\s>]", re.IGNORECASE)
LAZY = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-original-src", "data-full-src")


@dataclass
class Weight:
    page: str  # path in the mirror
    page_bytes: int
    chars: int  # characters of the page text (a size yardstick: the budget is for ~3000 characters)
    images: list[int] = field(default_factory=list)  # bytes of each local image
    remote_images: int = 0
    qr_bytes: int = 0
    original: str | None = None
    source_bytes: int | None = None  # original HTML + its images

    @property
    def total(self) -> int:
        return self.page_bytes + sum(self.images) + self.qr_bytes

    @property
    def ratio(self) -> float | None:
        return self.total / self.source_bytes if self.source_bytes else None


class Sources:
    """Fetches source pages and images; the demo host is routed to the running demo site."""

    def __init__(self, site: DemoSite):
        self.site = site
        self.client = httpx.Client(timeout=15, follow_redirects=True)
        self.cache: dict[str, bytes | None] = {}

    def get(self, url: str) -> bytes | None:
        if url not in self.cache:
            parts = urlsplit(url)
            target = url
            if parts.hostname == DEMO_HOST:
                target = self.site.base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            try:
                response = self.client.get(target)
                self.cache[url] = response.content if response.status_code == 200 else None
            except httpx.HTTPError:
                self.cache[url] = None
        return self.cache[url]

    def weight(self, url: str) -> int | None:
        """The original page's bytes plus every distinct image it shows (lazy sources included)."""
        body = self.get(url)
        if body is None:
            return None
        tree = lxml_html.fromstring(body)
        found: list[str] = []
        for img in tree.iter("img"):
            for attr in (*LAZY, "src"):
                value = (img.get(attr) or "").strip()
                if value and not value.startswith("data:"):
                    found.append(urljoin(url, value))
        return len(body) + sum(len(self.get(src) or b"") for src in dict.fromkeys(found))


def page_text_chars(text: str) -> int:
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)|[#*_`>|\[\]-]", " ", text)
    return len(re.sub(r"\s+", "", text))


def image_sources(text: str) -> list[str]:
    """Image URLs of a page: Markdown images and <img> tags, without 1x1 counter pixels."""
    found = [m.group(1) for m in MD_IMAGE.finditer(text)]
    found += [m.group(1) for m in HTML_IMAGE.finditer(text) if not PIXEL.search(m.group(0))]
    return list(dict.fromkeys(found))


def measure_page(mirror: Path, path: Path) -> Weight:
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(mirror).as_posix()
    weight = Weight(rel, path.stat().st_size, page_text_chars(text))
    qr = path.with_suffix(".png")
    for src in image_sources(text):
        if src.startswith(("http://", "https://", "//")):
            weight.remote_images += 1
            continue
        local = mirror / posixpath.normpath(posixpath.join(posixpath.dirname(rel), src.split("?")[0]))
        if local == qr:
            weight.qr_bytes = local.stat().st_size
        elif local.is_file():
            weight.images.append(local.stat().st_size)
    originals = ORIGINAL.findall(text)
    weight.original = originals[-1] if originals else None
    return weight


def measure(mirror: Path, sources: Sources) -> dict[str, list[Weight]]:
    editions = {"markdown": [measure_page(mirror, p) for p in sorted(mirror.glob("pages/*/*.md"))]}
    site = mirror / "site"
    if site.is_dir():
        originals = {w.page.removesuffix(".md"): w.original for w in editions["markdown"]}
        pages = [p for p in sorted(site.glob("**/*.html")) if "pages" in p.relative_to(site).parts]
        editions["html"] = []
        for path in pages:
            weight = measure_page(mirror, path)
            weight.original = originals.get(path.relative_to(site).with_suffix("").as_posix(), weight.original)
            editions["html"].append(weight)
    for weights in editions.values():
        for weight in weights:
            if weight.original:
                weight.source_bytes = sources.weight(weight.original)
    return editions


def _stats(values: list[float], unit: str = "KB") -> str:
    if not values:
        return "n/a"
    scale = KB if unit == "KB" else 1
    digits = 1 if unit == "KB" else 2
    median, top = statistics.median(values) / scale, max(values) / scale
    return f"median {median:8.{digits}f} {unit}   max {top:8.{digits}f} {unit}"


def report(editions: dict[str, list[Weight]]) -> None:
    for name, weights in editions.items():
        images = [size for w in weights for size in w.images]
        remote = sum(w.remote_images for w in weights)
        sources = [w.source_bytes for w in weights if w.source_bytes]
        ratios = [w.ratio for w in weights if w.ratio is not None]
        print(f"\n== {name} edition: {len(weights)} article pages, {len(images)} local images, "
              f"{remote} remote (hot-linked) images ==")
        print(f"  article page        {_stats([w.page_bytes for w in weights])}   (budget {PAGE_BUDGET // KB} KB)")
        print(f"  local image         {_stats(images)}   (budget {IMAGE_BUDGET / 1000:.0f} kB)")
        print(f"  QR code             {_stats([w.qr_bytes for w in weights if w.qr_bytes])}")
        print(f"  total page weight   {_stats([w.total for w in weights])}")
        print(f"  baseline: source    {_stats(sources)}   ({len(sources)} of {len(weights)} sources fetched)")
        print(f"  mirror / source     {_stats(ratios, 'x')}")
        if remote:
            print(f"  note: {remote} images are hot-linked (remote URLs, 0 local bytes): images not localised")
        over_page = [w for w in weights if w.page_bytes > PAGE_BUDGET]
        over_image = [w for w in weights if any(size > IMAGE_BUDGET for size in w.images)]
        for w in over_page:
            print(f"  OVER page budget:  {w.page} {w.page_bytes / KB:.1f} KB for {w.chars} characters")
        for w in over_image:
            print(f"  OVER image budget: {w.page} images {[round(s / 1000) for s in w.images if s > IMAGE_BUDGET]} kB")
        if not over_page and not over_image:
            print("  every page and image is within budget")


def build_demo(directory: Path, site: DemoSite) -> Path:
    text = demo_config_text(f"http://{DEMO_HOST}", output="mirror", state="state.db")
    config = parse_config(text, directory / "newsmirror.toml", directory)
    fetch = config.fetch.model_copy(update={"resolve": {DEMO_HOST: site.base_url.removeprefix("http://")}})
    config = config.model_copy(update={"fetch": fetch})
    summary = run_once(config)
    print(f"demo mirror: {summary.new} new, {summary.failed} failed -> {config.output_dir}")
    return config.output_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, help="an existing mirror work tree (default: build the demo)")
    args = parser.parse_args(argv)
    with DemoSite(public_host=DEMO_HOST) as site, tempfile.TemporaryDirectory() as tmp:
        mirror = args.mirror.resolve() if args.mirror else build_demo(Path(tmp), site)
        if not (mirror / "pages").is_dir():
            parser.error(f"{mirror}: no pages/ directory (not a newsmirror work tree)")
        report(measure(mirror, Sources(site)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
