"""Size governance: how big the mirror repository is, its largest files, and warnings at the configured budgets.

Git hosts reject single files over 100 MB (and warn from 50 MB), repositories past a few GB, and static page hosts
cap a site near 1 GB: a mirror that grows for years meets these. Sizes are in MB of 2^20 bytes.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from newsmirror.config import Config, SizeBudgets
from newsmirror.publish.git import run_git
from newsmirror.state.store import Store

MB = 1 << 20


@dataclass(frozen=True)
class SizeReport:
    history_bytes: int  # the repository's objects (.git: packs and loose objects), i.e. every version ever committed
    tree_bytes: int  # the files of the last commit
    tree_files: int
    site_bytes: int  # the HTML edition in the last commit (its directory and assets/)
    largest: tuple[tuple[str, int], ...]  # biggest files of the last commit, biggest first
    over_file_budget: tuple[tuple[str, int], ...]
    # offline editions (EPUB, ZIM) on disk: not committed to the work tree's branch, published with the HTML edition
    offline: tuple[tuple[str, int], ...] = ()

    @property
    def offline_bytes(self) -> int:
        return sum(size for _, size in self.offline)


def human(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", MB), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _git(root: Path, *args: str, input: str | None = None) -> str:
    return run_git(root, *args, input=input).stdout


CACHE = "size_report"  # settings key: the last report and what it was measured with (derived, safe to lose)
_LEGACY_CACHE = "newsmirror-size.json"  # where it was kept before (in .git)


def measure(root: Path, html_dir: str, budgets: SizeBudgets, store: Store | None = None,
            save: bool = True) -> SizeReport | None:
    """Measure the mirror at `root`; None before its first commit.

    The tree part costs what changed: the last report is kept in the state database (`store`) with its commit,
    and a later commit is measured from the diff between the two (a full listing when there is no usable
    report). `save=False` reads the report but does not write it (a reader such as `status` must not wait for a
    running run's write lock)."""
    if not (root / ".git").exists():
        return None
    head = run_git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).stdout.strip()
    if not head:
        return None
    counts = dict(line.split(": ", 1) for line in _git(root, "count-objects", "-v").splitlines() if ": " in line)
    history = (int(counts.get("size", 0)) + int(counts.get("size-pack", 0))) * 1024
    site_prefixes = (html_dir.strip("/") + "/", "assets/")
    key = [html_dir, budgets.file_budget_mb, budgets.report_largest]
    cached = _load_cache(store, key) if store is not None else None
    tree = None
    if cached is not None and cached["commit"] == head:
        tree = cached["tree"]
    elif cached is not None:
        tree = _updated(root, cached["commit"], head, cached["tree"], site_prefixes, budgets)
    if tree is None:
        tree = _full(root, head, site_prefixes, budgets)
    if store is not None and save and (cached is None or cached["commit"] != head):
        _save_cache(store, key, head, tree)
        (root / ".git" / _LEGACY_CACHE).unlink(missing_ok=True)
    return SizeReport(history_bytes=history, tree_bytes=tree["bytes"], tree_files=tree["files"],
                      site_bytes=tree["site"], largest=tuple(map(tuple, tree["largest"])),
                      over_file_budget=tuple(map(tuple, tree["over"])), offline=offline_files(root, html_dir))


def offline_files(root: Path, html_dir: str) -> tuple[tuple[str, int], ...]:
    """(path, bytes) of every offline file (layout.offline_dir), biggest first: a few dozen stat calls."""
    folder = root / (html_dir.strip("/") or "site") / "offline"
    if not folder.is_dir():
        return ()
    found = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()]
    return tuple(sorted(found, key=lambda f: (-f[1], f[0])))


def _ranked(files: list[tuple[str, int]], budgets: SizeBudgets) -> tuple[list, list]:
    limit = budgets.file_budget_mb * MB
    largest = heapq.nlargest(budgets.report_largest, files, key=lambda f: (f[1], f[0]))
    over = sorted((f for f in files if f[1] > limit), key=lambda f: (-f[1], f[0]))
    return [list(f) for f in largest], [list(f) for f in over]


def _full(root: Path, head: str, site_prefixes: tuple[str, ...], budgets: SizeBudgets) -> dict:
    files: list[tuple[str, int]] = []
    for entry in _git(root, "ls-tree", "-r", "-l", "-z", head).split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            size = meta.split()[3]
            if size != "-":  # "-" for submodules
                files.append((path, int(size)))
    largest, over = _ranked(files, budgets)
    return {"bytes": sum(size for _, size in files), "files": len(files),
            "site": sum(size for path, size in files if path.startswith(site_prefixes)),
            "largest": largest, "over": over}


