"""Does the HTML edition's search find what readers type? Recall and precision in a real browser, per engine.

    .venv/bin/python benchmarks/search.py                 # demo mirror + 1,000 synthetic Chinese articles
    .venv/bin/python benchmarks/search.py --quick         # demo mirror + 200 synthetic articles, fewer queries

Corpora (`search_corpus.py`, no network): the demo mirror's HTML edition, and a synthetic mirror of Chinese
articles; each in Simplified (`site/`) and in its OpenCC Traditional twin (`site/zh-hant/`).

Engines, each indexing the same pages: Pagefind 1.5.2 as newsmirror configured it before the n-gram terms (the
locked version; today's search.js), Pagefind 1.4.0 (installed into a temporary directory from PyPI at run time,
same command), and newsmirror's index (`newsmirror.editions.search.build_index`: 1.5.2 plus CJK trigram terms,
with the search.js the mirror ships).

Queries, drawn deterministically from the pages' text as Pagefind extracts it (the 1.5.2 fragments, zero-width
segment marks removed): CJK substrings of 2, 3 and 4 characters; whole words (jieba); mixed queries (two words
separated by a space, a Chinese word next to Latin letters or digits); and English words from the demo's pages.
Traditional queries are drawn from the Traditional pages; "cross" asks the Traditional edition in Simplified.
The truth of a query is the set of pages whose text contains it (every space-separated part, case-insensitive; an
English word as a whole word; for "cross", the page whose Simplified twin contains it). Each query runs through
the search page's own JavaScript in headless Chromium (the spelling search.js gives it, then Pagefind's
`search`), and recall and precision are taken over all the results the page counts, averaged over queries
(precision over the queries that found anything).

Also per engine: index size (the bundle without the UI's own files), build time, and for one 3-character query
in a fresh browser (nothing cached): bytes fetched until the first result shows, and the time to it.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_corpus import TRADITIONAL, demo_site, synthetic_site
from search_queries import Query, draw, english, score

from newsmirror.editions.search import PAGES_GLOB, UNUSED, build_index

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
SEARCH_JS = Path(__file__).resolve().parent.parent / "newsmirror" / "templates" / "html" / "search.js"
#: search.js as it was before the n-gram terms (the "today" the issue measures)
TODAY_JS = """window.addEventListener("DOMContentLoaded", function () {
  var here = new URL(".", window.location.href).pathname;
  var ui = new PagefindUI({element: "#search", baseUrl: here, bundlePath: here + "pagefind/", showImages: false,
                           showSubResults: false});
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) ui.triggerSearch(query);
});
"""
UI_FILES = {"pagefind-ui.css", "pagefind-ui.js", "pagefind-worker.js", "pagefind.js"}


@dataclass
class Engine:
    name: str
    pagefind: list[str] | None  # the command (None: newsmirror's build_index)
    script: str  # the search.js the pages get
    built: dict[str, float] = field(default_factory=dict)  # edition dir -> build seconds
    cpu: dict[str, float] = field(default_factory=dict)  # edition dir -> build CPU seconds (ours + Pagefind's)


def pagefind_140(workdir: Path) -> list[str]:
    """Pagefind 1.4.0's extended binary from PyPI, installed into `workdir` (pip's cache makes reruns offline)."""
    target = workdir / "pagefind-1.4.0"
    binary = target / "pagefind_bin_extended" / "pagefind_extended"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                        "pagefind-bin-extended==1.4.0"], check=True)
    return [str(binary)]


def build(engine: Engine, site: Path, out: Path) -> None:
    """One engine's copy of the site's search pages and index, for both editions, under `out`."""
    for edition in ("", TRADITIONAL):
        root, dest = site / edition, out / edition
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "search.html", dest / "search.html")
        started, cpu = time.perf_counter(), _cpu()
        if engine.pagefind is None:
            build_index(root, dest / "pagefind", "zh")
        else:
            subprocess.run(engine.pagefind + ["--site", str(root), "--glob", PAGES_GLOB, "--output-path",
                                              str(dest / "pagefind"), "--force-language", "zh", "--silent"],
                           check=True, capture_output=True)
            for name in UNUSED:  # as the mirror does
                (dest / "pagefind" / name).unlink(missing_ok=True)
        engine.built[edition] = time.perf_counter() - started
        engine.cpu[edition] = _cpu() - cpu
    (out / "search.js").write_text(engine.script, "utf-8")


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def fragments(bundle: Path) -> dict[str, tuple[str, str]]:
    """Pagefind result id -> (page URL, page text) from a bundle's fragments."""
    out = {}
    for path in sorted((bundle / "fragment").iterdir()):
        data = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])
        out[path.stem] = (data["url"].split("/pages/", 1)[1], data["content"].replace("\u200b", ""))
    return out


def index_bytes(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and p.name not in UI_FILES)


RUN_QUERIES = """async ([bundle, queries]) => {
  const spell = window.newsmirrorSearch ? window.newsmirrorSearch.spell : async (q) => q;
  const pagefind = await import(bundle + "pagefind.js");
  await pagefind.options({});
  const out = [];
  for (const query of queries) {
    const found = await pagefind.search(await spell(query));
    out.push(found ? found.results.map((r) => r.id) : []);
  }
  return out;
}"""


