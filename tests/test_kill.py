"""A run killed (SIGKILL, whole process group) at any point leaves mirror and state consistent; the next run
converges to exactly the files a run that was never interrupted produces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_demo_config


def start(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "newsmirror", "run", "-q", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def kill_when(config: Path, condition, timeout: float = 60) -> bool:
    """Start a run, SIGKILL its process group as soon as `condition()` holds; True if it was killed mid-run."""
    process = start(config)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return True
        time.sleep(0.005)
    process.wait(timeout=30)
    return False


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and ".git" not in p.parts) if root.exists() else 0


def test_killed_runs_converge(demo_site, tmp_path):
    killed = write_demo_config(demo_site, tmp_path / "killed")
    root = killed.parent / "mirror"
    began = time.monotonic()
    kills = [
        kill_when(killed, lambda: time.monotonic() - began > 1.0),  # while fetching
        kill_when(killed, lambda: count_files(root) > 60),  # in the middle of writing pages
        kill_when(killed, lambda: (root / "site" / "pagefind").exists()),  # while indexing / committing
    ]
    assert kills[1], "the run ended before the kill point: the test no longer kills mid-write"
    final = subprocess.run([sys.executable, "-m", "newsmirror", "run", "-q", "--config", str(killed)],
                           capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr

    clean = write_demo_config(demo_site, tmp_path / "clean")
    subprocess.run([sys.executable, "-m", "newsmirror", "run", "-q", "--config", str(clean)], check=True, timeout=180)

    killed_root, clean_root = killed.parent / "mirror", clean.parent / "mirror"
    assert files(killed_root) == files(clean_root)
    git = ["git", "-C", str(killed_root)]
    assert subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    assert subprocess.run([*git, "fsck", "--no-progress"], capture_output=True).returncode == 0
    again = subprocess.run([sys.executable, "-m", "newsmirror", "run", "--config", str(killed)],
                           capture_output=True, text=True, timeout=180)
    assert "no changes, no commit" in again.stdout
