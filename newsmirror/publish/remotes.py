"""Push the mirror to every configured git remote after each run; keep each remote's backlog until it arrives.

Per remote: the Markdown edition pushes the work tree's branch (HEAD); the HTML edition pushes a commit built from
HEAD's `site/` and `assets/` trees plus a root `index.html` that opens `site/index.html` (`refs/newsmirror/html`,
parented on the previous one, so pushes stay fast-forward; the work tree is never touched). The state database
keeps, per remote, the mirror commit it last received (`last_pushed`); its backlog is everything after that.
Remotes are pushed in parallel (`push.py`: how one remote is pushed, rebased onto edits made on the host,
retried), each with its own timeout and retries, so a dead one holds no other back. `compact` rewrites a branch to
one commit. What `status` shows per remote is `remote_status.py`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from newsmirror.clock import utcnow
from newsmirror.config import Config, Remote
from newsmirror.publish.git import GitError, redact
from newsmirror.publish.offline_tree import with_offline
from newsmirror.publish.push import FETCHED_REF, HEAD_REF, PUSHED_REF, Known, Pusher, PushResult
from newsmirror.publish.replay import Git
from newsmirror.progress import Reporter
from newsmirror.errors import NewsmirrorError, Stage, StateError
from newsmirror.state.lock import run_lock
from newsmirror.state.store import Store

HTML_REF = "refs/newsmirror/html"


def target_of(remote: Remote) -> str:
    """What identifies where a remote's state applies; a change makes the remote new."""
    return f"{remote.edition} {remote.target_branch} {redact(remote.url)}"


def html_edition(git: Git, html_dir: str) -> str | None:
    """Commit HEAD's HTML edition (`site/` + `assets/` + a root index.html) onto HTML_REF; None without one."""
    head = git.commit_of("HEAD")
    if head is None:
        return None
    top = html_dir.strip("/").split("/")[0]
    entries = [ln for ln in git.out("ls-tree", head, "--", top, "assets").splitlines() if ln]
    if not any(ln.endswith(f"\t{top}") for ln in entries):
        return None
    entries = with_offline(git, git.root, html_dir, entries)  # EPUB/ZIM files: published here, never in HEAD
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>Mirror</title>'
            f'<meta http-equiv="refresh" content="0; url={html_dir}/index.html"></head>'
            f'<body><a href="{html_dir}/index.html">{html_dir}/index.html</a></body></html>\n')
    index = git.out("hash-object", "-w", "--stdin", input=page)
    empty = git.out("hash-object", "-w", "--stdin", input="")
    listing = entries + [f"100644 blob {index}\tindex.html", f"100644 blob {empty}\t.nojekyll"]
    tree = git.out("mktree", input="\n".join(listing) + "\n")
    previous = git.commit_of(HTML_REF)
    if previous and git.tree_of(previous) == tree:
        return previous
    subject = git.out("log", "-1", "--format=%s", head)
    commit = git.commit_tree(tree, [previous] if previous else [], f"{subject}\n\nHTML edition of {head}\n")
    git.update_ref(HTML_REF, commit, previous)
    return commit


def local_tip(git: Git, remote: Remote) -> str | None:
    return git.commit_of(HTML_REF if remote.edition == "html" else "HEAD")


def known_state(store: Store, remote: Remote, git: Git) -> Known:
    """What the state database says `remote` has (nothing, when its target changed)."""
    row = store.remote_state(remote.name)
    if row is None or row["target"] != target_of(remote):
        return Known(None, None)
    # objects gone (a new clone of the mirror): start again from what the remote has
    return Known(git.commit_of(row["last_pushed"]), git.commit_of(row["remote_head"]))


def forget_removed(git: Git, names: set[str]) -> None:
    """Drop the local refs of remotes no longer configured (so gc can free what only they kept)."""
    listing = git.out("for-each-ref", "--format=%(refname)", PUSHED_REF, HEAD_REF, FETCHED_REF)
    for ref in listing.splitlines():
        if ref.rsplit("/", 1)[1] not in names:
            git.run("update-ref", "-d", ref)


