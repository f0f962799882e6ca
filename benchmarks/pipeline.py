"""Cold-run throughput of the whole pipeline against the ideal, measured in the same run.

    .venv/bin/python benchmarks/pipeline.py                       # 2,000 articles, local executor
    .venv/bin/python benchmarks/pipeline.py --articles 300        # a quicker look
    .venv/bin/python benchmarks/pipeline.py --executor            # also: dask scheduler + 2 workers on 127.0.0.1

Serves the synthetic site (`synthetic_site.py`) from a child process, then mirrors it from scratch: discover ->
plan -> fetch -> extract -> images -> render (Markdown + HTML editions) -> write -> search -> git commit. Prints
articles/s, wall time per stage (fetch, extraction and images overlap, so they share one line; on Dask the page
tasks, one per host, come first and their time is shown apart, images follow them), the CPU time of the whole
process tree, and peak RSS (main process, and the largest worker process).

The ideal, in the same run: the CPU time of the work no implementation can avoid, divided over the machine's cores
-- bare `trafilatura.extract` of every page (a deterministic sample of `--ideal-sample` of the pages, scaled up),
plus Pillow decode + resize + WebP encode of every image with the mirror's settings (each pool photo is timed and
counted as often as articles use it; see synthetic_site.py). Goal: pipeline throughput >= 0.8x the ideal. Because
the machine is shared, the pipeline's wall time can include other processes' load; the CPU ratio (ideal CPU /
pipeline CPU) does not.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_site import POOL, Content, SiteProcess, config_text, pool_photo  # noqa: E402

from newsmirror import pipeline  # noqa: E402
from newsmirror.editions import search  # noqa: E402
from newsmirror.publish import commit as publish, remotes  # noqa: E402
from newsmirror.run import pagetask, recheck  # noqa: E402
from newsmirror.config import ImageSettings, load_config  # noqa: E402
from newsmirror.progress import Reporter  # noqa: E402

MB = 1024 * 1024


# -- measuring ----------------------------------------------------------------------------------------------


class TreeSampler:
    """CPU seconds and peak RSS of this process and every descendant (worker pools, Pagefind, git), sampled."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.cpu: dict[int, float] = {}
        self.rss: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.me = psutil.Process()

    def __enter__(self) -> "TreeSampler":
        self.start_cpu = self._own_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.own = self._own_cpu() - self.start_cpu

    def _own_cpu(self) -> float:
        t = self.me.cpu_times()
        return t.user + t.system + t.children_user + t.children_system  # children: waited-for ones (git, pagefind)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for child in self.me.children(recursive=True):
                try:
                    with child.oneshot():
                        t = child.cpu_times()
                        self.cpu[child.pid] = t.user + t.system
                        self.rss[child.pid] = max(self.rss.get(child.pid, 0), child.memory_info().rss)
                        self.names[child.pid] = " ".join(child.cmdline())
                except psutil.Error:
                    pass

    def pool_pids(self) -> list[int]:
        """Process-pool workers (forked by the forkserver, so never waited for by us: not in children_*)."""
        return [pid for pid, cmd in self.names.items() if "multiprocessing" in cmd]

    def worker_cpu(self, exclude: set[int] = frozenset()) -> float:
        return sum(self.cpu[pid] for pid in self.pool_pids() if pid not in exclude)


