"""One way to run git: `run_git(root, *args)`, with a timeout, raising `GitError` (a `PublishError`) that names the
repository, the stage and git's last words.

Local commands get a generous timeout (`LOCAL_TIMEOUT`), so a git that hangs (a stale lock on a network file
system, a wedged hook) ends the run with an error instead of holding it forever; `gc` gets longer (`GC_TIMEOUT`).
Commands that talk to a remote (`network=True`: push, fetch) get their remote's configured timeout and run in a
session of their own, so that a timeout also ends git's transport helpers (remote-http, ssh). Local commands stay in
the run's process group: whatever kills a run (Ctrl-C, a service manager, a test's `killpg`) kills them too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from newsmirror.errors import PublishError

LOCAL_TIMEOUT = 600.0  # seconds: no local git command of a run takes this long (staging 200,000 files: ~0.2 s)
GC_TIMEOUT = 3600.0  # `gc` repacks the whole history (compact, or `gc --auto` after a commit)
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def redact(text: str) -> str:
    """Drop user names and tokens from every URL in `text`."""
    return _USERINFO.sub(r"\1", text)


class GitError(PublishError):
    """A git command failed or timed out; `transient` says whether trying again later may help. Credentials in
    URLs are dropped from the message."""

    def __init__(self, resource: str, reason: str, transient: bool = False):
        self.transient = transient
        super().__init__(redact(resource), redact(reason))


def command_name(args: tuple[str, ...]) -> str:
    """The git subcommand in `args` (past `-c key=value` and other global options), for messages."""
    words = iter(args)
    for word in words:
        if word in ("-c", "-C"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return args[0] if args else "git"


def run_git(root: Path, *args: str, input: str | bytes | None = None, env: Mapping[str, str] | None = None,
            check: bool = True, timeout: float = LOCAL_TIMEOUT, network: bool = False,
            text: bool = True) -> subprocess.CompletedProcess:
    """Run `git *args` in `root`, capturing its output (str, or bytes with `text=False`).

    A non-zero exit raises GitError when `check` (else the result tells); a timeout always raises (transient), as
    does a git that cannot be started. `env`: git's whole environment (default: this process's)."""
    name = command_name(args)
    try:
        process = subprocess.Popen(["git", *args], cwd=root, env=None if env is None else dict(env), text=text,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=network)
    except OSError as exc:
        raise GitError(str(root), f"git {name} did not run: {exc.strerror or exc}") from exc
    try:
        out, err = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(process, network)
        raise GitError(str(root), f"git {name} timed out after {timeout:g}s", transient=True) from None
    except BaseException:  # KeyboardInterrupt: git does not outlive the run
        _end(process, network)
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if check and result.returncode != 0:
        detail = (err or out or "").strip()
        lines = (detail.decode(errors="replace") if isinstance(detail, bytes) else detail).splitlines()
        raise GitError(str(root), f"git {name} failed: {lines[-1] if lines else result.returncode}")
    return result


def _end(process: subprocess.Popen, network: bool) -> None:
    """Kill git (with its helpers, when it has a session of its own) and reap it, without waiting for output a
    helper may still hold open."""
    try:
        if network:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:  # a broken pipe while flushing what git never read
                pass
