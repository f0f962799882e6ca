"""decide (pure): page results + the articles' state before the run -> the updates a run writes. No store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from newsmirror.run.decide import decide
from newsmirror.errors import ExtractError, FetchError
from newsmirror.records import Article, ArticleState, Candidate, FetchTask, PageResult
from newsmirror.extract.transform import content_hash

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
URL = "https://n.example/a/1"
ARTICLE = Article(url=URL, title="Pier", text="The pier opens.", body_html="<p>The pier opens.</p>")


def task(channels=("news",), source="feed", version=None) -> FetchTask:
    return FetchTask(URL, "a1", channels, "new", Candidate(URL, channels[0], source, source_version=version))


def state(**changes) -> ArticleState:
    base = ArticleState(id="a1", url=URL, channel="news", channels=("news",), title="Pier", published=None,
                        status="ok", attempts=0, next_retry=None, source_version="v1",
                        content_hash=content_hash(ARTICLE), first_seen=NOW.isoformat(), source="feed")
    return replace(base, **changes)


def one(result: PageResult, existing: ArticleState | None = None):
    updates = decide([result], {"a1": existing} if existing else {}, NOW, 30)
    assert len(updates) == 1
    return updates[0]


def test_new_updated_unchanged_by_content():
    assert one(PageResult(task(), article=ARTICLE)).kind == "new"
    unchanged = one(PageResult(task(), article=ARTICLE), state())
    assert unchanged.kind == "unchanged" and not unchanged.rerender
    edited = one(PageResult(task(version="v2"), article=replace(ARTICLE, body_html="<p>The pier is open.</p>")), state())
    assert edited.kind == "updated" and edited.rerender and edited.source_version == "v2"
    # a failed article fetched again is new (it had no page)
    assert one(PageResult(task(), article=ARTICLE), state(status="failed", attempts=2)).kind == "new"


def test_failures_back_off_and_honour_the_server():
    failed = one(PageResult(task(), error=ExtractError(URL, "no article text")), state(status="failed", attempts=2))
    assert failed.kind == "failed" and failed.stage == "extract"
    assert failed.retry_at == (NOW + timedelta(minutes=120)).isoformat()  # third attempt: 30 min x 4
    busy = one(PageResult(task(), error=FetchError(URL, "HTTP 429", status=429, retry_after=3 * 3600)))
    assert busy.retry_at == (NOW + timedelta(hours=3)).isoformat()


def test_a_published_original_that_is_gone_stays_with_a_notice_once():
    gone = PageResult(task(), error=FetchError(URL, "HTTP 410 Gone", status=410))
    first = one(gone, state())
    assert first.kind == "removed" and first.newly and first.rerender
    again = one(gone, state(removed_at=NOW.isoformat()))
    assert again.kind == "removed" and not again.newly and not again.rerender
    assert one(gone).kind == "failed"  # never published: an ordinary failure


def test_new_channels_rerender_and_the_source_is_kept():
    moved = one(PageResult(task(channels=("news", "picks")), not_modified=True), state())
    assert moved.kind == "not_modified" and moved.rerender and moved.source == "feed"
    updates = decide([], {}, NOW, 30, new_channels=[("a2", ("picks",))])
    assert [(u.kind, u.article_id, u.channels, u.rerender) for u in updates] == [("channels", "a2", ("picks",), True)]
