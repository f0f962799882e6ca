"""Git plumbing for pushing: the environment that never waits for a password, and a rebase done on trees only.

Rebasing the mirror's commits onto a remote branch that someone edited (the non-fast-forward case) happens in a
throw-away index inside `.git`, never in the work tree: `read-tree -m` does the three-way merge per path, `merge-file`
merges a text file both sides changed, and a path that still differs on both sides is a conflict.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from newsmirror.publish.git import LOCAL_TIMEOUT, GitError, run_git
from newsmirror.publish.commit import split_author

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class ReplayConflict(GitError):
    def __init__(self, resource: str, paths: Sequence[str]):
        self.paths = tuple(paths)
        shown = ", ".join(self.paths[:3]) + (f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else "")
        super().__init__(resource, f"the mirror's commits conflict with the remote's in {shown}")


def batch_env(timeout: float) -> dict[str, str]:
    """Environment for git talking to a remote: never prompt, give up on a stalled connection."""
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_ASKPASS", "GIT_ASKPASS", "DISPLAY")}
    env.update({
        "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_ASKPASS": "false", "LC_ALL": "C",
        "GIT_SSH_COMMAND": f"ssh -o BatchMode=yes -o ConnectTimeout={max(1, int(timeout))}",
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": str(max(1, int(timeout))),
    })
    return env


class Git:
    """The mirror repository's git CLI, for plumbing commands (no work tree changes)."""

    def __init__(self, root: Path, author: str = "newsmirror <newsmirror@localhost>"):
        self.root = root
        self.name, self.email = split_author(author)

    def run(self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None,
            timeout: float | None = None, check: bool = True, text: bool = True) -> subprocess.CompletedProcess:
        """`timeout`: a command talking to a remote (push, fetch) gets its remote's, in a session of its own so
        that the timeout ends git's helpers too; local commands get gitcmd's default."""
        base = env if env is not None else dict(os.environ, LC_ALL="C")
        base = {**base, "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}
        base.setdefault("GIT_AUTHOR_NAME", self.name)
        base.setdefault("GIT_AUTHOR_EMAIL", self.email)
        return run_git(self.root, *args, input=input, env=base, check=check, text=text,
                       timeout=LOCAL_TIMEOUT if timeout is None else timeout, network=timeout is not None)

    def out(self, *args: str, **kwargs: object) -> str:
        return self.run(*args, **kwargs).stdout.strip()  # type: ignore[arg-type]

    def commit_of(self, ref: str | None) -> str | None:
        """The commit `ref` names, or None when it does not exist (here)."""
        if not ref:
            return None
        result = self.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return result.stdout.strip() or None

    def tree_of(self, commit: str) -> str:
        return self.out("rev-parse", f"{commit}^{{tree}}")

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.run("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def count(self, since: str | None, tip: str) -> int:
        """Commits reachable from `tip` but not from `since` (all of them when `since` is None)."""
        spec = [tip] if since is None else [f"{since}..{tip}"]
        return int(self.out("rev-list", "--count", *spec))

    def update_ref(self, ref: str, commit: str, old: str | None = None) -> None:
        self.run("update-ref", ref, commit, *([old] if old else []))

    def commit_tree(self, tree: str, parents: Sequence[str], message: str,
                    author: tuple[str, str, str] | None = None) -> str:
        env = dict(os.environ, LC_ALL="C")
        if author:
            env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1], GIT_AUTHOR_DATE=author[2])
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.out(*args, input=message, env=env)

    # -- rebase on trees --------------------------------------------------------------------------------------

    def three_way(self, base: str, ours: str, theirs: str, resource: str) -> str:
        """The tree that applies base→theirs to ours; ReplayConflict names the paths both sides changed."""
        scratch = self.root / ".git" / "newsmirror-tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        fd, index = tempfile.mkstemp(prefix="replay-", suffix=".index", dir=scratch)
        os.close(fd)
        os.unlink(index)  # read-tree creates it
        env = dict(os.environ, LC_ALL="C", GIT_INDEX_FILE=index)
        try:
            self.run("read-tree", "-i", "-m", "--aggressive", base, ours, theirs, env=env)
            conflicts = [path for path, stages in self._unmerged(env).items()
                         if not self._merge_text(path, stages, env)]
            if conflicts:
                raise ReplayConflict(resource, sorted(conflicts))
            return self.out("write-tree", env=env)
        finally:
            Path(index).unlink(missing_ok=True)

    def _unmerged(self, env: dict[str, str]) -> dict[str, dict[int, tuple[str, str]]]:
        found: dict[str, dict[int, tuple[str, str]]] = {}
        for entry in self.run("ls-files", "-u", "-z", env=env).stdout.split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                mode, sha, stage = meta.split()
                found.setdefault(path, {})[int(stage)] = (mode, sha)
        return found

    def _merge_text(self, path: str, stages: dict[int, tuple[str, str]], env: dict[str, str]) -> bool:
        """Merge a file changed on both sides when the changes do not overlap; False when they do."""
        if set(stages) != {1, 2, 3} or len({mode for mode, _ in stages.values()}) != 1:
            return False  # added on both sides, or deleted on one: a conflict
        with tempfile.TemporaryDirectory(dir=self.root / ".git" / "newsmirror-tmp") as tmp:
            names = []
            for stage in (2, 1, 3):  # ours, base, theirs: merge-file's order
                name = Path(tmp) / str(stage)
                name.write_bytes(run_git(self.root, "cat-file", "blob", stages[stage][1], text=False).stdout)
                names.append(str(name))
            merged = run_git(self.root, "merge-file", "-p", *names, check=False, text=False)
        if merged.returncode != 0:
            return False
        blob = run_git(self.root, "hash-object", "-w", "--stdin", input=merged.stdout, text=False).stdout
        self.run("update-index", "--cacheinfo", f"{stages[2][0]},{blob.decode().strip()},{path}", env=env)
        return True

    def replay(self, commits: Sequence[str], onto: str, resource: str) -> str:
        """Cherry-pick `commits` (oldest first) onto `onto` without a work tree; returns the new tip. A commit
        whose changes the remote already has is dropped."""
        tip = onto
        for commit in commits:
            parent = self.commit_of(f"{commit}^")
            tip_tree = self.tree_of(tip)
            tree = self.three_way(self.tree_of(parent) if parent else EMPTY_TREE, tip_tree, self.tree_of(commit),
                                  resource)
            if tree == tip_tree:
                continue
            name, email, date, message = self.out("log", "-1", "--format=%an%x00%ae%x00%aI%x00%B",
                                                  commit).split("\0", 3)
            tip = self.commit_tree(tree, [tip], message.strip() + "\n", (name, email, date))
        return tip

    def squash_onto(self, base: str | None, tip: str, onto: str, message: str, resource: str) -> str:
        """One commit on `onto` carrying what changed from `base` (or from nothing) to `tip`."""
        onto_tree = self.tree_of(onto)
        tree = self.three_way(self.tree_of(base) if base else EMPTY_TREE, onto_tree, self.tree_of(tip), resource)
        return onto if tree == onto_tree else self.commit_tree(tree, [onto], message)
