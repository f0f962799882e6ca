"""`views import`: counting pixel hits from common/combined access logs, idempotently, never storing addresses."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import timezone
from pathlib import Path

from newsmirror.config import Config, parse_config
from newsmirror.records import Article
from newsmirror.state.store import Store
from newsmirror.views.log_import import import_log, parse_line

CLIENT = "203.0.113.77"


def make_mirror(tmp_path: Path) -> Config:
    text = '[mirror]\ncounter_pixel = "https://counter.example/p/{path}"\nstate = "state.db"\n'
    (tmp_path / "newsmirror.toml").write_text(text)
    config = parse_config(text, tmp_path / "newsmirror.toml", tmp_path)
    stamp = "2026-11-01T00:00:00+00:00"
    with Store(config.state_path) as store:
        for ident in ("a1", "b1"):
            url = f"https://news.example.org/{ident}"
            store.ensure_article(ident, url, "world", stamp)
            store.save_article(ident, Article(url, ident, "t", "<p>t</p>"), "h", None, stamp)
    return config


def line(path: str, when: str = "26/Nov/2026:10:00:00 +0000", status: int = 200, method: str = "GET",
         combined: bool = True) -> str:
    text = f'{CLIENT} - - [{when}] "{method} {path} HTTP/1.1" {status} 43'
    if combined:
        text += ' "https://referrer-canary.example/" "CanaryAgent/1.0 (X11)"'
    return text + "\n"


def views(config: Config) -> dict[tuple[str, str], int]:
    with Store(config.state_path) as store:
        return {(r["page"], r["day"]): r["count"] for r in store.db.execute("SELECT * FROM views")}


def test_parse_line_reads_time_request_status_only():
    hit = parse_line(line("/p/pages/world/a1.md", "26/Nov/2026:01:30:00 +0800").encode().rstrip())
    assert hit is not None and hit.method == b"GET" and hit.target == b"/p/pages/world/a1.md"
    assert hit.status == 200 and hit.time.astimezone(timezone.utc).isoformat() == "2026-11-25T17:30:00+00:00"
    assert CLIENT.encode() not in repr(hit).encode() and b"Canary" not in repr(hit).encode()
    escaped = b'1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET /p/x\\"y HTTP/1.1" 200 43 "-" "-"'
    assert parse_line(escaped).target == b'/p/x\\"y'
    for junk in (b"", b"garbage", b'1.2.3.4 - - [not a time] "GET / HTTP/1.1" 200 1',
                 b'1.2.3.4 - - [26/Foo/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1'):
        assert parse_line(junk) is None


def test_import_counts_views_per_page_and_utc_day_and_only_successful_gets(tmp_path):
    config = make_mirror(tmp_path)
    log = tmp_path / "access.log"
    log.write_text(
        line("/p/pages/world/a1.md") * 3
        + line("/p/site/pages/world/a1.html", "26/Nov/2026:02:00:00 +0800")  # the 25th in UTC
        + line("/p/pages/world/b1.md?cache=1", combined=False)  # common format, query ignored
        + line("/p/pages/world/a1.md", method="HEAD") + line("/p/pages/world/a1.md", method="POST", status=405)
        + line("/p/pages/world/a1.md", status=404) + line("/p/pages/world/a1.md", status=304)
        + line("/p/pages/world/zz.md") + line("/p/..%2f..%2fetc%2fpasswd") + "not a log line\n"
    )
    with Store(config.state_path) as store:
        result = import_log(config, store, log)
    assert (result.lines, result.already, result.views, result.pages, result.ignored) == (12, 0, 6, 3, 6)
    assert views(config) == {("pages/world/a1.md", "2026-11-26"): 4, ("site/pages/world/a1.html", "2026-11-25"): 1,
                             ("pages/world/b1.md", "2026-11-26"): 1}


def test_import_is_idempotent_through_growth_rotation_and_gzip(tmp_path):
    config = make_mirror(tmp_path)
    log = tmp_path / "access.log"
    log.write_text(line("/p/pages/world/a1.md") * 2)
    with Store(config.state_path) as store:
        assert import_log(config, store, log).views == 2
        assert import_log(config, store, log).views == 0  # the same log again: nothing added
        # the log grows (and its last line is still being written): only the new complete lines count
        with log.open("a") as handle:
            handle.write(line("/p/pages/world/b1.md") * 20 + line("/p/pages/world/a1.md").rstrip("\n"))
        again = import_log(config, store, log)
        assert (again.already, again.views) == (2, 20)
        with log.open("a") as handle:
            handle.write("\n")
        assert import_log(config, store, log).views == 1  # the finished line
        # logrotate renames and compresses it: still the same log
        rotated = tmp_path / "access.log.1.gz"
        rotated.write_bytes(gzip.compress(log.read_bytes()))
        log.unlink()
        assert import_log(config, store, rotated).views == 0
        # a new log after rotation is a different log
        log.write_text(line("/p/pages/world/a1.md", "27/Nov/2026:00:00:01 +0000"))
        assert import_log(config, store, log).views == 1
        ledger = [tuple(r) for r in store.db.execute("SELECT * FROM view_imports")]
    assert views(config) == {("pages/world/a1.md", "2026-11-26"): 3, ("pages/world/b1.md", "2026-11-26"): 20,
                             ("pages/world/a1.md", "2026-11-27"): 1}
    assert len(ledger) == 2


def test_cli_import_stores_no_address_agent_or_referrer(tmp_path):
    config = make_mirror(tmp_path)
    log = tmp_path / "pixel.log.gz"
    log.write_bytes(gzip.compress((line("/p/pages/world/a1.md") * 5).encode()))
    command = [sys.executable, "-m", "newsmirror", "views", "import", str(log), "--format", "combined",
               "--config", str(tmp_path / "newsmirror.toml")]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "5 views added for 1 pages" in first.stdout
    assert "0 views added" in second.stdout and "(5 imported before)" in second.stdout
    assert views(config) == {("pages/world/a1.md", "2026-11-26"): 5}
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    for secret in (CLIENT, "CanaryAgent", "referrer-canary"):
        assert secret.encode() not in stored and secret not in first.stdout + first.stderr
