"""The offline editions (<html_dir>/offline/, never committed to the work tree's branch) in the HTML edition's
commit: `with_offline` adds them to the tree that `remotes.html_edition` builds from HEAD, so every HTML remote
serves them; `compact --edition html` drops the ones no longer kept from that history.

Files are hashed into git's objects once: a cache in .git keyed by path, size and modification time keeps
later pushes from re-reading a large ZIM file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from newsmirror.publish.replay import Git

CACHE = "newsmirror-offline-blobs.json"


def _blobs(git: Git, root: Path, files: list[Path]) -> dict[str, str]:
    """Mirror-relative path -> blob id of each file, from the cache where the file is unchanged."""
    cache_path = root / ".git" / CACHE
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    found, fresh = {}, {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        stat = path.stat()
        key = f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}"
        blob = cache.get(key) or git.out("hash-object", "-w", "--", relative)
        found[relative], fresh[key] = blob, blob
    if fresh != cache:  # replaced whole: a `status` reading it while a run writes sees one version or the other
        temporary = cache_path.with_name(f"{CACHE}.{os.getpid()}")
        temporary.write_text(json.dumps(fresh), encoding="utf-8")
        os.replace(temporary, cache_path)
    return found


def with_offline(git: Git, root: Path, html_dir: str, entries: list[str]) -> list[str]:
    """`entries` (ls-tree lines of HEAD's HTML edition directory and assets/) with the HTML edition's top
    directory replaced by one that also holds <html_dir>/offline/; unchanged when there are no offline files."""
    offline = root / html_dir.strip("/") / "offline"
    files = sorted(p for p in offline.rglob("*") if p.is_file() and not p.name.startswith(".")) \
        if offline.is_dir() else []
    if not files:
        return entries
    top = html_dir.strip("/").split("/")[0]
    line = next((ln for ln in entries if ln.endswith(f"\t{top}")), None)
    if line is None:
        return entries
    blobs = _blobs(git, root, files)
    index = root / ".git" / f"newsmirror-offline-{os.getpid()}.index"  # one per process (`status` during a run)
    env = {**os.environ, "LC_ALL": "C", "GIT_INDEX_FILE": str(index)}
    try:
        git.run("read-tree", line.split()[2], env=env)
        listing = "".join(f"100644 {blob}\t{path[len(top) + 1:]}\n" for path, blob in blobs.items())
        git.run("update-index", "--add", "--index-info", input=listing, env=env)
        tree = git.out("write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    return [f"040000 tree {tree}\t{top}" if ln == line else ln for ln in entries]
