"""Push mechanics: one remote's backlog delivered by git, thread-safe (git only, no database).

A non-fast-forward push (someone edited the branch on the host) fetches the branch and rebases the backlog onto
it (replay.py); a conflict is reported and the backlog kept. Credentials in a remote's URL (and ${VAR}s filled from
the environment) reach git through a credential helper, never its command line. Transport failures are classified
('authentication failed', 'unreachable', ...) and the transient ones retried with back-off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from newsmirror.config import Remote
from newsmirror.publish.git import GitError, redact
from newsmirror.publish.replay import Git, batch_env

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


@dataclass(frozen=True)
class Known:
    """What the state database says a remote has."""

    pushed: str | None  # the mirror commit it last received
    head: str | None  # its branch tip then (differs after a rebase onto host edits)


def backlog(git: Git, known: Known, tip: str | None) -> int:
    if tip is None or known.pushed == tip:
        return 0
    if known.pushed is None:
        return git.count(None, tip)
    return git.count(known.pushed, tip) if git.is_ancestor(known.pushed, tip) else 1


class Pusher:
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
