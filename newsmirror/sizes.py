"""Size governance: how big the mirror repository is, its largest files, and warnings at the configured budgets.

Git hosts reject single files over 100 MB (and warn from 50 MB), repositories past a few GB, and static page hosts
cap a site near 1 GB: a mirror that grows for years meets these. Sizes are in MB of 2^20 bytes.
"""

from __future__ import annotations

import heapq
import subprocess
from dataclasses import dataclass
from pathlib import Path

from newsmirror.config import Config, SizeBudgets

MB = 1 << 20


@dataclass(frozen=True)
class SizeReport:
    history_bytes: int  # the repository's objects (.git: packs and loose objects), i.e. every version ever committed
    tree_bytes: int  # the files of the last commit
    tree_files: int
    site_bytes: int  # the HTML edition in the last commit (its directory and assets/)
    largest: tuple[tuple[str, int], ...]  # biggest files of the last commit, biggest first
    over_file_budget: tuple[tuple[str, int], ...]


def human(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", MB), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def measure(root: Path, html_dir: str, budgets: SizeBudgets) -> SizeReport | None:
    """Measure the mirror at `root`; None before its first commit."""
    if not (root / ".git").exists():
        return None
    head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=root, capture_output=True,
                          text=True).stdout.strip()
    if not head:
        return None
    counts = dict(line.split(": ", 1) for line in _git(root, "count-objects", "-v").splitlines() if ": " in line)
    history = (int(counts.get("size", 0)) + int(counts.get("size-pack", 0))) * 1024
    site_prefixes = (html_dir.strip("/") + "/", "assets/")
    files: list[tuple[str, int]] = []
    for entry in _git(root, "ls-tree", "-r", "-l", "-z", head).split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            size = meta.split()[3]
            if size != "-":  # "-" for submodules
                files.append((path, int(size)))
    limit = budgets.file_budget_mb * MB
    return SizeReport(
        history_bytes=history,
        tree_bytes=sum(size for _, size in files),
        tree_files=len(files),
        site_bytes=sum(size for path, size in files if path.startswith(site_prefixes)),
        largest=tuple(heapq.nlargest(budgets.report_largest, files, key=lambda f: (f[1], f[0]))),
        over_file_budget=tuple(sorted((f for f in files if f[1] > limit), key=lambda f: (-f[1], f[0]))),
    )


def summary_line(report: SizeReport) -> str:
    line = (f"size: history {human(report.history_bytes)}, tree {human(report.tree_bytes)} in {report.tree_files} "
            f"file(s) (HTML edition {human(report.site_bytes)})")
    if report.largest:
        line += "; largest: " + ", ".join(f"{path} {human(size)}" for path, size in report.largest)
    return line


def warnings(report: SizeReport, budgets: SizeBudgets, shown: int = 10) -> list[str]:
    """One line per budget exceeded (at most `shown` files, then a count); `report` measured with `budgets`."""
    over = [(path, size) for path, size in report.over_file_budget if size > budgets.file_budget_mb * MB]
    lines = [f"SIZE WARNING {path}: {human(size)}, over the per-file budget of {budgets.file_budget_mb:g} MB "
             f"(git hosts reject files over 100 MB)" for path, size in over[:shown]]
    if len(over) > shown:
        lines.append(f"SIZE WARNING {len(over) - shown} more file(s) over the per-file budget")
    if report.history_bytes > budgets.repo_budget_mb * MB:
        lines.append(f"SIZE WARNING repository: history {human(report.history_bytes)}, over the repo budget of "
                     f"{budgets.repo_budget_mb:g} MB (`newsmirror compact` drops the history where it is not needed)")
    if report.site_bytes > budgets.site_budget_mb * MB:
        lines.append(f"SIZE WARNING HTML edition: {human(report.site_bytes)}, over the site budget of "
                     f"{budgets.site_budget_mb:g} MB (static hosts cap sites near 1 GB)")
    return lines


def size_lines(config: Config) -> tuple[list[str], list[str]]:
    """(the summary line, warnings) for the mirror of `config`; both empty before the first commit."""
    report = measure(config.output_dir, config.editions.html_dir, config.size)
    if report is None:
        return [], []
    return [summary_line(report)], warnings(report, config.size)
