"""Crash convergence: runs SIGKILLed (whole process group) at 20+ seeded-random points across every stage leave
mirror and state consistent, and the next run converges to exactly what a run never interrupted produces.

One uninterrupted run of the demo site (4 articles per source, fixed clock NEWSMIRROR_NOW) is the reference: how
many requests, image files, files and git objects a run makes. Then a fresh mirror is built by a chain of
killed runs, each killed further along than the one before (what earlier runs wrote stays on disk; state is
committed only at the end, so each run starts its work over), and one last run that completes. Kill points are
watched from outside the process: the demo site's request log, the run's child processes (extraction workers,
Pagefind, git), the files in the work tree, git's object store and branch ref, the state file. Thresholds are
drawn with a fixed seed from what is still left to do, so every kill lands mid-run in its stage.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import psutil
import pytest

from conftest import write_demo_config

NOW = "2026-03-02T09:00:00+00:00"
SEED = 20260302
ENV = {**os.environ, "NEWSMIRROR_NOW": NOW}
STATE_TABLES = ("articles", "article_channels", "images", "image_uses", "fetch_cache", "views")


def config_for(site, directory: Path) -> Path:
    """The demo config, smaller (3 articles per source, no converted edition) so that 21 runs stay quick."""
    path = write_demo_config(site, directory)
    text = re.sub(r"^(kind = .*)$", r"\1\nmax_items = 3", path.read_text(), flags=re.M)
    path.write_text(re.sub(r'^convert = "s2t"$', "", text, flags=re.M))
    return path


def start(config: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "newsmirror", "run", "-q", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def count(directory: Path, skip: tuple[str, ...] = ()) -> int:
    """Files under `directory`, not counting directories named in `skip` (tolerates directories vanishing)."""
    total = 0
    for _root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in skip]
        total += len(names)
    return total


class Probe:
    """What a run has done so far, seen from outside the process; each figure is read when first asked for,
    so a kill condition that needs only the branch ref polls fast."""

    def __init__(self, run: "Run"):
        self.run = run

    @cached_property
    def requests(self) -> int:  # requests the demo site answered during this run
        return len(self.run.site.requests) - self.run.first_request

    @cached_property
    def assets(self) -> int:  # image files in assets/
        return count(self.run.root / "assets")

    @cached_property
    def files(self) -> int:  # files in the work tree, but for the search index (pagefind/)
        return count(self.run.root, (".git", "pagefind"))

    @cached_property
    def objects(self) -> int:  # files in .git/objects
        return count(self.run.root / ".git" / "objects")

    @cached_property
    def head(self) -> str:  # the branch ref ("" before the first commit)
        try:
            return (self.run.root / ".git" / "refs" / "heads" / "main").read_text()
        except OSError:
            return ""

    @cached_property
    def state(self) -> bool:  # the state database exists
        return self.run.state.exists()

    @cached_property
    def children(self) -> str:  # command lines of the run's child processes
        try:
            return " ".join(" ".join(c.cmdline()) for c in psutil.Process(self.run.process.pid).children(True))
        except psutil.Error:
            return ""


class Run:
    def __init__(self, site, config: Path):
        self.site, self.config, self.root = site, config, config.parent / "mirror"
        self.state = config.parent / "state.db"
        self.first_request = len(site.requests)
        self.process: subprocess.Popen | None = None
        self.before = self.probe()
        for figure in ("assets", "files", "objects", "head"):
            getattr(self.before, figure)

    def start(self, env: dict[str, str] = ENV) -> "Run":
        self.process = start(self.config, env)
        return self

    def probe(self) -> Probe:
        return Probe(self)


@dataclass
class KillPoint:
    stage: str
    condition: Callable[[Probe, Probe], bool]  # (this run's probe before it began, now)
    delay: float = 0.0  # seconds after the condition first holds
    poll: float = 0.005  # seconds between checks
    slow_git: str | None = None  # "before" or "after": this run's `git update-ref` (moving the branch) sleeps then


def kill_points(rng: random.Random, reference: Probe) -> list[Callable[[Probe], KillPoint | None]]:
    """One round's kill points, in pipeline order. Each is built when its run starts, from what is on disk then
    (None when too little is left in that stage to kill inside it)."""
    r, a, f, o = reference.requests, reference.assets, reference.files, reference.objects

    def between(low: int, high: int) -> int | None:
        return rng.randint(low, high) if low <= high else None

    def threshold(stage: str, field: str, total: int, floor: int = 0, slow_git: str | None = None
                  ) -> Callable[[Probe], KillPoint | None]:
        def build(disk: Probe) -> KillPoint | None:
            # in the first half of what is left by the reference's count (a chain of killed runs may have
            # less left than that count suggests, e.g. git objects written by an earlier killed run)
            done = max(getattr(disk, field), floor)
            n = between(done + 1, min(total - 1, done + max((total - done) // 2, 1)))
            return None if n is None else KillPoint(stage, lambda b, p: getattr(p, field) >= n, slow_git=slow_git)
        return build

    def fixed(point: KillPoint) -> Callable[[Probe], KillPoint]:
        return lambda disk: point

    def extract(n: int) -> Callable[[Probe], KillPoint]:
        return fixed(KillPoint("extract", lambda b, p: p.requests >= n and "forkserver" in p.children))

    return [
        fixed(KillPoint("state writes (schema, run record)", lambda b, p: p.state, rng.uniform(0, 0.05))),
        *(fixed(KillPoint("fetch", lambda b, p, n=n: p.requests >= n)) for n in sorted(rng.sample(range(1, r), 5))),
        # the pool lives from the first article's extraction to the last one's images: kill inside its first
        # three quarters, not at the last requests (a fast machine shuts the pool down right after those)
        *(extract(n) for n in sorted(rng.sample(range(r // 2, (3 * r) // 4 + 1), 4))),
        *(threshold("image writes", "assets", a) for _ in range(3)),
        *(threshold("render writes", "files", f, floor=a) for _ in range(4)),
        fixed(KillPoint("search index", lambda b, p: "pagefind" in p.children, rng.uniform(0, 0.1))),
        # (git's last object is the commit: the branch must not move before the kill lands, or the next run
        # has nothing to commit and the kill points below cannot land)
        *(threshold("git objects", "objects", o, slow_git="before") for _ in range(3)),
        # Two windows too short to hit by polling, each held open by a `git` on PATH that sleeps before or after
        # `git update-ref` (the commit is made with plumbing: write-tree, commit-tree, update-ref): after git has
        # written the commit but before the branch points at it, and after the branch moved but before the state
        # is committed.
        fixed(KillPoint("git commit", lambda b, p: "update-ref" in p.children, rng.uniform(0, 0.3),
                        slow_git="before")),
        fixed(KillPoint("git commit -> state commit", lambda b, p: p.head != b.head, rng.uniform(0, 0.3), 0.001,
                        slow_git="after")),
    ]


def kill_at(site, config: Path, build: Callable[[Probe], KillPoint | None], timeout: float = 60
            ) -> tuple[str, bool] | None:
    """Start a run and SIGKILL its process group at the point `build` gives; (stage, landed mid-run), or None
    (and no run) when too little is left in that stage to kill inside it."""
    run = Run(site, config)
    point = build(run.before)
    if point is None:
        return None
    env = ENV
    if point.slow_git:
        env = {**ENV, "PATH": f"{slow_git(config.parent / 'slow-git', point.slow_git)}{os.pathsep}{ENV['PATH']}"}
    return _kill(run.start(env), point, timeout)


def slow_git(directory: Path, when: str) -> Path:
    """A directory holding a `git` that runs the real one, sleeping 0.6 s before or after `git update-ref`."""
    real = shutil.which("git")
    script = {"before": f'[ "$1" = update-ref ] && sleep 0.6\nexec {real} "$@"\n',
              "after": f'{real} "$@"; status=$?\n[ "$1" = update-ref ] && sleep 0.6\nexit $status\n'}[when]
    directory.mkdir(exist_ok=True)
    (directory / "git").write_text("#!/bin/sh\n" + script)
    (directory / "git").chmod(0o755)
    return directory


def _kill(run: Run, point: KillPoint, timeout: float) -> tuple[str, bool]:
    deadline, held_since = time.monotonic() + timeout, None
    while run.process.poll() is None and time.monotonic() < deadline:
        if held_since is None and point.condition(run.before, run.probe()):
            held_since = time.monotonic()
        if held_since is not None and time.monotonic() - held_since >= point.delay:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait(timeout=30)
            assert b"holds this mirror's lock" not in run.process.stderr.read()
            return point.stage, run.process.returncode == -signal.SIGKILL
        time.sleep(point.poll)
    run.process.wait(timeout=30)
    assert run.process.returncode == 0, run.process.stderr.read().decode()
    return point.stage, False


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def state_dump(path: Path) -> dict[str, list[tuple]]:
    """The state's content (the run log, `runs` and `failures`, rightly differs: it records the killed runs)."""
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in STATE_TABLES}
    finally:
        db.close()


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def complete(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmirror", "run", "-q", "--config", str(config)], env=ENV,
                          capture_output=True, text=True, timeout=180)


