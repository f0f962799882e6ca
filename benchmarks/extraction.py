"""Article-body extraction benchmark: newsmirror vs bare trafilatura, same pages, same process, one row per data set.

    .venv/bin/python benchmarks/extraction.py [DATA ...] [--limit N] [--jobs N] [--dump FILE] [--ablate [NAME ...]]

DATA are benchmark directories in the layout of ../shared/bench/aeb (html/<key>.html.gz, ground-truth.json);
default: ../shared/bench/aeb ../shared/bench/wceb. A directory with a dataset_map.json is split into one data set
per source dataset. newsmirror runs as `newsmirror extract` does (read_page_file + extract_article, the page URL
from the ground truth, else the file's URI); trafilatura as `trafilatura.extract(html_bytes)` with default
settings. Both timings include reading and gunzipping the file; the two extractors alternate which goes first on
each page; with --jobs N the pages are spread over N processes, each running both extractors on its pages, so
both get the same treatment. Times are the process's CPU time (time.process_time), not wall-clock: on a shared
machine a wall-clock second also holds other processes' work, and one preempted large page would swing a column.
pages/s is pages / summed CPU time, i.e. per core. A page on which newsmirror raises anything but ExtractError
is a crash, listed at the end.

--ablate runs newsmirror again once per heuristic (all of them, or those named) with that heuristic switched off
(ExtractOptions.disabled) and reports, per data set, on how many pages it fired in the full run and the F1 change
when it is off (F1 with it minus F1 without it: positive means the heuristic pays). Scores use newsmirror.extract.metric
(see ../shared/bench/README.md); the macro average weighs every data set the same.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsmirror.extract.heuristics import HEURISTICS, ExtractTrace  # noqa: E402
from newsmirror.extract.metric import page_counts, score  # noqa: E402
from newsmirror.extract.page import ExtractOptions, extract_article, read_page_file  # noqa: E402
from newsmirror.errors import ExtractError  # noqa: E402

DEFAULT_DATA = ("../shared/bench/aeb", "../shared/bench/wceb")
EXTRACTORS = ("newsmirror", "trafilatura")


@dataclass(frozen=True)
class Page:
    dataset: str
    key: str
    path: str
    url: str
    truth: str
    index: int


def load_pages(dirs: list[str], limit: int | None) -> list[Page]:
    pages: list[Page] = []
    for directory in map(Path, dirs):
        truth = json.loads((directory / "ground-truth.json").read_text(encoding="utf-8"))
        mapping_file = directory / "dataset_map.json"
        mapping = json.loads(mapping_file.read_text(encoding="utf-8")) if mapping_file.exists() else {}
        for key in sorted(truth)[:limit]:
            path = directory / "html" / f"{key}.html.gz"
            url = truth[key].get("url") or path.resolve().as_uri()
            dataset = mapping.get(key, directory.name)
            pages.append(Page(dataset, key, str(path), url, truth[key]["articleBody"], len(pages)))
    return pages


def run_newsmirror(page: Page, options: ExtractOptions | None = None, trace: ExtractTrace | None = None) -> str:
    try:
        return extract_article(read_page_file(page.path), page.url, options=options, trace=trace).text
    except ExtractError:
        return ""


def run_trafilatura(page: Page) -> str:
    return trafilatura.extract(gzip.decompress(Path(page.path).read_bytes())) or ""


def measure(page: Page) -> dict:
    """Both extractors on one page (alternating which goes first), timed; newsmirror's trace."""
    result: dict = {"key": page.key, "dataset": page.dataset, "crash": None}
    trace = ExtractTrace()
    order = EXTRACTORS if page.index % 2 == 0 else tuple(reversed(EXTRACTORS))
    for name in order:
        start = time.process_time()
        try:
            text = run_newsmirror(page, trace=trace) if name == "newsmirror" else run_trafilatura(page)
        except Exception:  # a crash is a finding, reported below; the run goes on  # noqa: BLE001
            text = ""
            if name == "newsmirror":
                result["crash"] = traceback.format_exc(limit=-3)
        result[f"{name}_seconds"] = time.process_time() - start
        result[f"{name}_counts"] = page_counts(page.truth, text)
        result[f"{name}_text"] = text
    result["fired"] = dict(trace.fired)
    return result


def ablate(page: Page, names: tuple[str, ...]) -> dict[str, tuple]:
    """newsmirror's counts on one page with each heuristic switched off in turn."""
    found = {}
    for name in names:
        try:
            text = run_newsmirror(page, options=ExtractOptions(disabled=frozenset([name])))
        except Exception:  # counted as an empty prediction; the main run lists crashes  # noqa: BLE001
            text = ""
        found[name] = page_counts(page.truth, text)
    return found


def _warm_up(page: Page) -> None:
    run_newsmirror(page)
    run_trafilatura(page)


def _map(function, items, jobs: int, *extra):
    if jobs <= 1:
        return [function(item, *extra) for item in items]
    with ProcessPoolExecutor(jobs, initializer=_warm_up, initargs=(items[0],)) as pool:
        return list(pool.map(function, items, *[[e] * len(items) for e in extra], chunksize=4))


def _f1(counts) -> float:
    return score(counts).f1


