"""Publish: write rendered files atomically (only those that changed) and make one git commit per run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from newsmirror.records import NewsmirrorError, PublishResult, RenderedFile, Stage


class PublishError(NewsmirrorError):
    def __init__(self, resource: str, reason: str):
        super().__init__(resource, Stage.PUBLISH, reason)


def write_atomic(path: Path, content: bytes, scratch: Path | None = None) -> None:
    """Write via a temporary file and rename, so readers never see a partial file. The temporary file goes in
    `scratch` (same file system; the mirror's .git, so a kill never leaves one for git to commit) or beside `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=scratch or path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(root: Path, files: Iterable[RenderedFile]) -> list[str]:
    """Write every file whose bytes differ from what is on disk; return the paths written."""
    written = []
    seen: set[str] = set()
    scratch = root / ".git" / "newsmirror-tmp"
    if (root / ".git").is_dir():
        shutil.rmtree(scratch, ignore_errors=True)  # what a killed run left
        scratch.mkdir()
    else:
        scratch = None
    for file in files:
        if file.path in seen:
            raise PublishError(file.path, "rendered twice in one run")
        seen.add(file.path)
        target = root / file.path
        if not target.resolve().is_relative_to(root.resolve()):
            raise PublishError(file.path, "path escapes the mirror directory")
        if target.is_file() and target.read_bytes() == file.content:
            continue
        write_atomic(target, file.content, scratch)
        written.append(file.path)
    return written


class GitRepo:
    """The mirror's git work tree, driven through the git CLI."""

    def __init__(self, root: Path, author: str = "newsmirror <newsmirror@localhost>"):
        self.root = root
        name, _, email = author.partition("<")
        self.name = name.strip() or "newsmirror"
        self.email = email.rstrip(">").strip() or "newsmirror@localhost"

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
               "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}
        result = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, env=env)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise PublishError(str(self.root), f"git {args[0]} failed: {detail[-1] if detail else result.returncode}")
        return result

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / ".git").exists():
            self.git("init", "-q", "-b", "main")
        lock = self.root / ".git" / "index.lock"
        if lock.exists():  # left by a git process killed mid-commit; runs hold the state lock, so no git is running
            lock.unlink()

    def commit_all(self, message: str) -> str | None:
        """Stage everything and commit; None when the tree has no changes."""
        self.git("add", "-A")
        if not self.git("status", "--porcelain").stdout.strip():
            return None
        self.git("commit", "-q", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()


def publish(root: Path, files: Iterable[RenderedFile], message: str, author: str,
            after_write: Callable[[list[str]], None] | None = None) -> PublishResult:
    """Write what changed, let `after_write` derive more files from the written tree (the search index),
    then commit everything in one commit."""
    repo = GitRepo(root, author)
    repo.ensure()
    written = write_files(root, files)
    if after_write is not None:
        after_write(written)
    commit = repo.commit_all(message)
    return PublishResult(written=tuple(written), commit=commit)
