"""The demo mirror's output as one digest per file, with a fixed clock: the golden check of a refactoring.

    .venv/bin/python benchmarks/demo_digest.py > before.txt      # on the old code
    .venv/bin/python benchmarks/demo_digest.py > after.txt       # on the new code
    diff before.txt after.txt                                     # no output: byte-identical

Runs `newsmirror demo` twice into a temporary directory with NEWSMIRROR_NOW fixed (the second run must change
nothing) and prints `sha256  path` for every file of the work tree (not .git), then the commit count.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

NOW = "2026-03-02T09:00:00+00:00"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NEWSMIRROR_NOW": NOW}
        for _ in range(2):
            subprocess.run([sys.executable, "-m", "newsmirror", "demo", "--quiet", "--dir", "mirror"], cwd=tmp,
                           env=env, check=True)
        root = Path(tmp) / "mirror"
        for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts):
            print(hashlib.sha256(path.read_bytes()).hexdigest(), path.relative_to(root).as_posix())
        commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=root, capture_output=True, text=True)
        print("commits", commits.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