class StageClock:
    """Wall time per pipeline step, by wrapping the module functions `run_once` calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[tuple[object, str, object]] = []
        self.labels: list[str] = []  # in the order they are reported

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)
        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self.seconds[label] += time.perf_counter() - start
        else:
            @functools.wraps(original)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self.seconds[label] += time.perf_counter() - start
        self._undo.append((owner, name, original))
        self.labels.append(label)
        setattr(owner, name, timed)

    def __enter__(self) -> "StageClock":
        self.wrap(pipeline, "discover_all", "discover")
        self.wrap(pipeline, "plan", "plan")
        self.wrap(recheck, "with_rechecks", "re-checks due")
        self.wrap(pipeline, "fetch_and_extract", "fetch + extract + images")
        self.wrap(pagetask, "on_cluster", "  of which page tasks (Dask, per host)")
        self.wrap(pipeline, "retry_images", "retry images")
        self.wrap(pipeline, "_decide_and_apply", "state updates")
        self.wrap(publish, "write_files", "render + write (streamed)")
        self.wrap(search, "update_index", "search index (Pagefind)")
        self.wrap(publish.GitRepo, "commit_all", "git add + commit")
        self.wrap(remotes, "after_run", "after the run (pushes, size report)")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def _cpu(procs: list[psutil.Process]) -> float:
    """CPU seconds of these processes and their descendants (the Dask scheduler and workers)."""
    total = 0.0
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


def run_pipeline(config_path: Path, executor: str | None = None, outside: list[psutil.Process] = ()) -> dict:
    """One run; `outside`: processes that are not ours but work for the run (Dask), counted in its CPU."""
    config = load_config(config_path)
    request = pipeline.RunRequest(executor=executor or "local")
    before = _cpu(list(outside))
    with StageClock() as clock, TreeSampler() as sampler:
        start = time.perf_counter()
        summary = pipeline.run_once(config, Reporter(verbosity=0), request)
        wall = time.perf_counter() - start
    theirs = {p.pid for proc in outside for p in [proc, *proc.children(recursive=True)]}  # counted by _cpu
    cpu = sampler.own + sampler.worker_cpu(exclude=theirs) + _cpu(list(outside)) - before
    workers = [sampler.rss[pid] for pid in sampler.pool_pids() if pid not in theirs]
    return {"summary": summary, "wall": wall, "stages": {label: clock.seconds[label] for label in clock.labels if label in clock.seconds}, "cpu": cpu, "main_cpu": sampler.own,
            "worker_rss": max(workers, default=0)}


# -- the ideal ----------------------------------------------------------------------------------------------


def _extract_cpu(pages: list[bytes]) -> float:
    import trafilatura

    trafilatura.extract(pages[0])  # warm up lazy imports, untimed
    start = time.process_time()
    for page in pages:
        trafilatura.extract(page)
    return time.process_time() - start


def _image_cpu(settings: ImageSettings, repeats: int) -> list[float]:
    """CPU seconds of decode + resize + encode of each pool photo (best of `repeats`)."""
    from PIL import Image

    out = []
    for number in range(POOL):
        data = pool_photo(number)
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            image = Image.open(io.BytesIO(data))
            image.draft("RGB", (settings.max_width, settings.max_width))
            image = image.convert("RGB")
            if image.width > settings.max_width:
                height = round(image.height * settings.max_width / image.width)
                image = image.resize((settings.max_width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
            buffer = io.BytesIO()
            image.save(buffer, "WEBP", quality=settings.quality, method=4)
            best = min(best, time.process_time() - start)
        out.append(best)
    return out


def ideal(base_url: str, articles: int, sample: float, settings: ImageSettings) -> dict:
    """CPU seconds of the unavoidable work (extraction + images), measured in a fresh process."""
    import httpx

    content = Content(articles)
    step = max(1, round(1 / sample))
    chosen = list(range(0, articles, step))
    with httpx.Client(timeout=30) as client:
        pages = [client.get(f"{base_url}/articles/a{i:06d}.html").content for i in chosen]
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        extract = pool.submit(_extract_cpu, pages).result() * articles / len(chosen)
        per_photo = pool.submit(_image_cpu, settings, 2).result()
    uses = Counter(content.pool_index(name) for name in content.image_names())
    images = sum(per_photo[n] * count for n, count in uses.items())
    return {"extract": extract, "images": images, "pages_sampled": len(chosen), "image_count": sum(uses.values())}


# -- the report ---------------------------------------------------------------------------------------------


def report(label: str, result: dict, ideal_cpu: float, cores: int, articles: int) -> None:
    summary = result["summary"]
    wall = result["wall"]
    ideal_wall = ideal_cpu / cores
    print(f"\n[{label}] {summary.new} new, {summary.failed} failed in {wall:.1f} s: {articles / wall:.1f} articles/s")
    for stage, seconds in result["stages"].items():
        print(f"  {stage:36} {seconds:7.2f} s  {100 * seconds / wall:5.1f} %")
    print(f"  {'CPU, whole process tree':36} {result['cpu']:7.1f} s  ({result['cpu'] / wall:.2f} cores busy; main "
          f"process + its git/Pagefind {result['main_cpu']:.1f} s, pool or Dask workers "
          f"{result['cpu'] - result['main_cpu']:.1f} s)")
    print(f"  throughput vs ideal: {ideal_wall / wall:.2f}x  (ideal {articles / ideal_wall:.1f} articles/s; "
          f"goal >= 0.80x)")
    print(f"  CPU vs ideal: {ideal_cpu / result['cpu']:.2f}  (ideal CPU / pipeline CPU; 1.0 = no overhead)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--ideal-sample", type=float, default=0.25, help="share of pages timed for the ideal")
    parser.add_argument("--executor", action="store_true",
                        help="also run with a dask scheduler + 2 workers on 127.0.0.1 and compare")
    parser.add_argument("--keep", type=Path, default=None, help="keep the mirror in this directory")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1

    with SiteProcess(args.articles) as site, tempfile.TemporaryDirectory(prefix="nm-bench-") as tmp:
        work = args.keep or Path(tmp)
        if args.keep:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        config_path = work / "newsmirror.toml"
        config_path.write_text(config_text(site.base_url, args.articles), encoding="utf-8")
        settings = load_config(config_path).images
        print(f"synthetic site: {args.articles} articles at {site.base_url}; {cores} cores; "
              f"load average {os.getloadavg()[0]:.2f}")

        local = run_pipeline(config_path)
        peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        dask = None
        if args.executor:
            dask = run_dask_comparison(work, site.base_url, args.articles)
        measured = ideal(site.base_url, args.articles, args.ideal_sample, settings)
        files = sum(1 for p in (work / "mirror").rglob("*") if p.is_file() and ".git" not in p.parts)

    ideal_cpu = measured["extract"] + measured["images"]
    print(f"\nideal: extraction {measured['extract']:.1f} s CPU ({measured['pages_sampled']} pages timed, scaled to "
          f"{args.articles}) + images {measured['images']:.1f} s CPU ({measured['image_count']} images) = "
          f"{ideal_cpu:.1f} s CPU / {cores} cores = {ideal_cpu / cores:.1f} s")
    report("local executor", local, ideal_cpu, cores, args.articles)
    print(f"  peak RSS: main process {peak_main / MB:.0f} MB, largest worker {local['worker_rss'] / MB:.0f} MB "
          f"(goal <= 300 MB); mirror files {files}")
    if dask is not None:
        report("dask scheduler + 2 workers", dask, ideal_cpu, cores, args.articles)
        print(f"  dask / local wall time: {dask['wall'] / local['wall']:.2f}; mirrors byte-identical: "
              f"{dask['identical']}")
    return 0


def run_dask_comparison(work: Path, base_url: str, articles: int) -> dict:
    """The same cold run with `--executor dask://127.0.0.1:PORT` (a scheduler and 2 one-thread workers)."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        time.sleep(2)
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                           f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard",
                                           "--nworkers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        other = work / "dask"
        other.mkdir(exist_ok=True)
        config_path = other / "newsmirror.toml"
        config_path.write_text(config_text(base_url, articles), encoding="utf-8")
        result = run_pipeline(config_path, executor=f"dask://127.0.0.1:{port}",
                              outside=[psutil.Process(p.pid) for p in procs])
        result["identical"] = _same_tree(work / "mirror", other / "mirror")
        return result
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same_tree(a: Path, b: Path) -> bool:
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and ".git" not in p.relative_to(root).parts}
    return files(a) == files(b)


if __name__ == "__main__":
    sys.exit(main())
