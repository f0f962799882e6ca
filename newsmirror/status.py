"""What `newsmirror status` shows: sources, article counts, recent failures (one line each)."""

from __future__ import annotations

import sqlite3

from newsmirror.publish import remote_status
from newsmirror.config import Config
from newsmirror.clock import utcnow
from newsmirror.run import recheck
from newsmirror.errors import Stage, StateError
from newsmirror.publish.sizes import size_lines
from newsmirror.state.store import Store


def status_lines(config: Config, failure_limit: int = 10) -> list[str]:
    lines = [f"mirror:  {config.output_dir}", f"state:   {config.state_path}", "", "sources:"]
    for source in config.sources:
        where = source.url or f"{len(source.urls)} URL(s)"
        flag = "" if source.enabled else " (disabled)"
        lines.append(f"  {source.name:<20} {source.kind:<8} -> {source.channel:<12} {where}{flag}")
    if not config.state_path.exists():
        return lines + ["", "no runs yet"]
    try:
        return lines + _state_lines(config, failure_limit)
    except sqlite3.Error as exc:  # unreadable, locked by a migration, corrupt: one line naming the file
        raise StateError.from_sqlite(config.state_path, exc, Stage.STATE) from exc


def _state_lines(config: Config, failure_limit: int) -> list[str]:
    lines: list[str] = []
    with Store(config.state_path) as store:
        counts = store.counts()
        lines += ["", "articles per channel (ok / failed / pending):"]
        for channel in sorted(set(config.channel_names()) | set(counts)):
            c = counts.get(channel, {})
            lines.append(f"  {channel:<20} {c.get('ok', 0):>5} / {c.get('failed', 0):>4} / {c.get('pending', 0):>4}")
        last = store.last_run()
        if last:
            lines += ["", f"last run: {last['finished']} - {last['new']} new, {last['updated']} updated, "
                          f"{last['failed']} failed, commit {last['commit_id'] or 'none'}"]
        lines += recheck.status_lines(store, utcnow())
        failures = store.recent_failures(failure_limit)
        lines += ["", "recent failures:" if failures else "recent failures: none"]
        lines += [f"  {f.at}  {f.url}  [{f.stage}]  {f.reason}" for f in failures]
        images = store.failed_images(failure_limit)
        if images:
            lines += ["", "images waiting for a retry (placeholders shown meanwhile):"]
            lines += [f"  {row['src']}  ({row['attempts']} attempt(s))  {row['last_error']}" for row in images]
        lines += remote_status.status_lines(config, store)
        # the last report is read, not written: a running run may hold the write lock
        summary, warnings = size_lines(config, store, save=False)
    return lines + ([""] if summary else []) + summary + warnings