def _updated(root: Path, old: str, new: str, tree: dict, site_prefixes: tuple[str, ...],
             budgets: SizeBudgets) -> dict | None:
    """`tree` (measured at commit `old`) brought to commit `new` from their diff; None when a full listing is
    needed (a listed largest file changed or went away, or `old` is gone)."""
    result = run_git(root, "diff-tree", "-r", "-z", "--no-renames", old, new, check=False)
    if result.returncode != 0:
        return None
    fields = result.stdout.split("\0")
    changes = []  # (path, old blob or None, new blob or None)
    for meta, path in zip(fields[0::2], fields[1::2]):
        if not meta.startswith(":"):
            continue
        _old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split()
        if new_mode.startswith("16") or _old_mode.startswith("16"):
            return None  # submodules: let the full listing handle them
        zero = "0" * len(old_blob)
        changes.append((path, None if old_blob == zero else old_blob, None if new_blob == zero else new_blob))
    listed = {path for path, _ in tree["largest"]}
    if any(path in listed for path, _, _ in changes):
        return None
    blobs = [blob for _, a, b in changes for blob in (a, b) if blob]
    sizes = dict(zip(blobs, (int(line) for line in _git(root, "cat-file", "--batch-check=%(objectsize)",
                                                        input="\n".join(blobs) + "\n").split()))) if blobs else {}
    tree = {**tree, "largest": [list(f) for f in tree["largest"]], "over": [list(f) for f in tree["over"]]}
    added: list[tuple[str, int]] = []
    changed_paths = {path for path, _, _ in changes}
    for path, old_blob, new_blob in changes:
        delta = (sizes[new_blob] if new_blob else 0) - (sizes[old_blob] if old_blob else 0)
        tree["bytes"] += delta
        tree["files"] += (new_blob is not None) - (old_blob is not None)
        if path.startswith(site_prefixes):
            tree["site"] += delta
        if new_blob:
            added.append((path, sizes[new_blob]))
    kept_over = [tuple(f) for f in tree["over"] if f[0] not in changed_paths]
    largest, over = _ranked([tuple(f) for f in tree["largest"]] + added, budgets)
    _, new_over = _ranked(added, budgets)
    tree["largest"] = largest
    tree["over"] = [list(f) for f in sorted(kept_over + [tuple(f) for f in new_over], key=lambda f: (-f[1], f[0]))]
    return tree


def _load_cache(store: Store, key: list) -> dict | None:
    try:
        data = json.loads(store.setting(CACHE) or "null")
    except ValueError:
        return None  # an unreadable report: measure in full
    return data if isinstance(data, dict) and data.get("key") == key and "tree" in data else None


def _save_cache(store: Store, key: list, head: str, tree: dict) -> None:
    try:
        store.save_setting(CACHE, json.dumps({"key": key, "commit": head, "tree": tree}))
    except sqlite3.Error:
        pass  # only a cache (a locked or full state file): the next report lists the tree in full


def summary_line(report: SizeReport) -> str:
    line = (f"size: history {human(report.history_bytes)}, tree {human(report.tree_bytes)} in {report.tree_files} "
            f"file(s) (HTML edition {human(report.site_bytes)})")
    if report.largest:
        line += "; largest: " + ", ".join(f"{path} {human(size)}" for path, size in report.largest)
    if report.offline:
        line += f"; offline files {human(report.offline_bytes)} in {len(report.offline)} file(s)"
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
    lines += [f"SIZE WARNING {path}: {human(size)}, over the per-file budget of {budgets.file_budget_mb:g} MB "
              f"(an offline file; static hosts reject files over 100 MB)"
              for path, size in report.offline if size > budgets.file_budget_mb * MB][:shown]
    site = report.site_bytes + report.offline_bytes
    if site > budgets.site_budget_mb * MB:
        offline = f" with {human(report.offline_bytes)} of offline files" if report.offline else ""
        hint = "; keep fewer: editions.epub.keep, editions.zim.keep" if report.offline else ""
        lines.append(f"SIZE WARNING HTML edition: {human(site)}{offline}, over the site budget of "
                     f"{budgets.site_budget_mb:g} MB (static hosts cap sites near 1 GB{hint})")
    return lines


def size_lines(config: Config, store: Store | None = None, save: bool = True) -> tuple[list[str], list[str]]:
    """(the summary line, warnings) for the mirror of `config`; both empty before the first commit. `store`,
    `save`: where the last report is kept, and whether to keep this one (see `measure`)."""
    report = measure(config.output_dir, config.editions.html_dir, config.size, store, save)
    if report is None:
        return [], []
    return [summary_line(report)], warnings(report, config.size)