# ~23 whole runs, each a new process: 44 s on an idle machine, 77-83 s at a load average of 8-9 on two cores, close
# to the suite's 120 s hang guard (each run has its own: 60 s, 180 s for the last)
@pytest.mark.timeout(300)
def test_killed_runs_converge(demo_site, tmp_path):
    began = time.monotonic()
    clean = config_for(demo_site, tmp_path / "clean")
    reference_run = Run(demo_site, clean).start()
    assert reference_run.process.wait(timeout=180) == 0, reference_run.process.stderr.read().decode()
    reference = reference_run.probe()
    clean_root = clean.parent / "mirror"
    rng = random.Random(SEED)

    landed: list[str] = []
    killed = config_for(demo_site, tmp_path / "killed")
    root, lock = killed.parent / "mirror", killed.parent / "state.db.lock"
    for build in kill_points(rng, reference):
        outcome = kill_at(demo_site, killed, build)
        if outcome is None:
            continue
        stage, mid_run = outcome
        assert mid_run, f"the run ended before its kill point ({stage}); killed so far: {landed}"
        landed.append(stage)
        if os.environ.get("KILL_DEBUG"):
            print(f"{time.monotonic() - began:6.1f} s  killed in {stage}")
        assert lock.exists()  # the killed run's lock file stays behind; the next run must get past it
    final = complete(killed)
    assert final.returncode == 0, final.stderr

    mine, theirs = files(root), files(clean_root)
    assert mine == theirs, sorted(p for p in mine.keys() | theirs.keys() if mine.get(p) != theirs.get(p))
    assert git(root, "rev-parse", "HEAD^{tree}").stdout == git(clean_root, "rev-parse", "HEAD^{tree}").stdout
    assert git(root, "status", "--porcelain").stdout == ""
    fsck = git(root, "fsck", "--full", "--no-progress")
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    assert state_dump(killed.parent / "state.db") == state_dump(clean.parent / "state.db")
    again = subprocess.run([sys.executable, "-m", "newsmirror", "run", "--config", str(killed)], env=ENV,
                           capture_output=True, text=True, timeout=180)
    assert "no changes, no commit" in again.stdout

    assert len(landed) >= 20, f"only {len(landed)} kills landed mid-run: {landed}"
    stages = {"state writes (schema, run record)", "fetch", "extract", "image writes", "render writes",
              "search index", "git objects", "git commit", "git commit -> state commit"}
    assert stages <= set(landed), stages - set(landed)
    print(f"{len(landed)} kills in {time.monotonic() - began:.0f} s: {', '.join(landed)}")
