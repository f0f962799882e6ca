"""Push the mirror to every configured git remote after each run; keep each remote's backlog until it arrives.

Per remote: the Markdown edition pushes the work tree's branch (HEAD); the HTML edition pushes a commit built from
HEAD's `site/` and `assets/` trees plus a root `index.html` that opens `site/index.html` (`refs/newsmirror/html`,
parented on the previous one, so pushes stay fast-forward; the work tree is never touched). The state database
keeps, per remote, the mirror commit it last received (`last_pushed`); its backlog is everything after that.
A non-fast-forward push (someone edited the branch on the host) fetches the branch and rebases the backlog onto
it (gitreplay.py); a conflict is reported and the backlog kept. Remotes are pushed in parallel, each with its own
timeout and retries, so a dead one holds no other back. `compact` rewrites a branch to one commit.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from newsmirror.clock import utcnow
from newsmirror.config import Config, Remote
from newsmirror.publish.git import GitError, redact
from newsmirror.publish.replay import Git, batch_env
from newsmirror.run.progress import Reporter
from newsmirror.records import NewsmirrorError, Stage
from newsmirror.state.store import StateError, Store

HTML_REF = "refs/newsmirror/html"
PUSHED_REF = "refs/newsmirror/pushed/"  # + name: what a remote last received (kept for later rebases)
HEAD_REF = "refs/newsmirror/remote-heads/"  # + name: the remote branch's tip as last seen
FETCHED_REF = "refs/newsmirror/fetched/"  # + name
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# git's words for each kind of failure (lowercase), with whether retrying within this run may help
_KINDS = (
    (("authentication failed", "could not read username", "could not read password", "invalid username",
      "permission denied (publickey", "http 401", "http 403", "returned error: 401", "returned error: 403"),
     "authentication failed", False),
    (("does not appear to be a git repository", "not a git repository", "repository not found", "not found",
      "access denied or repository not exported", "no such repository", "not valid: is this a git repository"),
     "not a git repository", False),
    (("connection refused", "could not resolve host", "unable to connect", "failed to connect", "timed out",
      "network is unreachable", "no route to host", "couldn't connect", "connection reset", "unable to look up",
      "the remote end hung up"),
     "unreachable", True),
)


@dataclass(frozen=True)
class PushResult:
    remote: str
    url: str  # without credentials
    branch: str
    ok: bool
    commit: str | None = None  # the mirror commit the remote now has (or still lacks, when failed)
    commits: int = 0  # delivered now, or the backlog kept when failed
    rebased: bool = False  # the backlog was rebased onto edits made on the host
    forced: bool = False
    error: str | None = None

    def line(self) -> str:
        if not self.ok:
            return f"PUSH FAILED {self.remote} {self.url}: {self.error} (backlog kept: {self.commits} commit(s))"
        if self.commits == 0 and not self.forced:
            return f"pushed {self.remote}: up to date ({self.branch})"
        how = " (forced)" if self.forced else " (rebased onto the remote's own commits)" if self.rebased else ""
        return f"pushed {self.remote}: {self.commits} commit(s) to {self.branch} {self.commit[:10]}{how}"


def target_of(remote: Remote) -> str:
    """What identifies where a remote's state applies; a change makes the remote new."""
    return f"{remote.edition} {remote.target_branch} {redact(remote.url)}"


def expand_url(url: str) -> str:
    """Fill ${VAR} from the environment (for tokens kept out of the config file)."""
    return _VAR.sub(lambda match: _variable(match.group(1), url), url)


def _variable(name: str, url: str) -> str:
    if name not in os.environ:
        raise GitError(redact(url), f"environment variable {name} is not set")
    return os.environ[name]


# Hands git the user name and password of an http(s) remote from its environment, so that they never appear on a
# command line (which every user of the machine can read in `ps`); a URL's own credentials replace any other helper.
_CREDENTIAL_HELPER = ("!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
                      "\"$NEWSMIRROR_GIT_USERNAME\" \"$NEWSMIRROR_GIT_PASSWORD\"; }; f")