def push_all(config: Config, store: Store, names: tuple[str, ...] = (), force: bool = False,
             sleep: Callable[[float], None] = time.sleep) -> list[PushResult]:
    """Push every configured remote (or those named) its backlog, in parallel; record each outcome. A failed
    push is a result, never an exception."""
    remotes = [r for r in config.remotes if not names or r.name in names]
    root = config.output_dir
    if not remotes or not (root / ".git").exists():
        return []
    git = Git(root, config.mirror.commit_author)
    if not names:
        forget_removed(git, {r.name for r in config.remotes})
    if any(r.edition == "html" for r in remotes):
        html_edition(git, config.editions.html_dir)
    jobs = []
    for remote in remotes:
        tip = local_tip(git, remote)
        if tip is not None:
            jobs.append((remote, Pusher(git, remote, known_state(store, remote, git), tip, sleep)))
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        results = list(pool.map(lambda job: job[1].run(force), jobs))
    now = utcnow().isoformat()
    with store.transaction():
        for (remote, pusher), result in zip(jobs, results):
            if result.ok:
                store.save_remote_pushed(remote.name, target_of(remote), pusher.tip, result.commit or pusher.tip, now)
            else:
                store.save_remote_error(remote.name, target_of(remote), result.error or "failed", now)
    return results


def html_stale(git: Git, html_dir: str) -> bool:
    top = html_dir.strip("/").split("/")[0]
    head = git.commit_of("HEAD")
    if head is None:
        return False
    built = git.commit_of(HTML_REF)
    spec = (f"{top}", "assets")
    now = [git.run("rev-parse", "-q", "--verify", f"{head}:{p}", check=False).stdout.strip() for p in spec]
    if now[0]:  # as html_edition builds it: with the offline files
        listed = with_offline(git, git.root, html_dir, [f"040000 tree {now[0]}\t{top}"])
        now[0] = listed[0].split()[2].split("\t")[0]
    then = [git.run("rev-parse", "-q", "--verify", f"{built}:{p}", check=False).stdout.strip() if built else ""
            for p in spec]
    return bool(now[0]) and now != then


def compact(config: Config, store: Store, edition: str, sleep: Callable[[float], None] = time.sleep
            ) -> tuple[str, list[PushResult]]:
    """Rewrite the edition's branch to one commit holding its current tree, force-push it to the remotes of that
    edition that allow it, and drop the old history locally (what other remotes have not received is kept)."""
    git = Git(config.output_dir, config.mirror.commit_author)
    if edition == "html":
        html_edition(git, config.editions.html_dir)
        ref = HTML_REF
    else:
        ref = git.out("symbolic-ref", "-q", "HEAD")
    old = git.commit_of(ref)
    if old is None:
        raise GitError(str(config.output_dir), f"no {edition} edition commit to compact yet")
    message = (f"newsmirror: history compacted ({utcnow().isoformat()}; was {old[:10]}, "
               f"{git.count(None, old)} commit(s))\n")
    new = git.commit_tree(git.tree_of(old), [], message)
    git.update_ref(ref, new, old)  # same tree: the index and the work tree stay as they are
    names = tuple(r.name for r in config.remotes if r.edition == edition and r.allow_force)
    results = push_all(config, store, names, force=True, sleep=sleep) if names else []
    git.run("reflog", "expire", "--expire=now", "--all")
    git.run("gc", "-q", "--prune=now")
    return new, results


def push_mirror(config: Config, names: tuple[str, ...] = ()) -> list[PushResult]:
    """`newsmirror push`: push each remote (or those named) its backlog, holding the mirror's run lock."""
    with _locked_state(config) as store:
        return push_all(config, store, names)


def compact_mirror(config: Config, edition: str) -> tuple[str, list[PushResult]]:
    """`newsmirror compact`: `compact`, holding the mirror's run lock."""
    with _locked_state(config) as store:
        return compact(config, store, edition)


@contextmanager
def _locked_state(config: Config) -> Iterator[Store]:
    """The state database under the run lock; its errors as one line naming the file (stage: publish)."""

    try:
        with run_lock(config.state_path), Store(config.state_path) as store:
            yield store
    except sqlite3.Error as exc:
        raise StateError.from_sqlite(config.state_path, exc, Stage.PUBLISH) from exc


def after_run(config: Config, store: Store, reporter: Reporter) -> list[PushResult]:
    """What follows each run's commit: push every remote its backlog, then report the mirror's size. One line
    each; failed pushes and size warnings show even with --quiet. Never raises for a failed push."""
    from newsmirror.publish.sizes import size_lines

    try:
        results = push_all(config, store)
    except (NewsmirrorError, OSError) as exc:  # a local git problem (disk full, broken repository)
        reporter.note(f"PUSH FAILED (all remotes): {exc}", important=True)
        results = []
    for result in results:
        reporter.note(result.line(), important=not result.ok)
    try:
        summary, warnings = size_lines(config, store)
    except GitError as exc:  # names the repository
        summary, warnings = [], [f"SIZE WARNING could not measure the mirror: {exc}"]
    except OSError as exc:
        summary, warnings = [], [f"SIZE WARNING could not measure {config.output_dir}: {exc}"]
    for line in summary:
        reporter.note(line)
    for line in warnings:
        reporter.note(line, important=True)
    return results
