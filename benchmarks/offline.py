"""Size and build time of the EPUB digests (editions/offline.py) of a mirror of the synthetic site, and what a run
pays for the offline editions when none is due.

    .venv/bin/python benchmarks/offline.py                    # mirror 400 articles (~10 days), then build digests
    .venv/bin/python benchmarks/offline.py --mirror DIR       # mirror into DIR and keep it; later runs reuse it

The synthetic site publishes an article every 37 minutes (39 a day, 1-3 photos each, a fifth in Chinese). Prints the
daily digests of the newest full day, a weekly whole-mirror digest capped at 100 articles (the issue's budget: a
digest of 100 articles with photos, at most 5 MB), their build times, and the median cost of `build_due` when
nothing is due (two settings reads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_site import START, SiteProcess, config_text

from newsmirror.config import load_config
from newsmirror.editions import offline
from newsmirror.editions.digests import build_digests
from newsmirror.editions.periods import period_of
from newsmirror.editions.seam import listed_channels
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.state.store import Store

OFFLINE = '\n[editions]\nsearch = false\n\n[editions.epub]\nenabled = true\nmax_articles = 100\n'


def mirror(directory: Path, articles: int) -> Path:
    path = directory / "newsmirror.toml"
    with SiteProcess(articles=articles) as site:
        path.write_text(config_text(site.base_url, articles) + OFFLINE, encoding="utf-8")
        started = time.perf_counter()
        summary = run_once(load_config(path), Reporter(QUIET))
        print(f"mirrored {summary.new} articles in {time.perf_counter() - started:.1f} s ({summary.failed} failed)")
    return path


def report(config, every: str, day) -> None:
    settings = config.editions.epub.model_copy(update={"period": every})
    config = config.model_copy(update={"editions": config.editions.model_copy(update={"epub": settings})})
    period = period_of(day, every)
    with Store(config.state_path) as store:
        started = time.perf_counter()
        files = build_digests(config, store, period, listed_channels(config, store))
        seconds = time.perf_counter() - started
    print(f"{every} {period.label}: {len(files)} digest(s) in {seconds:.2f} s")
    for file in files:
        print(f"  {file.path.rsplit('/', 1)[1]:<32} {len(file.content) / (1 << 20):6.2f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--mirror", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kept = args.mirror and (args.mirror / "newsmirror.toml").is_file()
        path = args.mirror / "newsmirror.toml" if kept else mirror(args.mirror or Path(tmp), args.articles)
        config = load_config(path)
        newest = START.date() - timedelta(days=1)  # the newest full day
        report(config, "daily", newest)
        report(config, "weekly", newest)
        now = datetime.combine(newest, datetime.min.time()).replace(tzinfo=START.tzinfo)
        with Store(config.state_path) as store, store.transaction():
            offline.build_due(config, store, now, Reporter(QUIET))  # due: builds, records the period
            times = []
            for _ in range(200):
                started = time.perf_counter()
                offline.build_due(config, store, now, Reporter(QUIET))
                times.append(time.perf_counter() - started)
        print(f"a run when nothing is due: build_due {statistics.median(times) * 1e6:.0f} µs (median of 200)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
