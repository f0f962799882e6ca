"""One run at a time per mirror: an advisory lock on a file next to the state database."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsmirror.errors import NewsmirrorError, Stage


class RunLockedError(NewsmirrorError):
    def __init__(self, path: Path):
        super().__init__(str(path), Stage.CONFIG, "another newsmirror run holds this mirror's lock")


@contextmanager
def run_lock(state_path: Path) -> Iterator[None]:
    """One run at a time per mirror (an advisory lock next to the state file)."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(lock_path) from None
        yield
