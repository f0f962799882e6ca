"""Time to push a run's commit to 3 local remotes: git daemon (git://), dulwich smart HTTP (http://) and file://.

Mirrors the demo site once (its first run's commit is the whole mirror), pushes it, then makes REPEATS small
incremental "runs" (a few pages rewritten, two new images, the home page) and pushes each one: to all three remotes
at once (as a run does, in parallel) and to each remote alone. Prints medians in seconds.

    .venv/bin/python benchmarks/push.py [REPEATS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from gitservers import GitDaemon, SmartHTTP, bare_repo  # noqa: E402

from newsmirror.config import load_config, parse_config  # noqa: E402
from newsmirror.demo.mirror import demo_config_path, run_demo  # noqa: E402
from newsmirror.progress import QUIET, Reporter  # noqa: E402
from newsmirror.publish.commit import GitRepo  # noqa: E402
from newsmirror.publish.remotes import push_all  # noqa: E402
from newsmirror.publish.sizes import human, measure  # noqa: E402
from newsmirror.state.store import Store  # noqa: E402


def timed(config, store, names=()) -> float:
    started = time.perf_counter()
    results = push_all(config, store, names)
    elapsed = time.perf_counter() - started
    failed = [r.line() for r in results if not r.ok]
    if failed:
        raise SystemExit("\n".join(failed))
    return elapsed


def fake_run(root: Path, n: int) -> None:
    """What an incremental run changes: a few article pages, two new images, the home page and an index."""
    pages = sorted(root.glob("pages/*/*.md"))[:5]
    for page in pages:
        page.write_text(page.read_text() + f"\nUpdated in run {n}.\n")
    for k in range(2):
        asset = root / "assets" / "zz" / f"bench-{n}-{k}.webp"
        asset.parent.mkdir(parents=True, exist_ok=True)
        asset.write_bytes(os.urandom(60_000))
    (root / "README.md").write_text((root / "README.md").read_text() + f"\nrun {n}\n")
    GitRepo(root).commit_all(f"bench run {n}")


def main(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        mirror = tmp_path / "mirror"
        run_demo(mirror, Reporter(QUIET))
        srv = tmp_path / "srv"
        srv.mkdir()
        for name in ("daemon.git", "http.git", "file.git"):
            bare_repo(srv / name)
        with GitDaemon(srv) as daemon, SmartHTTP(srv) as http:
            base = load_config(demo_config_path(mirror))
            remotes = parse_config(
                f'[[remotes]]\nname = "daemon"\nurl = "{daemon.url("daemon.git")}"\n'
                f'[[remotes]]\nname = "http"\nurl = "{http.url("http.git")}"\n'
                f'[[remotes]]\nname = "file"\nurl = "file://{srv}/file.git"\n'
            ).remotes
            config = base.model_copy(update={"remotes": remotes})
            report = measure(config.output_dir, config.editions.html_dir, config.size)
            with Store(config.state_path) as store:
                first = timed(config, store)
                together, alone = [], {r.name: [] for r in remotes}
                for n in range(repeats):
                    fake_run(config.output_dir, 2 * n)
                    together.append(timed(config, store))
                    fake_run(config.output_dir, 2 * n + 1)
                    for remote in remotes:
                        alone[remote.name].append(timed(config, store, (remote.name,)))
        print(f"mirror: demo site, {report.tree_files} files, {human(report.tree_bytes)} "
              f"(history {human(report.history_bytes)})")
        print(f"first push (the whole mirror) to 3 remotes in parallel: {first:.3f} s")
        print(f"one incremental run's commit to 3 remotes in parallel: median {statistics.median(together):.3f} s "
              f"(min {min(together):.3f}, max {max(together):.3f}, {repeats} runs)")
        for name, times in alone.items():
            print(f"  {name:<7} alone: median {statistics.median(times):.3f} s")
        print(f"  sum of the three alone: {sum(statistics.median(t) for t in alone.values()):.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
