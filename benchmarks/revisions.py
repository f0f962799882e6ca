"""False edits and re-check cost on the demo site over a simulated week (fixed clock, one run per step).

    .venv/bin/python benchmarks/revisions.py                      # churn only: every version found is a false edit
    .venv/bin/python benchmarks/revisions.py --show demo-week     # one real edit and one removal, mirror kept

Serves the demo site and mirrors it at T, then runs again at T + 0.5 h, 1 h, 2 h, 6 h, 12 h, 1 d, 2 d, 3 d, 5 d,
7 d and 8 d. Before every run the site's churn changes: each article shows a new "N views · M comments · hh:mm"
line at the top of its body (the counts and time of day differ on every visit). The demo's pages also carry their
own related-articles block, comments and popular list on every page. It prints per run: re-check requests, how many
were answered 304, versions recorded, and at the end the false-edit count (versions found when nothing but churn
changed). With --show, one English article is edited (a word changed) at 6 h, one Chinese article has two
characters changed at 1 d, and one article answers 404 from 2 d on: DIR then holds a mirror with two revisions
pages and a removed list (indexes/removed.md, site/indexes/removed.html, site/feeds/removed.xml).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmirror.config import parse_config  # noqa: E402
from newsmirror.demo.mirror import DEMO_HOST  # noqa: E402
from newsmirror.demo.site import DemoSite, demo_config_text  # noqa: E402
from newsmirror.pipeline import run_once  # noqa: E402
from newsmirror.state.store import Store  # noqa: E402

T = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
HOURS = [0.5, 1, 2, 6, 12, 24, 48, 72, 120, 168, 192]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", type=Path, default=None, help="make real edits and a removal; keep the mirror here")
    parser.add_argument("--no-churn", action="store_true", help="pages change only when edited (re-checks get 304s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = (args.show or Path(scratch)).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        return run(directory, show=args.show is not None, churning=not args.no_churn)


def run(directory: Path, show: bool, churning: bool) -> int:
    rng = random.Random(17)
    with DemoSite(public_host=DEMO_HOST) as site:
        text = demo_config_text(f"http://{DEMO_HOST}", output="mirror", state="state.db")
        config = parse_config(text, directory / "newsmirror.toml", directory)
        config = config.model_copy(update={"fetch": config.fetch.model_copy(
            update={"resolve": {DEMO_HOST: site.base_url.removeprefix("http://")}})})
        articles = [a for a in site._listed if a.serve == "html"]
        en = next(a for a in articles if a.lang != "zh")
        zh = next(a for a in articles if a.lang == "zh")
        gone = articles[5]

        def churn() -> None:
            for article in articles if churning else []:
                site.set_churn(article.slug, f"{rng.randrange(100, 99999):,} views · {rng.randrange(0, 500)} "
                                             f"comments · {rng.randrange(24):02d}:{rng.randrange(60):02d}")

        churn()
        run_once(config, now=T)
        print(f"{'after':>8} {'re-checks':>9} {'304':>5} {'versions':>8}")
        real = 0
        for hours in HOURS:
            if show and hours == 6:
                first = next(b[1] for b in en.body if b[0] == "p")
                site.replace_text(en.slug, first, first.replace(" ", " newly ", 1))
                real += 1
            if show and hours == 24:
                site.replace_text(zh.slug, "市民", "居民")
                real += 1
            if show and hours == 48:
                site.set_status(gone.path, 404)
            churn()
            start = len(site.answers)
            run_once(config, now=T + timedelta(hours=hours))
            answers = [status for target, status in site.answers[start:] if target.startswith(("/articles/", "/js/"))]
            with Store(config.state_path) as store:
                versions = store.db.execute("SELECT count(*) FROM revisions WHERE number > 1").fetchone()[0]
            print(f"{hours:>7}h {len(answers):>9} {answers.count(304):>5} {versions:>8}")
        with Store(config.state_path) as store:
            found = store.db.execute("SELECT count(*) FROM revisions WHERE number > 1").fetchone()[0]
            edited = [r[0] for r in store.db.execute("SELECT DISTINCT article_id FROM revisions ORDER BY 1")]
        print(f"articles: {len(site._listed)}; real edits made: {real}; versions found: {found}; "
              f"false edits: {found - real}; edited: {', '.join(edited) or 'none'}")
        if show:
            print(f"mirror: {config.output_dir} (pages/*/*.revisions.md, indexes/removed.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
