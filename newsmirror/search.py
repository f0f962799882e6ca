"""Static full-text search for the HTML edition: run Pagefind (extended build, offline) over the written pages.

One index per edition (`site/pagefind/`, and e.g. `site/zh-hant/pagefind/` for the converted edition), each over
that edition's article pages only. Pagefind's search UI only searches pages of its own language, so each index is
built as one language (`--force-language`): a CJK language when the edition has CJK pages (the extended build's
segmenter then finds words inside Chinese sentences, and Latin words still match whole), else the mirror's.

Given the same pages, Pagefind 1.5.2's output is byte-identical from run to run; the bundle directory is removed
before each build so pages that left the mirror leave no fragments behind.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from newsmirror.config import Config
from newsmirror.convert import edition_dir, mirror_profile
from newsmirror.records import NewsmirrorError, Stage

BUNDLE = "pagefind"
PAGES_GLOB = "pages/**/*.html"
#: parts of the bundle no page of ours loads (other UI flavours); removed to keep the mirror small
UNUSED = ("pagefind-component-ui.css", "pagefind-component-ui.js", "pagefind-modular-ui.css",
          "pagefind-modular-ui.js", "pagefind-highlight.js")
_LANG = re.compile(rb'<html lang="([A-Za-z-]+)"')
PENDING = "newsmirror-search-pending"  # in .git: pages were written by runs that skipped the rebuild (search_every)
UNSTAGED = "newsmirror-search-unstaged"  # in .git: a bundle was rebuilt and not committed yet
CJK = ("zh", "ja", "ko")


class SearchError(NewsmirrorError):
    def __init__(self, resource: str, reason: str):
        super().__init__(resource, Stage.RENDER, reason)


def edition_roots(site_dir: Path, config: Config) -> list[Path]:
    roots = [site_dir]
    profile = mirror_profile(config)
    if profile:
        roots.append(site_dir / edition_dir(profile))
    return roots


def index_language(root: Path, fallback: str) -> str:
    """The language to index an edition as: the first CJK language among its pages' <html lang>, else `fallback`."""
    seen = set()
    for page in sorted(root.glob(PAGES_GLOB)):
        with page.open("rb") as handle:
            match = _LANG.search(handle.read(400))
        if match:
            seen.add(match.group(1).decode().split("-")[0].lower())
    for language in CJK:
        if language in seen:
            return language
    return (fallback or "en").split("-")[0].lower()


def build_search(site_dir: Path, config: Config) -> None:
    """Build the search index of every edition under `site_dir` (the written HTML edition).

    Each index is built in a scratch directory on the same file system (inside the mirror's `.git`, which git
    never commits) and then renamed into place, so a run killed mid-build never leaves a partial index behind:
    either the old index is there, or none (which the next run rebuilds)."""
    site_dir = Path(site_dir)
    if not config.editions.search:
        return
    for root in edition_roots(site_dir, config):
        if not root.is_dir():
            continue
        bundle = root / BUNDLE
        if next(root.glob(PAGES_GLOB), None) is None:
            shutil.rmtree(bundle, ignore_errors=True)
            continue  # no article yet: Pagefind refuses to build an empty index
        scratch = _scratch_dir(config, root)
        language = index_language(root, config.mirror.language)
        command = [sys.executable, "-m", "pagefind", "--site", str(root), "--glob", PAGES_GLOB,
                   "--output-path", str(scratch), "--force-language", language, "--silent"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SearchError(str(root), f"pagefind did not run: {exc}") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise SearchError(str(root), f"pagefind failed: {detail[-1] if detail else result.returncode}")
        for name in UNUSED:
            (scratch / name).unlink(missing_ok=True)
        shutil.rmtree(bundle, ignore_errors=True)
        scratch.rename(bundle)


def missing_index(site_dir: Path, config: Config) -> bool:
    """True when an edition that has pages lacks its search index (first build, or a run killed mid-swap)."""
    return any(root.is_dir() and next(root.glob(PAGES_GLOB), None) is not None and not (root / BUNDLE).is_dir()
               for root in edition_roots(Path(site_dir), config))


def _scratch_dir(config: Config, root: Path) -> Path:
    git_dir = config.output_dir / ".git"
    parent = git_dir / "newsmirror-search" if git_dir.is_dir() else root.parent
    scratch = parent / f"{root.name}.{BUNDLE}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)  # left by a killed run
    scratch.parent.mkdir(parents=True, exist_ok=True)
    return scratch


def update_index(config: Config, written: list[str]) -> list[str]:
    """Rebuild the HTML edition's Pagefind index when one of its pages was written (its output is byte-stable,
    so an unchanged site commits nothing). Returns the bundle directories to stage: those this run rebuilt, or a
    run before it that was stopped before its commit."""
    editions = config.editions
    site = editions.html_dir.strip("/") + "/"
    site_dir = config.output_dir / editions.html_dir
    if not (editions.html and editions.search):
        return []
    git_dir = config.output_dir / ".git"
    pending, unstaged = git_dir / PENDING, git_dir / UNSTAGED  # pages owed an index by runs that skipped it
    changed = any(p.startswith(site) and p.endswith(".html") for p in written) or pending.exists()
    if missing_index(site_dir, config):
        changed = True
    elif changed and editions.search_every > 0:
        built = site_dir / BUNDLE / "pagefind-entry.json"
        age = time.time() - built.stat().st_mtime if built.is_file() else float("inf")
        if age < editions.search_every * 60:
            if git_dir.is_dir():
                pending.touch()
            changed = False
    if changed:
        if git_dir.is_dir():
            unstaged.touch()  # removed once the commit holds the new bundle (index_committed)
        build_search(site_dir, config)
        pending.unlink(missing_ok=True)
    if not unstaged.exists():
        return []
    return [str((root / BUNDLE).relative_to(config.output_dir)) for root in edition_roots(site_dir, config)]


def index_committed(config: Config) -> None:
    (config.output_dir / ".git" / UNSTAGED).unlink(missing_ok=True)
