"""Publish: write rendered files atomically (only those that changed) and make one git commit per run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from newsmirror.errors import PublishError
from newsmirror.publish.git import GC_TIMEOUT, LOCAL_TIMEOUT, run_git
from newsmirror.records import PublishResult, RenderedFile


def scratch_dir(root: Path) -> Path | None:
    """The directory for temporary files of writes into the work tree `root` outside `write_files` (image assets
    written as they are made): inside .git, so a killed run leaves none in the tree; None before `git init`."""
    if not (root / ".git").is_dir():
        return None
    scratch = root / ".git" / "newsmirror-tmp"
    scratch.mkdir(exist_ok=True)
    return scratch


def process_umask() -> int:
    """The process umask, read without changing it (Linux reports it in /proc; elsewhere set and restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def inside(root: Path, relative: str) -> Path:
    """`root / relative`, refused before anything is written when it resolves outside the mirror (a `..` in
    the path, or a symlinked directory on the way, such as `assets -> /elsewhere`)."""
    target = root / relative
    if not target.resolve().is_relative_to(root.resolve()):
        raise PublishError(relative, "path escapes the mirror directory (through '..' or a symlink)")
    return target


def check_tree(root: Path, managed: Iterable[str]) -> None:
    """Refuse a work tree whose managed paths (or the directories directly inside them, such as `assets/ab`)
    lead outside it, before a run writes its first byte."""
    for name in managed:
        top = inside(root, name)
        if top.is_dir() and not top.is_symlink():
            for child in top.iterdir():
                if child.is_symlink():
                    inside(root, f"{name}/{child.name}")


def write_atomic(path: Path, content: bytes, scratch: Path | None = None) -> None:
    """Write via a temporary file and rename, so readers never see a partial file. The temporary file goes in
    `scratch` (same file system; the mirror's .git, so a kill never leaves one for git to commit) or beside `path`.
    The file gets the mode the process umask gives a new file (as git checkout writes it), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=scratch or path.parent)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())
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
        target = inside(root, file.path)
        if target.is_file() and target.read_bytes() == file.content:
            continue
        write_atomic(target, file.content, scratch)
        written.append(file.path)
    return written


def remove_files(root: Path, paths: Iterable[str]) -> list[str]:
    """Delete mirror files that retention retired (and directories left empty); return the paths removed."""
    removed = []
    for path in sorted(set(paths)):
        target = inside(root, path)
        if target.is_file():
            target.unlink()
            removed.append(path)
            parent = target.parent
            while parent != root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    return removed


def split_author(author: str) -> tuple[str, str]:
    """"Name <email>" (config `commit_author`) -> (name, email), with defaults for a missing part."""
    name, _, email = author.partition("<")
    return name.strip() or "newsmirror", email.rstrip(">").strip() or "newsmirror@localhost"


class GitRepo:
    """The mirror's git work tree, driven through the git CLI."""

    def __init__(self, root: Path, author: str = "newsmirror <newsmirror@localhost>"):
        self.root = root
        self.name, self.email = split_author(author)
        self.changed: list[str] | None = None  # see commit_all

    def git(self, *args: str, check: bool = True, input: str | None = None,
            timeout: float = LOCAL_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run git in the work tree as the commit author; GitError (a PublishError) when it fails or hangs."""
        env = {**os.environ, "GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
               "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}
        return run_git(self.root, *args, input=input, env=env, check=check, timeout=timeout)

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Lock files left by a git process killed mid-commit or mid-init (index.lock, next-index-*.lock, HEAD.lock,
        # config.lock, refs/heads/main.lock ...): runs hold the state lock, so no git of ours is running.
        git_dir = self.root / ".git"
        for lock in [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]:
            lock.unlink(missing_ok=True)
        # No repository yet, or a `git init` killed half-way (a .git without its objects/ or HEAD is no repository
        # to git: every later run would fail); `git init` again completes it.
        if not git_dir.exists() or git_dir.is_dir() and not all((git_dir / name).exists()
                                                                for name in ("HEAD", "config", "objects", "refs")):
            self.git("init", "-q", "-b", "main")
        if self.git("config", "--get", "core.splitIndex", check=False).returncode == 1:  # unset
            # a run then rewrites a small index file, not the whole index (~30 MB at 200,000 files); version 4
            # compresses the paths that every page shares
            self.git("config", "core.splitIndex", "true")
            self.git("config", "index.version", "4")

    def commit_all(self, message: str, paths: Sequence[str] = ()) -> str | None:
        """Stage `paths` (default: the whole tree) and commit them; None when they have no changes. Only these
        paths go into the commit: files people keep elsewhere in the tree are neither staged nor committed.

        When `self.changed` is set (every file a run rendered, written or found unchanged, every file it removed,
        and whole directories it regenerated), only those are staged, so the cost follows the run, not the tree
        (at 200,000 files `git add -A` takes ~0.6 s, staging twenty paths ~0.15 s)."""
        if self.changed is not None:
            self._stage(sorted(set(self.changed)))
            return self._commit_index(message)
        known = [p for p in paths if (self.root / p).exists() or self.git("ls-files", "--", p).stdout.strip()]
        if paths and not known:
            return None
        spec = ["--", *known] if known else []
        self.git("add", "-A", *spec)
        if not self.git("status", "--porcelain", "--untracked-files=no", *spec).stdout.strip():
            return None
        self.git("commit", "-q", "--no-verify", "-m", message, *spec)  # these paths only, whatever else is staged
        return self.git("rev-parse", "HEAD").stdout.strip()

    def _stage(self, paths: list[str]) -> None:
        """Files by name (`update-index`: no pathspec matching, no directory walk: ~0.1 s at 200,000 files where
        `git add` takes ~0.25 s), directories with `git add -A`, what is gone with `git rm -r --cached` (a gone
        path may have been a directory)."""
        files = [p for p in paths if not (self.root / p).is_dir()]
        folders = [p for p in paths if (self.root / p).is_dir()]
        gone = [p for p in paths if not os.path.lexists(self.root / p)]
        if files:
            self.git("update-index", "--add", "--remove", "-z", "--stdin", input="\0".join(files))
        from_stdin = ("--pathspec-from-file=-", "--pathspec-file-nul")
        if folders:
            self.git("add", "-A", *from_stdin, input="\0".join(folders))
        if gone:  # removed by this run or by a killed one before it
            self.git("rm", "-r", "-q", "--cached", "--ignore-unmatch", *from_stdin, input="\0".join(gone))

    def _commit_index(self, message: str) -> str | None:
        """Commit the index with plumbing (write-tree, commit-tree, update-ref): `git commit` would first re-stat
        every file of the tree (~1 s at 200,000 files) to refresh an index the run has just written. The branch
        moves only if it is still where it was (update-ref's old value), so a commit is never lost."""
        tree = self.git("write-tree").stdout.strip()
        head = self.git("rev-parse", "--verify", "-q", "HEAD", check=False).stdout.strip()
        if head and self.git("rev-parse", "HEAD^{tree}").stdout.strip() == tree:
            return None
        commit = self.git("commit-tree", tree, *(("-p", head) if head else ()), input=message).stdout.strip()
        self.git("update-ref", "-m", f"commit: {message.splitlines()[0] if message else ''}", "HEAD", commit, head)
        # what `git commit` does to keep loose objects in check
        self.git("gc", "--auto", "--quiet", check=False, timeout=GC_TIMEOUT)
        return commit

    def discard_uncommitted(self, paths: Iterable[str]) -> None:
        """Put the managed `paths` back as the last commit has them (after a failed run), so the work tree is
        never left dirty; files elsewhere (people's own pages) are not touched."""
        targets = [p for p in paths if (self.root / p).exists()]
        if not targets:
            return
        if self.git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0:
            self.git("reset", "-q", "--", *targets, check=False)
            self.git("checkout", "-q", "--", *targets, check=False)
        else:  # the first run failed: what it wrote is all there is (and nothing of it was committed)
            self.git("rm", "-rq", "--cached", "--ignore-unmatch", "--", *targets, check=False)
        self.git("clean", "-fdq", "--", *targets, check=False)


def publish(root: Path, files: Iterable[RenderedFile], message: str, author: str,
            after_write: Callable[[list[str]], list[str] | None] | None = None, remove: Iterable[str] = (),
            managed: Sequence[str] = ()) -> PublishResult:
    """Write what changed, remove what retention retired, let `after_write` derive more files from the written
    tree (the search index), then commit everything in one commit. When `after_write` returns the paths it
    regenerated, only the rendered, removed and regenerated paths are staged (see `GitRepo.commit_all`)."""
    repo = GitRepo(root, author)
    repo.ensure()
    rendered: list[str] = []
    written = write_files(root, (rendered.append(f.path) or f for f in files))
    remove = list(remove)
    removed = remove_files(root, remove)
    regenerated = after_write(written + removed) if after_write is not None else None
    if regenerated is not None:  # after_write named what it regenerated: stage exactly what this run touched
        repo.changed = [*rendered, *remove, *regenerated]
    commit = repo.commit_all(message, managed)
    return PublishResult(written=tuple(written), removed=tuple(removed), commit=commit)
