"""Decide (pure): what each page result means for its article, as intents the run applies to state at once.

    decide(outcomes, existing, now, ...) -> [ArticleUpdate]      no I/O: tested without a store
    Store.apply(updates, run_id, now)                            every write, in the run's one transaction

An update's `kind` is what happened to the article this run: new, updated, unchanged (fetched, same content),
not_modified (a 304), removed (the original answers 404/410 or an error marked `gone`, such as a redirect to its
site's home page; the mirrored page stays), failed (with the time of
its next attempt), or channels (a known article listed in more channels, nothing fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from newsmirror.run.plan import retry_delay
from newsmirror.errors import NewsmirrorError
from newsmirror.records import ArticleState, ArticleUpdate, PageResult
from newsmirror.extract.transform import content_hash

GONE = frozenset({404, 410})  # a published article answering these was removed at its source
MAX_SERVER_WAIT = timedelta(days=7)  # a Retry-After further away than this is taken as this


def retry_wait(error: NewsmirrorError, attempts: int, base_minutes: float) -> timedelta:
    """The back-off after a failure, or longer when the server asked for more (Retry-After)."""
    wait = retry_delay(attempts, base_minutes)
    asked = getattr(error, "retry_after", None)
    return max(wait, timedelta(seconds=min(asked, MAX_SERVER_WAIT.total_seconds()))) if asked else wait


def decide(outcomes: Iterable[PageResult], existing: Mapping[str, ArticleState], now: datetime,
           retry_base_minutes: float, new_channels: Iterable[tuple[str, tuple[str, ...]]] = ()) -> list[ArticleUpdate]:
    """One update per outcome (in URL order, so state is written deterministically), then one per known article
    that only gained channels. `existing` maps article id to its state before this run."""
    updates = [_one(outcome, existing.get(outcome.task.article_id), now, retry_base_minutes)
               for outcome in sorted(outcomes, key=lambda o: o.task.url)]
    updates += [ArticleUpdate("channels", article_id, "", channels, rerender=True)
                for article_id, channels in new_channels]
    return updates


def _one(outcome: PageResult, state: ArticleState | None, now: datetime, base_minutes: float) -> ArticleUpdate:
    task = outcome.task
    published = state is not None and state.status == "ok"
    gained = published and bool(set(task.channels) - set(state.channels))  # its new channels' indexes list it
    common = dict(article_id=task.article_id, url=task.url, channels=task.channels, source=task.candidate.source)
    error = outcome.error
    gone = getattr(error, "status", None) in GONE or getattr(error, "gone", False)
    if error is not None and published and gone:
        newly = state.removed_at is None
        reason = f"original removed at the source ({error.reason}); the mirrored page stays"
        return ArticleUpdate("removed", **common, stage=error.stage.value, reason=reason, newly=newly,
                             rerender=newly or gained)
    if error is not None:
        attempts = (state.attempts if state else 0) + 1
        retry_at = (now + retry_wait(error, attempts, base_minutes)).isoformat()
        return ArticleUpdate("failed", **common, stage=error.stage.value, reason=error.reason, retry_at=retry_at,
                             rerender=gained)
    version = task.candidate.source_version
    if outcome.not_modified:
        return ArticleUpdate("not_modified", **common, source_version=version, rerender=gained)
    assert outcome.article is not None
    digest = content_hash(outcome.article)
    kind = ("unchanged" if state.content_hash == digest else "updated") if published else "new"
    return ArticleUpdate(kind, **common, article=outcome.article, content_hash=digest, source_version=version,
                         etag=outcome.etag, last_modified=outcome.last_modified,
                         image_failures=outcome.image_failures, rerender=kind != "unchanged" or gained)