class Server:
    def __init__(self, root: Path):
        handler = functools.partial(_Quiet, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def first_query(browser, url: str) -> tuple[int, float]:
    """Bytes fetched and seconds until the first result shows, in a fresh context (nothing cached)."""
    context = browser.new_context()
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".pagefind-ui__result-link", timeout=30000)
    elapsed = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    total = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in requests)
    context.close()
    return total, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 synthetic articles and 40 queries per kind")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100, help="queries per kind (length, words) per script")
    parser.add_argument("--workdir", type=Path, help="keep corpora and installs here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--misses", action="store_true", help="list the queries newsmirror's index gets wrong")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.queries = 200, 40
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsmirror-search-"))
    workdir.mkdir(parents=True, exist_ok=True)
    demo = demo_site(workdir)
    corpora = {"demo": demo, f"synthetic-{args.articles}": synthetic_site(demo, workdir, args.articles)}
    engines = [Engine("pagefind 1.5.2 (before)", [sys.executable, "-m", "pagefind"], TODAY_JS),
               Engine("pagefind 1.4.0", pagefind_140(workdir), TODAY_JS),
               Engine("newsmirror n-grams (1.5.2)", None, SEARCH_JS.read_text("utf-8"))]
    results = []
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for corpus, site in corpora.items():
            serve_root = workdir / "serve" / corpus
            shutil.rmtree(serve_root, ignore_errors=True)
            for number, engine in enumerate(engines):
                build(engine, site, serve_root / str(number))
            truth_ids = {ed: fragments(serve_root / "0" / ed / "pagefind") for ed in ("", TRADITIONAL)}
            texts = {ed: {url: text for url, text in ids.values()} for ed, ids in truth_ids.items()}
            rng = random.Random(18)
            simplified = draw(texts[""], args.queries, rng)
            traditional = draw(texts[TRADITIONAL], args.queries, random.Random(19))
            cross = [Query("cross", q.text, q.truth) for q in simplified if q.kind in ("2", "3", "4", "word")]
            latin = english(texts[""], args.queries // 2, random.Random(20)) if corpus == "demo" else []
            server = Server(serve_root)
            sample = next(q.text for q in simplified if q.kind == "3")
            for number, engine in enumerate(engines):
                page = browser.new_page()
                row = {"corpus": corpus, "engine": engine.name, "build_s": sum(engine.built.values()),
                       "build_cpu_s": sum(engine.cpu.values())}
                for edition, queries in (("", simplified + latin), (TRADITIONAL, traditional + cross)):
                    base = f"{server.origin}/{number}/{edition + '/' if edition else ''}"
                    page.goto(base + "search.html")
                    ids = fragments(serve_root / str(number) / edition / "pagefind")
                    started = time.perf_counter()
                    answers = page.evaluate(RUN_QUERIES, [base + "pagefind/", [q.text for q in queries]])
                    row[f"query_ms[{edition or 'zh-hans'}]"] = 1000 * (time.perf_counter() - started) / len(queries)
                    misses = [] if args.misses and engine.pagefind is None else None
                    row[edition or "zh-hans"] = score(queries, answers, ids, misses)
                    for line in misses or []:
                        print(f"  {corpus} {edition or 'zh-hans'} {line}", file=sys.stderr)
                    bundle = serve_root / str(number) / edition / "pagefind"
                    row[f"index_bytes[{edition or 'zh-hans'}]"] = index_bytes(bundle)
                page.close()
                row["first_query"] = sample
                row["first_bytes"], row["first_s"] = first_query(
                    browser, f"{server.origin}/{number}/search.html?q={urllib.parse.quote(sample)}")
                results.append(row)
                print_row(row)
            server.httpd.shutdown()
        browser.close()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    return 0


def print_row(row: dict) -> None:
    print(f"# {row['corpus']} · {row['engine']}: built in {row['build_s']:.1f} s ({row['build_cpu_s']:.1f} s CPU)",
          file=sys.stderr)


def print_table(results: list[dict]) -> None:
    kinds = ("2", "3", "4", "word", "mixed")
    print("| corpus | engine | script | " + " | ".join(f"{k} R / P" for k in kinds) + " |")
    print("|---|---|---|" + "---|" * len(kinds))
    for row in results:
        for script, key in (("Simplified", "zh-hans"), ("Traditional", TRADITIONAL)):
            cells = [f"{row[key][k]['recall']:.2f} / {row[key][k]['precision']:.2f}" if k in row[key] else "-"
                     for k in kinds]
            print(f"| {row['corpus']} | {row['engine']} | {script} | " + " | ".join(cells) + " |")
    print()
    print("| corpus | engine | cross: Simplified query, Traditional edition R / P | English R / P | index bytes "
          "(Simplified + Traditional) | build s (CPU s) | first query: bytes, time to first result |")
    print("|---|---|---|---|---|---|---|")
    for row in results:
        cross = row[TRADITIONAL].get("cross")
        latin = row["zh-hans"].get("english")
        size = row["index_bytes[zh-hans]"] + row[f"index_bytes[{TRADITIONAL}]"]
        print(f"| {row['corpus']} | {row['engine']} | "
              f"{cross['recall']:.2f} / {cross['precision']:.2f} | "
              f"{(format(latin['recall'], '.2f') + ' / ' + format(latin['precision'], '.2f')) if latin else '-'} | "
              f"{size:,} | {row['build_s']:.1f} ({row['build_cpu_s']:.1f}) | {row['first_bytes']:,} B, "
              f"{row['first_s'] * 1000:.0f} ms (「{row['first_query']}」) |")
    print()
    print("query counts per kind:", {k: v["n"] for k, v in results[-1]["zh-hans"].items()},
          {k: v["n"] for k, v in results[-1][TRADITIONAL].items()})


if __name__ == "__main__":
    sys.exit(main())
