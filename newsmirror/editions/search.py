"""Static full-text search for the HTML edition: run Pagefind (extended build, offline) over the written pages.

One index per edition (`site/pagefind/`, and e.g. `site/zh-hant/pagefind/` for the converted edition), each over
that edition's article pages only. Pagefind's search UI only searches pages of its own language, so each index is
built as one language (`--force-language`): a CJK language when the edition has CJK pages (the extended build's
segmenter then finds words inside Chinese sentences, and Latin words still match whole), else the mirror's.

Chinese search finds any run of characters a page contains: Pagefind indexes a copy of each page that also carries
the page's CJK character trigrams as terms (`cjk_terms`; the written pages stay as they are), and `search.js`
spells a query the same way, using the `SPELLING` file written next to the bundle's files.

Given the same pages, Pagefind 1.5.2's output is byte-identical from run to run; each build goes into a fresh
directory that replaces the bundle whole, so pages that left the mirror leave no fragments behind.

What a run must know is derived, not marked (see `update_index`): whether the index is behind the committed pages
(the state database keeps which pages the committed index was built from, in the run's transaction), and whether
the bundle in the work tree is not committed yet (git: its entry file against HEAD's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lxml.etree import LxmlError

from newsmirror.config import Config
from newsmirror.convert import edition_dir, mirror_profile
from newsmirror.editions.cjk_terms import fold_ordinals, hidden_terms, page_text, query_fold, with_terms, without_terms
from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.publish.git import run_git
from newsmirror.state.store import Store

BUNDLE = "pagefind"
PAGES_GLOB = "pages/**/*.html"
#: parts of the bundle no page of ours loads (other UI flavours); removed to keep the mirror small
UNUSED = ("pagefind-component-ui.css", "pagefind-component-ui.js", "pagefind-modular-ui.css",
          "pagefind-modular-ui.js", "pagefind-highlight.js")
SPELLING = "newsmirror-search.json"  # how search.js spells CJK queries (absent: the index has no trigram terms)
ENTRY = "pagefind-entry.json"  # names the hash of the bundle's meta index, which names every fragment and chunk
_LANG = re.compile(rb'<html lang="([A-Za-z-]+)"')
INDEXED = "search_indexed"  # settings key: HEAD's page trees the committed index was built from
_BUILT = "built in this run"  # its value between a rebuild and the run's commit (see index_committed)
_LEGACY_MARKERS = ("newsmirror-search-pending", "newsmirror-search-unstaged")  # kept in .git before
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
    never commits); the old one is renamed out of the way and the new one into place, so a run killed at any
    point never leaves a partial index behind: either a whole one is there, or none (which the next run
    rebuilds)."""
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
        build_index(root, scratch, index_language(root, config.mirror.language))
        old = scratch.with_name(scratch.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if bundle.is_dir():
            bundle.rename(old)
        scratch.rename(bundle)
        shutil.rmtree(old, ignore_errors=True)


def build_index(root: Path, output: Path, language: str, pagefind: list[str] | None = None) -> None:
    """Index the article pages under `root` into `output` (a directory that does not exist yet) as one language.
    CJK languages get the trigram terms: Pagefind reads copies of the pages that carry them, in `output`'s
    sibling `<name>.pages` (removed afterwards), and `output` gets the SPELLING file."""
    command = list(pagefind or [sys.executable, "-m", "pagefind"])
    source, folded = root, set()
    if language in CJK:
        source = output.with_name(output.name + ".pages")
        shutil.rmtree(source, ignore_errors=True)
        fold = fold_ordinals()
        for page in sorted(root.glob(PAGES_GLOB)):
            html = page.read_text("utf-8", errors="replace")
            try:
                text = page_text(html)
            except (ValueError, LxmlError) as exc:  # e.g. an empty file
                raise SearchError(str(page), f"cannot read the page's text: {exc}") from exc
            folded.update(text.translate(fold))
            copy = source / page.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(with_terms(html, hidden_terms(text)), "utf-8")
    command += ["--site", str(source), "--glob", PAGES_GLOB, "--output-path", str(output),
                "--force-language", language, "--silent"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SearchError(str(root), f"pagefind did not run: {exc}") from exc
    finally:
        if source != root:
            shutil.rmtree(source, ignore_errors=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise SearchError(str(root), f"pagefind failed: {detail[-1] if detail else result.returncode}")
    for name in UNUSED:
        (output / name).unlink(missing_ok=True)
    if language in CJK:
        for fragment in (output / "fragment").glob("*.pf_fragment"):
            fragment.write_bytes(without_terms(fragment.read_bytes()))
        (output / SPELLING).write_text(query_fold(folded), "utf-8")


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


def update_index(config: Config, store: Store, written: list[str]) -> list[str]:
    """Rebuild the HTML edition's Pagefind index when it is behind its pages (its output is byte-stable, so an
    unchanged site commits nothing). Returns the bundle directories to stage: those that differ from HEAD's.

    Nothing here is a marker that a killed run could leave wrong:

    - Behind: the index is behind when this run wrote an HTML page, or when HEAD's page trees are not those the
      committed index was built from (setting INDEXED). That covers the runs that skipped a rebuild
      (`search_every`), and also pages a killed run wrote: the next run redoes its work and rewrites them byte for
      byte, so `written` does not list them, but once they are committed HEAD's page trees move on and the next
      rebuild includes them. The setting changes only inside the run's transaction (to _BUILT here, to HEAD's
      trees in `index_committed` after the commit): a killed run's change is rolled back with everything else,
      and a stale setting only costs a rebuild, never a missed one.
    - Not committed: a bundle rebuilt by a killed run stays in the work tree, and this run must stage it (or an
      index left behind its committed pages). That must survive the kill, so it is read from git: the bundle's
      entry file in the work tree against HEAD's. Pagefind's files are named by their content and the entry file
      names the meta index's hash, which names every fragment and index chunk; and a bundle is only ever
      replaced whole (`build_search`). So one file tells, at the cost of one small `git ls-tree` (git status
      over the bundle would read one file per page)."""
    editions = config.editions
    if not (editions.html and editions.search):
        return []
    site = editions.html_dir.strip("/") + "/"
    site_dir = config.output_dir / editions.html_dir
    roots = edition_roots(site_dir, config)
    changed = any(p.startswith(site) and p.endswith(".html") for p in written) \
        or store.setting(INDEXED) != _page_trees(config.output_dir, roots)
    if missing_index(site_dir, config):
        changed = True
    elif changed and editions.search_every > 0:
        built = site_dir / BUNDLE / ENTRY
        age = time.time() - built.stat().st_mtime if built.is_file() else float("inf")  # file times: real clock
        if age < editions.search_every * 60:
            changed = False  # the setting stays behind HEAD's pages: a later run rebuilds
    if changed:
        build_search(site_dir, config)
        store.save_setting(INDEXED, _BUILT)
    return _uncommitted_bundles(config.output_dir, roots)


def index_committed(config: Config, store: Store) -> None:
    """After the run's commit (in its transaction): a rebuilt index now covers exactly HEAD's pages."""
    if store.setting(INDEXED) == _BUILT:
        store.save_setting(INDEXED, _page_trees(config.output_dir, edition_roots(
            config.output_dir / config.editions.html_dir, config)))
    for name in _LEGACY_MARKERS:
        (config.output_dir / ".git" / name).unlink(missing_ok=True)


def _page_trees(mirror: Path, roots: list[Path]) -> str:
    """HEAD's tree ids of every edition's pages directory (empty before the first commit)."""
    paths = [str((root / "pages").relative_to(mirror)) for root in roots]
    return run_git(mirror, "ls-tree", "-z", "HEAD", "--", *paths, check=False).stdout


def _uncommitted_bundles(mirror: Path, roots: list[Path]) -> list[str]:
    """The bundle directories whose entry file in the work tree is not HEAD's (a new, rebuilt or removed bundle)."""
    entries = {str((root / BUNDLE / ENTRY).relative_to(mirror)): root for root in roots}
    listed = run_git(mirror, "ls-tree", "-z", "HEAD", "--", *entries, check=False).stdout
    committed = {line.split("\t", 1)[1]: line.split()[2] for line in listed.split("\0") if "\t" in line}
    present = [path for path in entries if (mirror / path).is_file()]
    hashed = run_git(mirror, "hash-object", "--", *present).stdout.split() if present else []
    current = dict(zip(present, hashed))
    return [str((root / BUNDLE).relative_to(mirror)) for path, root in entries.items()
            if committed.get(path) != current.get(path)]
