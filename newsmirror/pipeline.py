"""One incremental pass, top to bottom:

    discover   read_sources.discover_all   sources -> Candidates (+ validators, failures)        I/O
    plan       plan.plan                   Candidates + state -> FetchTasks                       pure
    recheck    recheck.with_rechecks       + the published articles due a re-check (conditional GET)  reads
    work       work.fetch_and_extract      FetchTasks -> PageResults (page task per host, images)  I/O, all cores
    decide     decide.decide               PageResults + state -> ArticleUpdates                  pure
               recheck.review              edits -> versions, churn -> no edit, placeholders -> removed  pure
    render     editions.render_changed     state -> every edition's files, streamed               pure + reads
    publish    publish.publish             files -> the work tree, one git commit                 I/O
    offline    offline.build_due           EPUB digests, ZIM, OPDS when due (not committed)      I/O
    apply      Store.apply + commit        ArticleUpdates -> state, in the run's one transaction  I/O

State is committed only after the mirror is published, so a run killed at any point is simply done again by the
next one, which converges to the same files. One bad item is a failure record, never an abort.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from newsmirror import layout

from newsmirror.editions import offline, regenerate

from newsmirror.publish import mirrorlist, remotes
from newsmirror.editions import worker
from newsmirror.fetch.assets import ImageLocaliser
from newsmirror.clock import utcnow
from newsmirror.config import Config
from newsmirror.run.decide import decide
from newsmirror.run import recheck
from newsmirror.editions.seam import listed_channels, open_editions, render_changed, render_failed
from newsmirror.fetch.client import Fetcher
from newsmirror.run.plan import Plan, PlanOptions, candidate_ids, canonical_urls, plan
from newsmirror.progress import Reporter, counted, report_failures, tally
from newsmirror.sources.read import discover_all
from newsmirror.records import Candidate, PageResult, RunSummary
from newsmirror.fetch.resolve import ResolvingTransport
from newsmirror.publish.retention import retire
from newsmirror.run.work import asset_files, extract_options, fetch_and_extract, retry_images
from newsmirror.errors import NewsmirrorError, PublishError, Stage, StateError
from newsmirror.publish.commit import GitRepo, check_tree, publish
from newsmirror.state.lock import run_lock
from newsmirror.state.store import Store
from newsmirror.extract.transform import content_hash


@dataclass(frozen=True)
class RunRequest:
    """What one pass should do; the default is a full incremental run over every source."""

    only: tuple[Candidate, ...] | None = None  # mirror just these (newsmirror add)
    force: bool = False  # fetch even what state says is unchanged
    rebuild: bool = False  # re-render every page from state (the network only to retry images that failed)
    executor: str = "local"  # where extraction and images run: local | dask-local | dask://HOST:PORT


@dataclass
class _Progress:
    """The stage a run is in, so that an error of the machine (a full disk, a locked database) names it."""

    stage: Stage = Stage.STATE


def run_once(config: Config, reporter: Reporter | None = None, request: RunRequest = RunRequest(),
             now: datetime | None = None) -> RunSummary:
    reporter = reporter or Reporter()
    progress = _Progress()
    try:
        with run_lock(config.state_path), Store(config.state_path) as store:
            summary = asyncio.run(_run(config, store, reporter, request, now or utcnow(), progress))
            remotes.after_run(config, store, reporter)  # push each remote its backlog, report sizes; never raises
            return summary
    except sqlite3.Error as exc:  # one line naming the file and the stage, never a traceback
        raise StateError.from_sqlite(config.state_path, exc, progress.stage) from exc
    except OSError as exc:
        where = exc.filename or config.output_dir
        raise NewsmirrorError(str(where), progress.stage, exc.strerror or str(exc)) from exc


async def _run(config: Config, store: Store, reporter: Reporter, request: RunRequest, now: datetime,
               progress: _Progress) -> RunSummary:
    stamp = now.isoformat()
    extractor_options = extract_options(config)  # bad rules files or OpenCC profiles: config errors, first
    mirror_key = mirrorlist.load_key(config)  # a missing signing key, or one inside the work tree, too
    summary = RunSummary(output=str(config.output_dir))
    run_id = store.start_run(stamp)
    progress.stage = Stage.PUBLISH
    GitRepo(config.output_dir, config.mirror.commit_author).ensure()  # before assets are written into the tree
    check_tree(config.output_dir, layout.managed_paths(config))  # no symlink out of the mirror, before any write
    progress.stage = Stage.DISCOVER

    async with _fetcher(config) as fetcher:
        if request.only is not None:
            candidates, caches, unread = list(request.only), [], []
        else:
            candidates, caches, unread = await discover_all(config, store, fetcher, reporter, summary)
        progress.stage = Stage.PLAN
        options = PlanOptions(
            id_patterns={s.name: s.id_pattern for s in config.sources},
            max_attempts=config.mirror.max_attempts, retry_base_minutes=config.mirror.retry_base_minutes,
        )
        decided = plan(
            candidates, store.articles_by_url(canonical_urls(candidates)),
            [] if request.only is not None else store.failed_articles(), now, options,
            force=request.force, ids_in_use=store.ids_in_use(candidate_ids(candidates, options.id_patterns)),
        )
        report_failures(decided.failures, summary, reporter)
        rechecks = recheck.Rechecks()
        if request.only is None:
            decided, rechecks = recheck.with_rechecks(config, store, now, decided)
        localiser = ImageLocaliser(config.images, store, fetcher, root=config.output_dir) \
            if config.images.localise else None
        progress.stage = Stage.FETCH
        outcomes = await fetch_and_extract(config, store, fetcher, decided.tasks, extractor_options, localiser,
                                           reporter, request.executor)
        retried = [] if localiser is None else \
            await retry_images(config, store, localiser, {t.article_id for t in decided.tasks})

    progress.stage = Stage.PUBLISH
    try:
        with store.transaction():
            for url, etag, last_modified in caches:
                store.save_cache(url, etag, last_modified, stamp)
            for error in [*unread, *decided.failures]:  # sources and items that failed early: `status` lists them
                store.record_failure(run_id, error.resource, error.stage.value, error.reason, stamp)
            changed = _decide_and_apply(store, outcomes, decided, now, config, summary, run_id, reporter, rechecks)
            for article_id, article, _assets in retried:
                store.save_article(article_id, article, content_hash(article), None, stamp)
                changed.add(article_id)
            retired_files = retire(config, store, now, summary, changed)
            names = listed_channels(config, store)
            editions = open_editions(config, store, names, regenerate.PagesByUrl(store))
            # streamed: each file is rendered, written and dropped in turn (never the whole run in memory)
            files = counted(reporter, "render", itertools.chain(
                asset_files(config, outcomes, retried), worker.list_and_worker(config, mirror_key, now),
                render_changed(config, store, editions, names, changed, now, full=request.rebuild,
                               on_failure=render_failed(store, config, now, run_id, summary, reporter))))
            reporter.stage("publish", 1)
            summary.publish = publish(config.output_dir, files, commit_message(summary, now),
                                      config.mirror.commit_author,
                                      after_write=lambda written: [path for edition in editions
                                                                   for path in edition.finish(written)],
                                      remove=retired_files, managed=layout.managed_paths(config))
            for edition in editions:
                edition.committed()
            offline.build_due(config, store, now, reporter)  # EPUB digests, ZIM: when due; never committed
            reporter.advance("publish")
            store.finish_run(run_id, utcnow().isoformat(), summary.new, summary.updated, summary.unchanged,
                             summary.failed, summary.publish.commit)
    except (NewsmirrorError, OSError, sqlite3.Error) as exc:
        # Nothing of this run's state was committed; keep a record of why, and let the user see it.
        error = _one_line(exc, config)
        if (config.output_dir / ".git").is_dir():  # never leave the work tree dirty: back to the last commit
            GitRepo(config.output_dir, config.mirror.commit_author).discard_uncommitted(layout.managed_paths(config))
        try:
            with store.transaction():
                store.record_failure(run_id, error.resource, error.stage.value, error.reason, stamp)
        except sqlite3.Error:
            pass  # the state cannot take the record (a full disk): the message below still tells the user
        if error is exc:
            raise
        raise error from exc
    return summary


def _fetcher(config: Config) -> Fetcher:
    transport = ResolvingTransport(config.fetch.resolve) if config.fetch.resolve else None
    return Fetcher(config.fetch, transport=transport)


def _decide_and_apply(store: Store, results: list[PageResult], decided: Plan, now: datetime, config: Config,
                      summary: RunSummary, run_id: int, reporter: Reporter,
                      rechecks: recheck.Rechecks = recheck.Rechecks()) -> set[str]:
    """Decide what the results mean (pure), write it to state, count it; return the ids whose page must be
    (re)rendered."""
    existing = {s.id: s for s in map(store.article, [r.task.article_id for r in results]) if s is not None}
    decided_updates = decide(results, existing, now, config.mirror.retry_base_minutes, decided.new_channels)
    reviewed = recheck.review(decided_updates, existing, recheck.previous_records(store, decided_updates, existing),
                              rechecks.steps)
    updates = reviewed.updates
    store.apply(updates, run_id, now.isoformat())
    recheck.record(store, config, reviewed, rechecks, now)
    for update in updates:
        tally(update, summary, reporter)
    summary.unchanged += len(decided.unchanged)
    return {u.article_id for u in updates if u.rerender}


def _one_line(exc: Exception, config: Config) -> NewsmirrorError:
    """A publish-time failure as the error the user sees: the file and the stage, no traceback."""
    if isinstance(exc, NewsmirrorError):
        return exc
    if isinstance(exc, sqlite3.Error):
        return StateError.from_sqlite(config.state_path, exc, Stage.PUBLISH)
    assert isinstance(exc, OSError)
    return PublishError(str(exc.filename or config.output_dir), exc.strerror or str(exc))


def commit_message(summary: RunSummary, now: datetime) -> str:
    """A subject with the run's totals and ISO timestamp, then one line per channel that changed."""
    subject = (f"newsmirror {now.isoformat()}: {summary.new} new, {summary.updated} updated, "
               f"{summary.removed} removed, {summary.failed} failed")
    lines = []
    for channel in sorted(summary.by_channel):
        counts = summary.by_channel[channel]
        parts = [f"{counts[kind]} {kind}" for kind in ("new", "updated", "removed", "failed") if counts.get(kind)]
        if parts:
            lines.append(f"{channel}: {', '.join(parts)}")
    return subject + ("\n\n" + "\n".join(lines) if lines else "")

