"""Retention: the policy that decides which article pages a run removes from the work tree.

Per channel, keep the newest `keep_newest` pages and/or those of the last `keep_days` days (a channel's settings
override the mirror-wide defaults; unset means keep everything). A retired article keeps its entry on the channel's
index and archive pages, which then links to the original URL, so nothing is orphaned; pages in the hot list are
never retired. The selection is one query (`Store.retention_candidates`). Retirement is final: a retired page is
not brought back when its article changes at the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.state.channels import all_channels
from newsmirror.views.hot import hot_list
from newsmirror.records import RunSummary
from newsmirror.state.store import Store


@dataclass(frozen=True)
class Policy:
    keep_newest: int | None = None
    keep_days: int | None = None

    @property
    def active(self) -> bool:
        return self.keep_newest is not None or self.keep_days is not None

    def cutoff_day(self, now: datetime) -> str | None:
        """Pages dated before this day (YYYY-MM-DD) are too old; None without `keep_days`."""
        return None if self.keep_days is None else (now - timedelta(days=self.keep_days)).date().isoformat()


def policy_for(config: Config, channel: str) -> Policy:
    settings = config.channels.get(channel)
    newest = settings.keep_newest if settings and settings.keep_newest is not None else config.mirror.keep_newest
    days = settings.keep_days if settings and settings.keep_days is not None else config.mirror.keep_days
    return Policy(newest, days)


def retire(config: Config, store: Store, now: datetime, summary: RunSummary, changed: set[str]) -> list[str]:
    """Apply retention: mark the articles it selects as retired in state; return their page files to remove.
    Pages whose text links to a retired article join `changed`, so their link goes back to the original URL."""
    policies = {name: policy_for(config, name) for name in all_channels(config, store)}
    policies = {name: policy for name, policy in policies.items() if policy.active}
    if not policies:
        return []
    protected = {state.id for state in hot_list(config, store, now)}
    chosen = [state for name, policy in policies.items()
              for state in store.retention_candidates(name, policy.keep_newest, policy.cutoff_day(now))
              if state.id not in protected]
    store.retire([state.id for state in chosen], now.isoformat())
    changed.update(store.articles_linking_to([state.url for state in chosen]))
    for state in chosen:
        summary.count(state.channel, "removed")
    return [path for state in chosen for path in layout.article_files(config, state)]
