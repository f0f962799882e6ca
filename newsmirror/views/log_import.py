"""`newsmirror views import`: count pixel hits from a web server's access log (common or combined, plain or .gz).

For mirrors that serve the pixel from nginx or Apache instead of `serve-counter`. Each successful `GET` (2xx, 304)
of a pixel target of a page the mirror holds adds one view for that page on the request's UTC day. Only the time,
request line and status of a line are read: addresses, user names, referrers and agents are skipped by the parser
and never stored.

Importing is idempotent: a log is recognised by a fingerprint of its first lines (their times, requests, statuses
and sizes: nothing about clients), and the ledger remembers how many of its lines were counted. Importing the same
log again adds nothing; importing it after it grew (or after logrotate renamed or compressed it) adds only the new
lines. A last line without its newline (still being written) is left for the next import.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Iterator, Literal

from newsmirror.clock import utcnow
from newsmirror.config import Config
from newsmirror.views.targets import Targets, load_targets
from newsmirror.errors import NewsmirrorError, Stage, StateError
from newsmirror.state.store import Store

LogFormat = Literal["combined", "common"]
FINGERPRINT_LINES = 16
# host ident user [time] "request" status size: the three client fields are skipped, never captured
_LINE = re.compile(
    rb'^\S+ \S+ .*?\[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<size>\S+)'
)
_TIME = re.compile(rb"^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1)}


@dataclass(frozen=True)
class Hit:
    """What one log line says, and nothing about who asked."""

    time: datetime
    method: bytes
    target: bytes
    status: int
    size: bytes


def parse_line(line: bytes) -> Hit | None:
    """One common/combined log line (combined adds referrer and agent at the end, which are not read)."""
    match = _LINE.match(line)
    if not match:
        return None
    when = parse_time(match["time"])
    request = match["request"].split(b" ")
    if when is None or len(request) < 2:
        return None
    return Hit(when, request[0], request[1], int(match["status"]), match["size"])


def parse_time(text: bytes) -> datetime | None:
    """`10/Oct/2026:13:55:36 +0800` (locale-independent) as an aware datetime."""
    m = _TIME.match(text)
    month = _MONTHS.get(m[2].lower()) if m else None
    if m is None or month is None:
        return None
    offset = timedelta(hours=int(m[8]), minutes=int(m[9])) * (-1 if m[7] == b"-" else 1)
    try:
        return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=timezone(offset))
    except ValueError:
        return None


def counts_as_view(hit: Hit) -> bool:
    return hit.method == b"GET" and (200 <= hit.status < 300 or hit.status == 304)


def fingerprint(lines: list[bytes]) -> str:
    """A log's identity from its first lines, client fields left out (safe to store)."""
    digest = hashlib.sha256(b"newsmirror access log\n")
    for line in lines:
        hit = parse_line(line)
        digest.update(b"?\n" if hit is None else b"%s %s %s %d %s\n" % (
            hit.time.isoformat().encode(), hit.method, hit.target, hit.status, hit.size))
    return digest.hexdigest()


@dataclass(frozen=True)
class ImportResult:
    file: str
    lines: int  # complete lines in the log
    already: int  # of which an earlier import counted
    views: int  # views added
    pages: int  # pages that got views
    ignored: int  # new lines that were not a successful GET of a mirror page's pixel (or not a log line)


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else path.open("rb")


def _complete_lines(handle: IO[bytes]) -> Iterator[bytes]:
    for line in handle:
        if line.endswith(b"\n"):
            yield line.rstrip(b"\r\n")


def count_views(lines: Iterator[bytes], targets: Targets, skip: int) -> tuple[dict[tuple[str, str], int], int, int]:
    """(page, UTC day) -> views from the lines after the first `skip`; returns counts, lines read, lines ignored."""
    counts: dict[tuple[str, str], int] = {}
    total = ignored = 0
    for total, line in enumerate(lines, 1):
        if total <= skip:
            continue
        hit = parse_line(line)
        page = targets.page(hit.target) if hit is not None and counts_as_view(hit) else None
        if page is None:
            ignored += 1
            continue
        key = (page, hit.time.astimezone(timezone.utc).date().isoformat())
        counts[key] = counts.get(key, 0) + 1
    return counts, total, ignored


def import_file(config: Config, path: Path, log_format: LogFormat = "combined") -> ImportResult:
    """`newsmirror views import`: `import_log` into the mirror's state database; its errors as one line naming
    the file."""
    try:
        with Store(config.state_path) as store:
            return import_log(config, store, path, log_format)
    except sqlite3.Error as exc:
        raise StateError.from_sqlite(config.state_path, exc, Stage.STATE) from exc


def import_log(config: Config, store: Store, path: Path, log_format: LogFormat = "combined",
               now: datetime | None = None) -> ImportResult:
    """Add the views in the access log at `path` that no earlier import counted."""
    if log_format not in ("combined", "common"):
        raise NewsmirrorError(str(path), Stage.CONFIG, f"unknown log format {log_format!r} (combined or common)")
    targets = load_targets(config, store)
    stamp = (now or utcnow()).isoformat()
    try:
        with _open(path) as handle:
            head = [line for _, line in zip(range(FINGERPRINT_LINES), _complete_lines(handle))]
        if not head:
            return ImportResult(str(path), 0, 0, 0, 0, 0)
        # the log may have grown since it was last imported: look it up by its first 1..16 lines
        keys = [fingerprint(head[:k]) for k in range(1, len(head) + 1)]
        known = [(key, store.imported_lines(key)) for key in keys]
        old_keys = [key for key, lines in known if lines]
        skip = max((lines for _, lines in known), default=0)
        with _open(path) as handle:
            counts, total, ignored = count_views(_complete_lines(handle), targets, skip)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise NewsmirrorError(str(path), Stage.EXTRACT, f"cannot read the access log: {exc}") from exc
    with store.transaction():
        store.add_view_counts([(page, day, n) for (page, day), n in sorted(counts.items())])
        for key in old_keys:
            store.forget_import(key)
        store.record_import(keys[-1], max(total, skip), stamp)
    return ImportResult(str(path), total, min(skip, total), sum(counts.values()), len({p for p, _ in counts}),
                        ignored)
