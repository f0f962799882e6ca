"""Mirrors to measure search on, built without network: the demo mirror, and a synthetic Chinese one made from it.

    site = demo_site(workdir)                       # `newsmirror demo` into workdir/demo, fixed clock: its site/
    site = synthetic_site(demo, workdir, 1000)       # 1,000 Chinese articles + their OpenCC Traditional twins

The synthetic articles are the demo's Chinese sentences recombined, with nouns swapped for others from jieba's
dictionary (so the text has realistic grammar and a news-sized vocabulary, not 17 articles' worth), some numbers
written in digits and some Latin words (AI, 5G, App) next to Chinese ones. Every page is one of the demo's article
pages with its headline and text replaced, so the markup Pagefind reads is the real template's; the Traditional
edition converts the same text with the mirror's OpenCC profile (s2t). Deterministic: seeded by article number.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

DEMO_NOW = "2026-03-02T09:00:00+00:00"
TRADITIONAL = "zh-hant"
SENTENCE = re.compile(r"[^。！？]+[。！？]”?")
LATIN = ("AI", "5G", "App", "GPS", "LED", "CEO", "USB", "Wi-Fi", "3D", "VR")
NOUN_TAGS = {"n", "ns", "nz", "vn", "nt"}


def demo_site(workdir: Path) -> Path:
    """Mirror the bundled demo site into `workdir/demo` (once) and return its HTML edition."""
    mirror = workdir / "demo"
    if not (mirror / "site" / "search.html").is_file():
        env = {**os.environ, "NEWSMIRROR_NOW": DEMO_NOW}
        subprocess.run([sys.executable, "-m", "newsmirror", "demo", "--quiet", "--dir", str(mirror)], env=env,
                       check=True, cwd=workdir)
    return mirror / "site"


def _chinese_pages(site: Path) -> list[Path]:
    pages = []
    for page in sorted(site.glob("pages/*/*.html")):
        html = page.read_text("utf-8")
        body = html[html.find("<article"):html.find("</article>")]
        if len(re.findall(r"[\u4e00-\u9fff]", body)) > 200:
            pages.append(page)
    return pages


def _sentences(pages: list[Path]) -> list[str]:
    out: list[str] = []
    for page in pages:
        html = page.read_text("utf-8")
        for paragraph in re.findall(r"<p>(.*?)</p>", html, re.DOTALL):
            text = re.sub(r"<[^>]+>", "", paragraph)
            out.extend(s.strip() for s in SENTENCE.findall(text) if len(s.strip()) >= 8)
    return sorted(set(out))


def _nouns() -> list[str]:
    import jieba

    dictionary = Path(jieba.__file__).parent / "dict.txt"
    rows = []
    for line in dictionary.read_text("utf-8").splitlines():
        word, freq, tag = line.split(" ")
        if tag in NOUN_TAGS and 2 <= len(word) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", word):
            rows.append((int(freq), word))
    rows.sort(reverse=True)
    return [word for _, word in rows[:20000]]


class Writer:
    """Recombines the demo's sentences into articles (seeded per article)."""

    def __init__(self, sentences: list[str], nouns: list[str]):
        import jieba.posseg

        self.nouns = nouns
        self.tagged = [[(p.word, p.flag) for p in jieba.posseg.cut(s)] for s in sentences]

    def sentence(self, rng: random.Random) -> str:
        out = []
        for word, flag in rng.choice(self.tagged):
            if flag in NOUN_TAGS and len(word) >= 2 and rng.random() < 0.5:
                word = rng.choice(self.nouns)
                if rng.random() < 0.05:
                    word = rng.choice(LATIN) + word
            elif flag == "m" and rng.random() < 0.3:
                word = str(rng.randint(2, 2030))
            out.append(word)
        return "".join(out)

    def article(self, index: int) -> tuple[str, list[str]]:
        rng = random.Random(index)
        title = self.sentence(rng).rstrip("。！？”")[:28]
        paragraphs = ["".join(self.sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(4, 9))]
        return title, paragraphs


def _page(template: str, title: str, paragraphs: list[str]) -> str:
    """The template page (one of the demo's article pages) with this headline and text."""
    head, rest = template.split("<article data-pagefind-body>", 1)
    _, tail = rest.split("</article>", 1)
    head = re.sub(r"<title>.*?( · [^<]*)</title>", lambda m: f"<title>{escape(title)}{m.group(1)}</title>", head)
    body = "".join(f"<p>{escape(p)}</p>\n" for p in paragraphs)
    return f'{head}<article data-pagefind-body>\n<h1>{escape(title)}</h1>\n{body}</article>{tail}'


def synthetic_site(demo: Path, workdir: Path, articles: int = 1000) -> Path:
    """A site of `articles` Chinese article pages (and their Traditional twins) with the demo's search pages."""
    import opencc

    site = workdir / f"synthetic-{articles}"
    if (site / "search.html").is_file():
        return site
    shutil.rmtree(site, ignore_errors=True)
    pages = _chinese_pages(demo)
    writer = Writer(_sentences(pages), _nouns())
    to_traditional = opencc.OpenCC("s2t.json")
    templates = [(p.read_text("utf-8"), (demo / TRADITIONAL / p.relative_to(demo)).read_text("utf-8")) for p in pages]
    for index in range(articles):
        title, paragraphs = writer.article(index)
        simplified, traditional = templates[index % len(templates)]
        relative = Path("pages") / f"c{index % 6}" / f"s{index:05d}.html"
        for root, template, convert in ((site, simplified, str), (site / TRADITIONAL, traditional,
                                                                   to_traditional.convert)):
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_page(template, convert(title), [convert(p) for p in paragraphs]), "utf-8")
    for name in ("search.html", f"{TRADITIONAL}/search.html"):
        shutil.copy(demo / name, site / name)
    return site