@dataclass(frozen=True)
class Endpoint:
    """Where git pushes: the URL without credentials, the options and environment that carry them."""

    url: str
    options: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def endpoint(url: str) -> Endpoint:
    """The remote's URL with ${VAR} filled in; user name and password of an http(s) URL move to a credential
    helper (`NEWSMIRROR_GIT_USERNAME` / `NEWSMIRROR_GIT_PASSWORD` in git's environment). In them, a ${VAR}'s value
    is taken as it is (a token may hold any character); the rest is percent-decoded, as in any URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return Endpoint(expand_url(url))
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    plain = urlunsplit(parts._replace(netloc=host))
    return Endpoint(expand_url(plain), ("-c", "credential.helper=", "-c", f"credential.helper={_CREDENTIAL_HELPER}"),
                    (("NEWSMIRROR_GIT_USERNAME", _credential(user, url)),
                     ("NEWSMIRROR_GIT_PASSWORD", _credential(password, url))))


def _credential(text: str, url: str) -> str:
    pieces = _VAR.split(text)  # literal, variable name, literal, ...
    return "".join(_variable(piece, url) if i % 2 else unquote(piece) for i, piece in enumerate(pieces))


def classify(stderr: str) -> tuple[str, bool]:
    """One line for a failed git transport command: '<kind>: <git's last words>', and whether to retry."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    at = next((i for i, ln in enumerate(lines) if ln.startswith("fatal:")), len(lines) - 1)
    last = lines[at] if lines else "git failed"
    if last.endswith(":") and at + 1 < len(lines):  # "unable to connect to HOST:" + the reason below it
        last += " " + lines[at + 1]
    last = last.removeprefix("fatal: ").removeprefix("error: ")
    lowered = stderr.lower()
    for needles, kind, transient in _KINDS:
        if any(n in lowered for n in needles):
            return f"{kind}: {last}", transient
    return last, True


def html_edition(git: Git, html_dir: str) -> str | None:
    """Commit HEAD's HTML edition (`site/` + `assets/` + a root index.html) onto HTML_REF; None without one."""
    head = git.commit_of("HEAD")
    if head is None:
        return None
    top = html_dir.strip("/").split("/")[0]
    entries = [ln for ln in git.out("ls-tree", head, "--", top, "assets").splitlines() if ln]
    if not any(ln.endswith(f"\t{top}") for ln in entries):
        return None
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


@dataclass(frozen=True)
class Known:
    """What the state database says a remote has."""

    pushed: str | None  # the mirror commit it last received
    head: str | None  # its branch tip then (differs after a rebase onto host edits)

    @classmethod
    def load(cls, store: Store, remote: Remote, git: Git) -> "Known":
        row = store.remote_state(remote.name)
        if row is None or row["target"] != target_of(remote):
            return cls(None, None)
        # objects gone (a new clone of the mirror): start again from what the remote has
        return cls(git.commit_of(row["last_pushed"]), git.commit_of(row["remote_head"]))


def backlog(git: Git, known: Known, tip: str | None) -> int:
    if tip is None or known.pushed == tip:
        return 0
    if known.pushed is None:
        return git.count(None, tip)
    return git.count(known.pushed, tip) if git.is_ancestor(known.pushed, tip) else 1


