"""Plan (pure): compare discovered candidates with state and decide what to fetch.

Candidates are de-duplicated by canonical URL across sources and channels: an article announced in two channels is
fetched and stored once, and listed in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collections.abc import Mapping

from newsmirror.ids import article_id, canonical_url, disambiguate
from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.records import ArticleState, Candidate, FetchTask


@dataclass(frozen=True)
class PlanOptions:
    id_patterns: dict[str, str | None] = field(default_factory=dict)  # source name -> id regex
    max_attempts: int = 8
    retry_base_minutes: float = 30.0


@dataclass(frozen=True)
class Plan:
    tasks: tuple[FetchTask, ...]
    # known, published articles that only gained a channel (no fetch needed)
    new_channels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # known articles seen again with nothing to do
    unchanged: tuple[str, ...] = ()
    # candidates that could not be planned (a bug on one value costs that article, never the run)
    failures: tuple[NewsmirrorError, ...] = ()


def merge_candidates(candidates: list[Candidate]) -> dict[str, tuple[Candidate, tuple[str, ...]]]:
    """Canonical URL -> (first candidate, every channel announcing it, in order)."""
    merged: dict[str, tuple[Candidate, list[str]]] = {}
    for candidate in candidates:
        url = canonical_url(candidate.url)
        if url not in merged:
            merged[url] = (candidate, [candidate.channel])
        else:
            first, channels = merged[url]
            if candidate.channel not in channels:
                channels.append(candidate.channel)
            if first.source_version is None and candidate.source_version is not None:
                merged[url] = (candidate, channels)
    return {url: (c, tuple(chans)) for url, (c, chans) in merged.items()}


def retry_delay(attempts: int, base_minutes: float) -> timedelta:
    """Back-off after `attempts` failures: base, 2x, 4x ... capped at one day."""
    return timedelta(minutes=min(base_minutes * 2 ** max(attempts - 1, 0), 24 * 60))


def retry_due(state: ArticleState, now: datetime, options: PlanOptions) -> bool:
    if state.attempts >= options.max_attempts:
        return False
    return state.next_retry is None or state.next_retry <= now.isoformat()


def plan(
    candidates: list[Candidate],
    known: dict[str, ArticleState],
    failed: list[ArticleState],
    now: datetime,
    options: PlanOptions,
    force: bool = False,
    ids_in_use: Mapping[str, str] | None = None,
) -> Plan:
    """Decide what to fetch. `known` maps canonical URL to state; `failed` lists articles awaiting a retry.

    `force` fetches every candidate whatever the state says (used by `newsmirror add`). `ids_in_use` maps every
    stored id to its URL, so a new article never takes an id that belongs to another URL.
    """
    tasks: list[FetchTask] = []
    new_channels: list[tuple[str, tuple[str, ...]]] = []
    unchanged: list[str] = []
    taken_ids = dict(ids_in_use or {})
    taken_ids.update({s.id: url for url, s in known.items()})
    planned: set[str] = set()

    failures: list[NewsmirrorError] = []
    for url, (candidate, channels) in merge_candidates(candidates).items():
        try:
            state = known.get(url)
            if state is None:
                new_id = article_id(url, options.id_patterns.get(candidate.source))
                if taken_ids.get(new_id, url) != url:
                    new_id = disambiguate(new_id, url)
                taken_ids[new_id] = url
                tasks.append(FetchTask(url, new_id, channels, "manual" if force else "new", candidate))
            elif force:
                tasks.append(FetchTask(url, state.id, _union(state.channels, channels), "manual", candidate))
            elif state.status != "ok":
                if retry_due(state, now, options):
                    tasks.append(FetchTask(url, state.id, _union(state.channels, channels), "retry", candidate))
            elif candidate.source_version and candidate.source_version != state.source_version:
                tasks.append(FetchTask(url, state.id, _union(state.channels, channels), "changed", candidate))
            elif set(channels) - set(state.channels):
                new_channels.append((state.id, tuple(c for c in channels if c not in state.channels)))
            else:
                unchanged.append(state.id)
        except Exception as exc:  # noqa: BLE001 - the error boundary of planning: one candidate at most
            failures.append(NewsmirrorError(candidate.url, Stage.PLAN, f"unexpected {type(exc).__name__}: {exc}"))
        planned.add(url)

    for state in failed:
        if state.url not in planned and state.status != "ok" and retry_due(state, now, options):
            # the source it came from, whose settings (rules, render_js, robots, convert) apply on every retry
            candidate = Candidate(url=state.url, channel=state.channel, source=state.source or "")
            tasks.append(FetchTask(state.url, state.id, state.channels or (state.channel,), "retry", candidate))
    return Plan(tuple(tasks), tuple(new_channels), tuple(unchanged), tuple(failures))


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(c for c in second if c not in first)


def canonical_urls(candidates: list[Candidate]) -> list[str]:
    return sorted({canonical_url(c.url) for c in candidates})


def candidate_ids(candidates: list[Candidate], id_patterns: dict[str, str | None]) -> set[str]:
    """The ids new candidates would take (so plan checks collisions against those, not every stored id)."""
    return {article_id(c.url, id_patterns.get(c.source)) for c in candidates}
