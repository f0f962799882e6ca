"""`newsmirror status` for remotes: per remote, what it last received, how far behind it is, its last error."""

from __future__ import annotations

from dataclasses import dataclass

from newsmirror.config import Config, Remote
from newsmirror.publish.git import redact
from newsmirror.publish.push import Known, backlog
from newsmirror.publish.remotes import html_stale, known_state, local_tip, target_of
from newsmirror.publish.replay import Git
from newsmirror.state.store import Store


@dataclass(frozen=True)
class RemoteStatus:
    remote: Remote
    pushed: str | None
    behind: int
    last_error: str | None
    updated: str | None
    last_success: str | None


def remote_statuses(config: Config, store: Store) -> list[RemoteStatus]:
    git = Git(config.output_dir, config.mirror.commit_author) if (config.output_dir / ".git").exists() else None
    found = []
    for remote in config.remotes:
        row = store.remote_state(remote.name)
        current = row is not None and row["target"] == target_of(remote)
        known = known_state(store, remote, git) if git else Known(None, None)
        tip = local_tip(git, remote) if git else None
        behind = backlog(git, known, tip) if git else 0
        if git is not None and remote.edition == "html" and html_stale(git, config.editions.html_dir):
            behind += 1  # the latest run's HTML commit is built at the next push
        found.append(RemoteStatus(
            remote, known.pushed, behind,
            row["last_error"] if current else None, row["updated"] if current else None,
            row["last_success"] if current else None,
        ))
    return found


def status_lines(config: Config, store: Store) -> list[str]:
    """`newsmirror status`: per remote, the last pushed commit, how many commits it is behind, its last error."""
    if not config.remotes:
        return []
    lines = ["", "remotes:"]
    for s in remote_statuses(config, store):
        pushed = f"{s.pushed[:10]} ({s.last_success})" if s.pushed else "nothing yet"
        lines.append(f"  {s.remote.name:<16} {s.remote.edition} -> {s.remote.target_branch}  {redact(s.remote.url)}")
        lines.append(f"  {'':<16} last pushed {pushed}; {s.behind} commit(s) behind; "
                     f"last error: {s.last_error or 'none'}" + (f" ({s.updated})" if s.last_error else ""))
    return lines
