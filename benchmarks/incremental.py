"""Incremental cost at scale: what a run costs when nothing or one article changed in a big mirror.

    .venv/bin/python benchmarks/incremental.py                    # mirrors of 10,000 and 100,000 pages
    .venv/bin/python benchmarks/incremental.py --sizes 2000       # a quick look

For each size N: serves the synthetic site (`synthetic_site.py`, N + 1 articles, feeds of the newest 30 per channel,
the newest article held back), builds a mirror of N articles from generated records -- state rows written directly,
each article's Markdown and HTML page files written as small stand-ins (no run reads them), one git commit -- then:

  warm-up     one run that renders every index page, the feeds and the search index from state (the render
              signature is new)
  no change   a run in which every source answers 304 (goal: <= 1 s plus the conditional requests)
  one new     the site announces one new article: discovered, fetched with its image, extracted, rendered, indexed
              and committed (goal: <= 1 s end to end)

Each timed run is a fresh process (`--measure`): it prints the run's wall time inside `run_once`, the time per
step, how many files were written, and the process's peak RSS (goal <= 300 MB). Interpreter start-up and imports
are printed apart (they are the same for any mirror size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_site import Content, SiteProcess, article_id, config_text  # noqa: E402

FEED_SIZE = 30
MB = 1024 * 1024


def build(work: Path, base_url: str, size: int) -> Path:
    """A mirror of `size` generated articles (a000001 ...; a000000 is the one the site holds back)."""
    from newsmirror.config import load_config
    from newsmirror.ids import canonical_url
    from newsmirror.publish.commit import GitRepo
    from newsmirror.records import Article
    from newsmirror.layout import page_path
    from newsmirror.state.store import Store
    from newsmirror.extract.transform import content_hash

    config_path = work / "newsmirror.toml"
    # Pagefind re-reads every page (the warm-up shows what that costs at this size): rebuild it at most hourly
    text = config_text(base_url, size + 1).replace("[fetch]", "[editions]\nsearch_every = 60\n\n[fetch]", 1)
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    content = Content(size + 1)
    root = config.output_dir
    stamp = "2026-06-01T12:00:00+00:00"
    with Store(config.state_path) as store, store.transaction():
        for index in range(1, size + 1):
            ident, channels = article_id(index), content.channels(index)
            url = canonical_url(f"{base_url}/articles/{ident}.html")
            paragraphs = content.paragraphs(index)[:2]
            article = Article(url=url, title=content.title(index), text="\n\n".join(paragraphs),
                              body_html="".join(f"<p>{p}</p>" for p in paragraphs),
                              published=content.published(index).isoformat(), author=f"Staff Reporter {index % 17}",
                              language="zh" if content.chinese(index) else "en")
            store.ensure_article(ident, url, channels[0], stamp)
            store.add_channels(ident, channels, stamp)
            version = format_datetime(content.published(index))  # what the feed says: no re-fetch when announced
            store.save_article(ident, article, content_hash(article), version, stamp)
            store.schedule_recheck(ident, "2099-01-01T00:00:00+00:00", 4)  # every article on the re-check schedule, none due
            md = page_path(channels[0], ident)
            for path, text in ((md, f"# {article.title}\n\n{article.text}\n"),
                               (f"site/{md.removesuffix('.md')}.html",
                                f'<!doctype html><html lang="{article.language}"><head><meta charset="utf-8">'
                                f"<title>{article.title}</title></head><body><article data-pagefind-body>"
                                f"<h1>{article.title}</h1><p>{article.text}</p></article></body></html>\n")):
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    repo = GitRepo(root)
    repo.ensure()
    repo.git("add", "-A")
    repo.git("-c", "gc.auto=0", "commit", "-q", "-m", f"{size} generated articles")
    # packed, as a mirror that has run for a while is; else the commit's automatic gc packs 200,000 loose
    # objects in the background during the timed runs
    repo.git("gc", "-q")
    return config_path


def measure(config_path: Path) -> dict:
    """One run in this process: wall time in run_once, per-step times, files written, peak RSS."""
    from pipeline import StageClock  # benchmarks/pipeline.py

    from newsmirror import pipeline
    from newsmirror.config import load_config
    from newsmirror.progress import Reporter

    config = load_config(config_path)
    with StageClock() as clock:
        start = time.perf_counter()
        summary = pipeline.run_once(config, Reporter(verbosity=0))
        wall = time.perf_counter() - start
    publish = summary.publish
    return {"wall": wall, "stages": dict(clock.seconds), "new": summary.new, "updated": summary.updated,
            "written": len(publish.written) if publish else 0, "commit": bool(publish and publish.commit),
            "rss": peak_rss()}


def peak_rss() -> int:
    """This process's own peak RSS. Not `ru_maxrss`: Linux carries that across fork + exec, so a run started by
    this (large) benchmark process would report the parent's peak; VmHWM belongs to the process's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed_run(config_path: Path) -> dict:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--measure", str(config_path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    return result


def show(label: str, result: dict, goal: str = "") -> None:
    print(f"  {label:10} {result['wall']:7.2f} s in run_once ({result['process']:.2f} s as a process)  "
          f"{result['new']} new, {result['updated']} updated, {result['written']} files written, "
          f"commit: {'yes' if result['commit'] else 'no'}, peak RSS {result['rss'] / MB:.0f} MB  {goal}")
    steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in result["stages"].items() if seconds >= 0.005)
    print(f"  {'':10} {steps}")


def settle(repo: Path) -> None:
    """Pack the repository, after git's own background gc (if one is running) has finished."""
    deadline = time.monotonic() + 900  # git takes a gc.pid older than 12 hours as stale; we wait 15 minutes
    while (repo / ".git" / "gc.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    subprocess.run(["git", "gc", "-q"], cwd=repo, check=True)


def startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import newsmirror.cli, newsmirror.pipeline"], check=True)
    return time.perf_counter() - start


def scenario(size: int, keep: Path | None) -> None:
    with SiteProcess(size + 1, feed_size=FEED_SIZE, hidden=1) as site, \
            tempfile.TemporaryDirectory(prefix="nm-incr-") as tmp:
        work = (keep / str(size)) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        config_path = build(work, site.base_url, size)
        built = time.perf_counter() - start
        files = sum(1 for p in (work / "mirror").rglob("*") if p.is_file() and ".git" not in p.parts)
        print(f"\nmirror of {size} articles ({files} files in the work tree) built from generated records in "
              f"{built:.0f} s")
        show("warm-up", timed_run(config_path))
        # the warm-up wrote thousands of loose objects, so its commit started git's automatic gc in the background;
        # wait for it (a mirror that has run for a while is packed) rather than time the runs below against it
        settle(work / "mirror")
        show("no change", timed_run(config_path), "(goal <= 1 s + conditional requests)")
        import httpx

        httpx.get(f"{site.base_url}/_control/reveal").raise_for_status()
        show("one new", timed_run(config_path), "(goal <= 1 s end to end, <= 300 MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", type=Path, default=None, help="build the mirrors under this directory")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; interpreter start-up + imports "
          f"{startup():.2f} s (outside every timing below)")
    for size in args.sizes:
        scenario(size, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
