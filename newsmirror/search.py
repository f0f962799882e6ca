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
    """Build the search index of every edition under `site_dir` (the written HTML edition)."""
    site_dir = Path(site_dir)
    if not config.editions.search:
        return
    for root in edition_roots(site_dir, config):
        if not root.is_dir():
            continue
        bundle = root / BUNDLE
        shutil.rmtree(bundle, ignore_errors=True)
        if next(root.glob(PAGES_GLOB), None) is None:
            continue  # no article yet: Pagefind refuses to build an empty index
        language = index_language(root, config.mirror.language)
        command = [sys.executable, "-m", "pagefind", "--site", str(root), "--glob", PAGES_GLOB,
                   "--output-subdir", BUNDLE, "--force-language", language, "--silent"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SearchError(str(root), f"pagefind did not run: {exc}") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise SearchError(str(root), f"pagefind failed: {detail[-1] if detail else result.returncode}")
        for name in UNUSED:
            (bundle / name).unlink(missing_ok=True)