def report(pages: list[Page], results: list[dict]) -> dict[str, list[dict]]:
    by_set: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_set[result["dataset"]].append(result)
    head = (f"{'data set':<16} {'pages':>5} | {'newsmirror P':>12} {'R':>6} {'F1':>6} {'pages/s':>7} | "
            f"{'trafilatura P':>13} {'R':>6} {'F1':>6} {'pages/s':>7} | {'ΔF1':>6} {'speed':>5}")
    print(head)
    print("-" * len(head))
    f1s: dict[str, list[float]] = {name: [] for name in EXTRACTORS}
    for dataset, rows in by_set.items():
        cells = []
        rates = {}
        for name in EXTRACTORS:
            result = score(r[f"{name}_counts"] for r in rows)
            rates[name] = len(rows) / sum(r[f"{name}_seconds"] for r in rows)
            f1s[name].append(result.f1)
            cells.append(f"{result.precision:>{12 if name == 'newsmirror' else 13}.3f} {result.recall:>6.3f} "
                         f"{result.f1:>6.3f} {rates[name]:>7.1f}")
        delta = f1s["newsmirror"][-1] - f1s["trafilatura"][-1]
        ratio = rates["newsmirror"] / rates["trafilatura"]
        print(f"{dataset:<16} {len(rows):>5} | {cells[0]} | {cells[1]} | {delta:>+6.3f} {ratio:>5.2f}")
    macro = {name: sum(v) / len(v) for name, v in f1s.items()}
    print(f"{'macro average':<16} {len(results):>5} | {'':>12} {'':>6} {macro['newsmirror']:>6.3f} {'':>7} | "
          f"{'':>13} {'':>6} {macro['trafilatura']:>6.3f} {'':>7} | {macro['newsmirror'] - macro['trafilatura']:>+6.3f}")
    crashes = [r for r in results if r["crash"]]
    failed = sum(1 for r in results if not r["newsmirror_text"] and not r["crash"])
    print(f"\nnewsmirror: {len(crashes)} crashes, {failed} pages with no article (ExtractError)")
    for r in crashes:
        print(f"  CRASH {r['dataset']} {r['key']}: {r['crash'].strip().splitlines()[-1]}")
    guards = Counter()
    for r in results:
        for name in r["fired"]:
            if name.startswith("guard:"):
                guards[(r["dataset"], name[6:])] += 1
    sets = list(by_set)
    names = sorted({"drop", "all_filters", *(name for _, name in guards)})
    print("\nguards (pages where one undid a step: 'drop' = a dropped tag that held the page's prose, kept;"
          " a filter name = that filter undone; all_filters = all filters undone)")
    print(f"{'guard':<22}" + "".join(f"{s[:15]:>16}" for s in sets))
    for name in names:
        print(f"{name:<22}" + "".join(f"{guards[(s, name)]:>16}" for s in sets))
    return by_set


def report_ablation(pages: list[Page], results: list[dict], ablated: list[dict], names: tuple[str, ...]) -> None:
    sets = list(dict.fromkeys(r["dataset"] for r in results))
    full = {s: _f1(r["newsmirror_counts"] for r in results if r["dataset"] == s) for s in sets}
    width = max(len(n) for n in names)
    print("\nablation: pages where the heuristic fired / F1 with it minus F1 with it off (+ = it pays)")
    print(f"{'heuristic':<{width}} " + " ".join(f"{s[:15]:>15}" for s in sets) + f" {'macro ΔF1':>9}")
    for name in names:
        cells, deltas = [], []
        for s in sets:
            rows = [(r, a) for r, a in zip(results, ablated) if r["dataset"] == s]
            fired = sum(1 for r, _ in rows if r["fired"].get(name))
            delta = full[s] - _f1(a[name] for _, a in rows)
            deltas.append(delta)
            cells.append(f"{fired:>5} {delta:>+9.4f}")
        print(f"{name:<{width}} " + " ".join(cells) + f" {sum(deltas) / len(deltas):>+9.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="*", default=list(DEFAULT_DATA), help="benchmark directories")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each directory")
    parser.add_argument("--jobs", type=int, default=1, help="processes (each runs both extractors on its pages)")
    parser.add_argument("--dump", default=None, help="write per-page predictions, scores and traces as JSONL here")
    parser.add_argument("--ablate", nargs="*", default=None, metavar="NAME",
                        help="also run with each heuristic (or each NAME) switched off")
    args = parser.parse_args(argv)
    names = tuple(args.ablate or HEURISTICS) if args.ablate is not None else ()
    unknown = [n for n in names if n not in HEURISTICS]
    if unknown:
        parser.error(f"unknown heuristic(s): {', '.join(unknown)}")

    pages = load_pages(args.data, args.limit)
    load = os.getloadavg()[0]
    if args.jobs <= 1:
        _warm_up(pages[0])  # lazy imports and caches, untimed
    started = time.perf_counter()
    results = _map(measure, pages, args.jobs)
    print(f"{len(pages)} pages from {', '.join(args.data)}; {args.jobs} job(s); {time.perf_counter() - started:.0f} s; "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}\n")
    report(pages, results)
    if names:
        ablated = _map(ablate, pages, args.jobs, names)
        report_ablation(pages, results, ablated, names)
        for result, counts in zip(results, ablated):
            result["ablated_counts"] = counts
    report_startup(pages[0].path)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as dump:
            for result in results:
                dump.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


def report_startup(page: Path, repeats: int = 5) -> None:
    """Wall time of `newsmirror extract PAGE` as a whole process, beside bare Python importing trafilatura."""
    cli = [sys.executable, "-m", "newsmirror", "extract", str(page)]
    bare = [sys.executable, "-c", "import trafilatura, lxml.html"]

    def median_seconds(command: list[str]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    ours, baseline = median_seconds(cli), median_seconds(bare)
    print(f"\nstart-up: `newsmirror extract` on one page {ours:.2f} s; python importing trafilatura {baseline:.2f} s "
          f"(ratio {ours / baseline:.2f}; median of {repeats})")


if __name__ == "__main__":
    sys.exit(main())
