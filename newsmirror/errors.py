"""Errors: each names one resource (a URL or a file) and the stage it failed in, as one line a user can read.

`NewsmirrorError` is the base; the stage errors that more than one package raises or catches live here too (fetch,
extract, state, publish). A stage's own errors live with it (e.g. `GitError` in publish/git.py, `ConfigError` in
config.py) and derive from `NewsmirrorError`. The CLI turns every one of them into one line on stderr.
"""

from __future__ import annotations

import shutil
from enum import Enum
from pathlib import Path


class Stage(str, Enum):
    CONFIG = "config"
    DISCOVER = "discover"
    PLAN = "plan"
    FETCH = "fetch"
    EXTRACT = "extract"
    TRANSFORM = "transform"
    RENDER = "render"
    PUBLISH = "publish"
    STATE = "state"  # the state database itself (open, migrate, a full disk)


MAX_SHOWN = 500  # characters of a resource or reason shown in one message line


def printable(value: object, limit: int = MAX_SHOWN) -> str:
    """`value` as one printable line: control and other non-printable characters escaped (a newline in a URL
    or a reason cannot split a `FAILED` line), cut at `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NewsmirrorError(Exception):
    """An error about one resource (URL or file) at one stage; `str()` is a one-line user message."""

    def __init__(self, resource: str, stage: Stage | str, reason: str):
        self.resource = resource
        self.stage = Stage(stage)
        self.reason = reason
        super().__init__(f"{printable(resource)} [{self.stage.value}] {printable(reason, 4 * MAX_SHOWN)}")

    def __reduce__(self):
        # whole across processes (a process pool's or Dask's result), whatever a subclass's constructor takes:
        # the default would call it with `args` (the message) alone
        return _rebuild_error, (type(self), self.args, self.__dict__.copy())


def _rebuild_error(cls: type[NewsmirrorError], args: tuple, state: dict) -> NewsmirrorError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class FetchError(NewsmirrorError):
    """`retry_after`: seconds the server asked us to wait (a Retry-After longer than we wait within a run);
    the URL is not retried before then."""

    def __init__(self, url: str, reason: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(url, Stage.FETCH, reason)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class ExtractError(NewsmirrorError):
    def __init__(self, url: str, reason: str):
        super().__init__(url, Stage.EXTRACT, reason)


class StateError(NewsmirrorError):
    """The state database cannot be used (unreadable, locked, full, or from a newer newsmirror)."""

    def __init__(self, path: str, reason: str, stage: Stage = Stage.STATE):
        super().__init__(path, stage, reason)

    @classmethod
    def from_sqlite(cls, path: Path, exc: Exception, stage: Stage = Stage.STATE) -> StateError:
        """SQLite's own words, plus the likely cause when it only says "disk I/O error" on a full disk (it does
        when the journal, not the database, runs out of space)."""
        reason = f"state database: {exc}"
        if "I/O error" in str(exc) and _nearly_full(path.parent):
            reason += " (No space left on device)"
        return cls(str(path), reason, stage)


def _nearly_full(directory: Path) -> bool:
    """Under 1 MiB free where `directory` lives (False when that cannot be told)."""
    try:
        return shutil.disk_usage(directory).free < 1 << 20
    except OSError:
        return False


class PublishError(NewsmirrorError):
    """Writing or committing the mirror failed."""

    def __init__(self, resource: str, reason: str):
        super().__init__(resource, Stage.PUBLISH, reason)