class _Pusher:
    """Pushes one remote: thread-safe (git only, no database)."""

    def __init__(self, git: Git, remote: Remote, known: Known, tip: str, sleep: Callable[[float], None]):
        self.git, self.remote, self.known, self.tip, self.sleep = git, remote, known, tip, sleep
        self.url = redact(remote.url)
        self.env = batch_env(remote.timeout)
        self.dest = f"refs/heads/{remote.target_branch}"

    def result(self, **kwargs: object) -> PushResult:
        return PushResult(self.remote.name, self.url, self.remote.target_branch, **kwargs)  # type: ignore[arg-type]

    def run(self, force: bool = False) -> PushResult:
        pending = backlog(self.git, self.known, self.tip)
        if not force and pending == 0:
            return self.result(ok=True, commit=self.tip)
        for attempt in range(self.remote.retries + 1):
            try:
                head, rebased = self._deliver(endpoint(self.remote.url), force)
                self.git.update_ref(PUSHED_REF + self.remote.name, self.tip)
                self.git.update_ref(HEAD_REF + self.remote.name, head)
                return self.result(ok=True, commit=head, commits=pending, rebased=rebased, forced=force)
            except GitError as exc:
                if not exc.transient or attempt == self.remote.retries:
                    return self.result(ok=False, commit=self.tip, commits=pending, error=exc.reason)
                self.sleep(self.remote.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    def _deliver(self, url: Endpoint, force: bool) -> tuple[str, bool]:
        """Push the backlog; returns (the remote's new tip, whether it was rebased)."""
        known, tip = self.known, self.tip
        fast_forward = known.pushed is None or (known.head == known.pushed and self.git.is_ancestor(known.pushed, tip))
        if force or fast_forward:
            if self._push(url, tip, force):
                return tip, False
            onto = self._fetch(url)  # rejected as non-fast-forward: the host has commits we lack
        else:
            onto = known.head  # rebased before: build on the remote's tip as we last saw it
        for _ in range(2):
            if self.git.is_ancestor(tip, onto):
                return onto, False  # the remote already has everything
            candidate = self._rebase(onto)
            if self._push(url, candidate, False):
                return candidate, True
            onto = self._fetch(url)
        raise GitError(self.url, "non-fast-forward: the remote branch keeps changing", transient=True)

    def _rebase(self, onto: str) -> str:
        pushed, tip = self.known.pushed, self.tip
        if pushed is not None and self.git.is_ancestor(pushed, tip):
            commits = self.git.out("rev-list", "--reverse", "--first-parent", f"{pushed}..{tip}").split()
            return self.git.replay(commits, onto, self.url)
        # first push to a branch with a history of its own, or after `compact` rewrote ours: one catch-up commit
        why = "the remote's own history" if pushed is None else "a rewritten mirror history"
        message = self.git.out("log", "-1", "--format=%B", tip) + f"\n\n(one catch-up commit onto {why})\n"
        return self.git.squash_onto(pushed, tip, onto, message, self.url)

    def _push(self, url: Endpoint, commit: str, force: bool) -> bool:
        """True when pushed; False when rejected as non-fast-forward; GitError otherwise."""
        args = [*url.options, "push", "--porcelain", "--no-verify", *(["--force"] if force else []), url.url,
                f"{commit}:{self.dest}"]
        result = self.git.run(*args, env={**self.env, **dict(url.env)}, timeout=self.remote.timeout, check=False)
        status = [ln for ln in result.stdout.splitlines() if ln.startswith(("!", "+", "*", " ", "=", "-"))]
        if result.returncode == 0:
            return True
        rejected = " ".join(status)
        if "[rejected]" in rejected and ("non-fast-forward" in rejected or "fetch first" in rejected):
            return False
        if "[remote rejected]" in rejected:
            why = rejected.split("[remote rejected]", 1)[1].strip(" ()")
            said = [ln.strip() for ln in result.stderr.splitlines() if ln.startswith("remote:") and ln[7:].strip()]
            extra = f" ({said[-1]})" if said else ""
            raise GitError(self.url, f"rejected by the remote: {why}{extra}")
        reason, transient = classify(result.stderr or rejected)
        raise GitError(self.url, reason, transient)

    def _fetch(self, url: Endpoint) -> str:
        ref = FETCHED_REF + self.remote.name
        result = self.git.run(*url.options, "fetch", "--no-write-fetch-head", "--no-tags", "-q", url.url,
                              f"+{self.dest}:{ref}", env={**self.env, **dict(url.env)}, timeout=self.remote.timeout,
                              check=False)
        if result.returncode != 0:
            reason, transient = classify(result.stderr)
            raise GitError(self.url, f"fetch after a non-fast-forward push: {reason}", transient)
        return self.git.out("rev-parse", ref)


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
            jobs.append((remote, _Pusher(git, remote, Known.load(store, remote, git), tip, sleep)))
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


@dataclass(frozen=True)
class RemoteStatus:
    remote: Remote
    pushed: str | None
    behind: int
    last_error: str | None
    updated: str | None
    last_success: str | None


def remote_statuses(config: Config, store: Store) -> list[RemoteStatus]:
    git = Git(config.output_dir, config.mirror.commit_author) if (config.output_dir / ".git").exists() else None
    found = []
    for remote in config.remotes:
        row = store.remote_state(remote.name)
        current = row is not None and row["target"] == target_of(remote)
        known = Known.load(store, remote, git) if git else Known(None, None)
        tip = local_tip(git, remote) if git else None
        behind = backlog(git, known, tip) if git else 0
        if git is not None and remote.edition == "html" and _html_stale(git, config.editions.html_dir):
            behind += 1  # the latest run's HTML commit is built at the next push
        found.append(RemoteStatus(
            remote, known.pushed, behind,
            row["last_error"] if current else None, row["updated"] if current else None,
            row["last_success"] if current else None,
        ))
    return found


def _html_stale(git: Git, html_dir: str) -> bool:
    top = html_dir.strip("/").split("/")[0]
    head = git.commit_of("HEAD")
    if head is None:
        return False
    built = git.commit_of(HTML_REF)
    spec = (f"{top}", "assets")
    now = [git.run("rev-parse", "-q", "--verify", f"{head}:{p}", check=False).stdout.strip() for p in spec]
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
    from newsmirror.pipeline import run_lock  # the pipeline imports this module (it pushes after each run)

    try:
        with run_lock(config.state_path), Store(config.state_path) as store:
            yield store
    except sqlite3.Error as exc:
        raise StateError(str(config.state_path), f"state database: {exc}", Stage.PUBLISH) from exc


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


def status_lines(config: Config, store: Store) -> list[str]:
    """`newsmirror status`: per remote, the last pushed commit, how many commits it is behind, its last error."""
    if not config.remotes:
        return []
    lines = ["", "remotes:"]
    for s in remote_statuses(config, store):
        pushed = f"{s.pushed[:10]} ({s.last_success})" if s.pushed else "nothing yet"
        lines.append(f"  {s.remote.name:<16} {s.remote.edition} -> {s.remote.target_branch}  {redact(s.remote.url)}")
        lines.append(f"  {'':<16} last pushed {pushed}; {s.behind} commit(s) behind; "
                     f"last error: {s.last_error or 'none'}" + (f" ({s.updated})" if s.last_error else ""))
    return lines
