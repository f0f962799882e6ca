"""Re-check: published articles are fetched again (conditional GET) on a decaying schedule after first seen, so
edits and removals at the source are found also where no feed says so.

    with_rechecks(config, store, now, plan)          the due re-checks join the plan's tasks    reads state
    work, decide                                      as for any task (a 304 costs nothing more)
    review(updates, existing, previous, rechecked)    edits -> versions; churn -> no edit; placeholders -> removed   pure
    record(store, config, reviewed, rechecks, now)    versions, events and each article's next re-check -> state

The schedule: article first seen at T is re-checked at T + each of `recheck_hours` ([revisions], or the source's
own), the next one due after each check; a run takes at most `max_per_run` of the due ones (longest waiting
first), the rest wait for later runs. An edit is a change of the extracted title or text beyond whitespace and
churn (`churn_key`): clock times, "3 hours ago", view/comment/like counts and "updated <date>" stamps are masked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from newsmirror.config import Config
from newsmirror.records import Article, ArticleState, ArticleUpdate, Candidate, FetchTask
from newsmirror.run.plan import Plan
from newsmirror.state.store import Store

RECHECK = "recheck"  # the FetchTask reason of a re-check
OVER_AFTER = timedelta(days=1)  # a schedule whose last check is this far past ends without a fetch

_NUMBER = r"\d[\d,.]*\s*[kKmM万千]?\+?"
_COUNTED = r"(?:views?|reads?|comments?|likes?|shares?|replies|repl(?:y|ies)|次阅读|阅读量?|浏览量?|条评论|评论|点赞|转发|人看过)"
_DATE = (r"(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?"
         r"(?:\s+\d{4})?|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+\d{4})?)")
_CHURN = [
    re.compile(rf"(?:last\s+)?(?:updated|modified|edited|更新于|更新时间|最后更新|修改于)\s*(?:on|at)?\s*[:：]?\s*{_DATE}?",
               re.I),
    re.compile(_DATE, re.I),  # only where it is part of a stamp: see churn_key
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?", re.I),  # clock times
    re.compile(r"\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?)\s+ago|\d+\s*(?:秒|分钟|小时|天|周)前", re.I),
    re.compile(rf"{_NUMBER}\s*{_COUNTED}|{_COUNTED}\s*[:：]?\s*{_NUMBER}", re.I),
]
_GONE_TEXT = re.compile(r"page not found|not found|no longer available|(?:has|have) been (?:removed|deleted|taken down)|"
                        r"does not exist|页面不存在|内容不存在|文章不存在|已被删除|已删除|找不到|无法查看|暂时无法访问", re.I)
_HOME_PATHS = {"", "/", "/index.html", "/index.htm", "/index.php", "/default.aspx"}


# -- pure: the schedule, edits, removals ---------------------------------------------------------------------------


def hours_for(config: Config, source: str | None) -> list[float]:
    for configured in config.sources:
        if configured.name == source and configured.recheck_hours is not None:
            return configured.recheck_hours
    return config.revisions.recheck_hours


def next_check(first_seen: datetime, hours: list[float], after: datetime, from_step: int = 0
               ) -> tuple[int, datetime] | None:
    """The first check (step, time) from `from_step` on that falls after `after`; None once the schedule is over."""
    for step in range(from_step, len(hours)):
        due = first_seen + timedelta(hours=hours[step])
        if due > after:
            return step, due
    return None


def churn_key(title: str, text: str) -> str:
    """What an edit must change: title and text in NFC, whitespace collapsed, churn masked (stamps: "Updated
    2026-01-05 10:32", clock times, "3 hours ago", "1,204 views", "评论 12"). A date in running text outside a
    stamp is masked too; a changed date alone is therefore not an edit (the price of ignoring date stamps)."""
    key = unicodedata.normalize("NFC", f"{title}\n{text}")
    for pattern in _CHURN:
        key = pattern.sub("#", key)
    return " ".join(key.split())


def placeholder_reason(new: Article, old: Article | None) -> str | None:
    """Why a fetched article is a "gone" page rather than the article (a short not-found or deleted notice, or a
    body shrunk to a stub), or None."""
    text = " ".join(new.text.split())
    said_before = old is not None and bool(_GONE_TEXT.search(f"{old.title}\n{old.text}"))
    if len(text) < 400 and not said_before and (_GONE_TEXT.search(text) or _GONE_TEXT.search(new.title or "")):
        return "the page now says it is not available"
    if old is not None and len(" ".join(old.text.split())) >= 1000 and len(text) < 200:
        return "the body became a stub"
    return None


def redirected_home(url: str, final_url: str) -> bool:
    """A redirect from an article to its site's home page: the article is gone."""
    asked, landed = urlsplit(url), urlsplit(final_url)
    return (landed.path in _HOME_PATHS and not landed.query and asked.path not in _HOME_PATHS
            and landed.hostname is not None)


@dataclass(frozen=True)
class Version:
    article_id: str
    previous: Article  # kept as version 1 when the article has no versions yet
    previous_seen: str
    current: Article


@dataclass
class Reviewed:
    updates: list[ArticleUpdate]
    versions: list[Version] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (article id, kind, reason)


def review(updates: Iterable[ArticleUpdate], existing: Mapping[str, ArticleState], previous: Mapping[str, Article],
           rechecked: Iterable[str]) -> Reviewed:
    """Decide what the fetched texts of published articles mean: a placeholder is a removal; a change that is only
    churn is no edit (a re-check keeps the stored text and page as they are); any other change is a new version;
    an article found again after a removal is a re-appearance (its page loses the notice)."""
    rechecked = set(rechecked)
    out = Reviewed([])
    for update in updates:
        state, old = existing.get(update.article_id), previous.get(update.article_id)
        published = state is not None and state.status == "ok"
        if update.kind == "not_modified" and published and state.removed_at and old is not None:
            # a 304 for a removed article: it answers again with the text we kept
            update = replace(update, kind="unchanged", article=old, content_hash=state.content_hash)
        if update.article is None or not published:
            if update.kind == "removed" and update.newly:
                out.events.append((update.article_id, "removed", update.reason or ""))
            out.updates.append(update)
            continue
        assert state is not None
        gained = bool(set(update.channels) - set(state.channels))
        gone = placeholder_reason(update.article, old) if update.kind == "updated" else None
        if gone:
            newly = state.removed_at is None
            reason = f"original removed at the source ({gone}); the mirrored page stays"
            if newly:
                out.events.append((update.article_id, "removed", reason))
            out.updates.append(ArticleUpdate("removed", update.article_id, update.url, update.channels,
                                             update.source, stage="fetch", reason=reason, newly=newly,
                                             rerender=newly or gained))
            continue
        back = state.removed_at is not None
        if back:
            out.events.append((update.article_id, "reappeared", ""))
        if old is not None and update.kind == "updated":
            same = churn_key(old.title, old.text) == churn_key(update.article.title, update.article.text)
            if same and update.article_id in rechecked:
                update = replace(update, kind="unchanged", article=old, content_hash=state.content_hash,
                                 image_failures=(), rerender=gained)
            elif not same:
                out.versions.append(Version(update.article_id, old, state.edited_at or state.first_seen,
                                            update.article))
                out.events.append((update.article_id, "edited", ""))
        out.updates.append(replace(update, rerender=True) if back else update)
    return out


# -- I/O: which re-checks are due, what they found ----------------------------------------------------------------


@dataclass(frozen=True)
class Rechecks:
    steps: dict[str, int] = field(default_factory=dict)  # article id -> the step re-checked this run
    ended: tuple[str, ...] = ()  # schedules that end without a fetch (retired, or long over)


def with_rechecks(config: Config, store: Store, now: datetime, planned: Plan) -> tuple[Plan, Rechecks]:
    """The plan with this run's due re-checks added (at most `max_per_run`, longest waiting first; an article
    the plan fetches anyway is re-checked by that fetch)."""
    limit = config.revisions.max_per_run
    if limit == 0:
        return planned, Rechecks()
    fetching = {task.article_id for task in planned.tasks}
    tasks, steps, ended = [], {}, []
    for due in store.due_rechecks(now.isoformat(), limit):
        state = due.state
        hours = hours_for(config, state.source)
        over = not hours or now > _time(state.first_seen) + timedelta(hours=hours[-1]) + OVER_AFTER
        if state.retired or state.status != "ok" or over:
            ended.append(state.id)
        elif state.id not in fetching:
            candidate = Candidate(url=state.url, channel=state.channel, source=state.source or "",
                                  title=state.title, published=state.published)
            tasks.append(FetchTask(state.url, state.id, state.channels or (state.channel,), RECHECK, candidate))
            steps[state.id] = due.step
    return replace(planned, tasks=planned.tasks + tuple(tasks)), Rechecks(steps, tuple(ended))


def previous_records(store: Store, updates: Iterable[ArticleUpdate], existing: Mapping[str, ArticleState]
                     ) -> dict[str, Article]:
    """The stored text of each published article this run fetched a text for (what an edit is measured against)."""
    found = {}
    for update in updates:
        state = existing.get(update.article_id)
        fetched = update.article is not None or (update.kind == "not_modified" and state and state.removed_at)
        if fetched and state is not None and state.status == "ok":
            record = store.article_record(update.article_id)
            if record is not None:
                found[update.article_id] = record
    return found


def record(store: Store, config: Config, reviewed: Reviewed, rechecks: Rechecks, now: datetime) -> None:
    """Write what the re-checks found and when each article is checked next (in the run's transaction)."""
    stamp = now.isoformat()
    for version in reviewed.versions:
        if store.revision_count(version.article_id) == 0:
            store.add_revision(version.article_id, version.previous_seen, version.previous)
        store.add_revision(version.article_id, stamp, version.current)
    for article_id, kind, reason in reviewed.events:
        store.record_source_event(article_id, stamp, kind, reason)
    for article_id in rechecks.ended:
        store.end_rechecks(article_id)
    for update in reviewed.updates:
        if update.kind == "new":
            _schedule(store, update.article_id, hours_for(config, update.source), now, now, 0)
    for article_id, step in rechecks.steps.items():
        state = store.article(article_id)
        if state is not None:
            _schedule(store, article_id, hours_for(config, state.source), _time(state.first_seen), now, step + 1)


def _schedule(store: Store, article_id: str, hours: list[float], first_seen: datetime, now: datetime,
              from_step: int) -> None:
    upcoming = next_check(first_seen, hours, now, from_step)
    if upcoming is None:
        store.end_rechecks(article_id)
    else:
        store.schedule_recheck(article_id, upcoming[1].isoformat(), upcoming[0])


def _time(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def status_lines(store: Store, now: datetime, days: int = 7) -> list[str]:
    """`newsmirror status`: the re-check backlog, and what re-checks found at the source lately."""
    due, scheduled = store.recheck_backlog(now.isoformat())
    found = store.source_event_counts((now - timedelta(days=days)).isoformat())
    return ["", f"re-checks: {due} due now, {scheduled} scheduled",
            f"at the source in the last {days} days: {found.get('edited', 0)} edited, "
            f"{found.get('removed', 0)} removed, {found.get('reappeared', 0)} back after a removal"]
