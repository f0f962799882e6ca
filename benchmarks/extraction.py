"""Article-body extraction benchmark: newsmirror vs bare trafilatura, same pages, same process.

    .venv/bin/python benchmarks/extraction.py [--data ../shared/bench/aeb] [--limit N] [--dump DIR]

newsmirror runs through `extract_file(path, base_url)["text"]` (the `newsmirror extract --jsonl` path); trafilatura
through `trafilatura.extract(html_bytes)` with default settings. Both timings include reading and gunzipping the
file; the two extractors alternate which goes first on each page. Scores use newsmirror.metric (the bench README).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsmirror.extract import extract_file  # noqa: E402
from newsmirror.metric import page_counts, score  # noqa: E402
from newsmirror.records import ExtractError  # noqa: E402


def run_newsmirror(path: Path, url: str) -> str:
    try:
        return extract_file(path, base_url=url)["text"]
    except ExtractError:
        return ""


def run_trafilatura(path: Path, url: str) -> str:
    return trafilatura.extract(gzip.decompress(path.read_bytes())) or ""


EXTRACTORS = {"newsmirror": run_newsmirror, "trafilatura": run_trafilatura}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/bench/aeb", help="benchmark directory (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages (sorted by key)")
    parser.add_argument("--dump", default=None, help="write per-page predictions and scores as JSONL here")
    args = parser.parse_args(argv)

    data = Path(args.data)
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    langs = json.loads((data / "lang_map.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[: args.limit]

    first = data / "html" / f"{keys[0]}.html.gz"  # warm up lazy imports and caches, untimed
    for run in EXTRACTORS.values():
        run(first, truth[keys[0]]["url"])

    counts: dict[str, dict[str, tuple]] = {name: {} for name in EXTRACTORS}
    seconds = dict.fromkeys(EXTRACTORS, 0.0)
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    for index, key in enumerate(keys):
        path, url, body = data / "html" / f"{key}.html.gz", truth[key]["url"], truth[key]["articleBody"]
        order = list(EXTRACTORS) if index % 2 == 0 else list(reversed(EXTRACTORS))
        predictions = {}
        for name in order:
            start = time.perf_counter()
            predictions[name] = EXTRACTORS[name](path, url)
            seconds[name] += time.perf_counter() - start
            counts[name][key] = page_counts(body, predictions[name])
        if dump:
            record = {"key": key, "url": url, "lang": langs.get(key)}
            record |= {f"{n}_counts": counts[n][key] for n in EXTRACTORS}
            record |= {f"{n}_text": predictions[n] for n in EXTRACTORS}
            dump.write(json.dumps(record, ensure_ascii=False) + "\n")
    if dump:
        dump.close()

    rate = {name: len(keys) / seconds[name] for name in EXTRACTORS}
    print(f"{len(keys)} pages from {data}")
    print(f"{'extractor':<13} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8}")
    for name in EXTRACTORS:
        result = score(counts[name].values())
        print(f"{name:<13} {result.precision:>9.3f} {result.recall:>7.3f} {result.f1:>6.3f} {rate[name]:>8.1f}")
    print(f"speed ratio (newsmirror / trafilatura pages/s): {rate['newsmirror'] / rate['trafilatura']:.2f}")

    by_lang: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_lang[langs.get(key, "?")].append(key)
    print(f"\n{'language':<9} {'pages':>5} " + " ".join(f"{n + ' F1':>14}" for n in EXTRACTORS))
    for lang in sorted(by_lang, key=lambda lang: (-len(by_lang[lang]), lang)):
        f1s = [score(counts[n][k] for k in by_lang[lang]).f1 for n in EXTRACTORS]
        print(f"{lang:<9} {len(by_lang[lang]):>5} " + " ".join(f"{f:>14.3f}" for f in f1s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
