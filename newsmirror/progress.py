"""Feedback while a run works: live per-stage progress on a terminal, one line per failure otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.records import ArticleUpdate, ItemResult, RenderedFile, RunSummary

QUIET, NORMAL, VERBOSE = 0, 1, 2


class Reporter:
    """Plain reporter for cron and CI (no TTY): failures one per line, a one-line summary at the end."""

    def __init__(self, verbosity: int = NORMAL, stream: TextIO | None = None):
        self.verbosity = verbosity
        self.stream = stream or sys.stderr
        self.started = time.monotonic()

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stage(self, name: str, total: int | None = None) -> None:
        if self.verbosity >= VERBOSE:
            self._line(f"{name}: {total if total is not None else '?'} item(s)")

    def advance(self, name: str, amount: int = 1) -> None:
        pass

    def item(self, result: ItemResult) -> None:
        if not result.ok:
            self._line(f"FAILED {result.error}")
        elif self.verbosity >= VERBOSE:
            self._line(f"{result.outcome:9} {result.url} -> {result.article_id}")

    def failure(self, message: str) -> None:
        self._line(f"FAILED {message}")

    def note(self, message: str, important: bool = False) -> None:
        """One line after a run (pushes, sizes); `important` ones (failed pushes, warnings) show even with -q."""
        if important or self.verbosity >= NORMAL:
            self._line(message)

    def summary(self, summary: RunSummary) -> None:
        if self.verbosity >= NORMAL:
            self._line(summary_line(summary, time.monotonic() - self.started), stream=sys.stdout)

    def close(self) -> None:
        pass

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        print(text, file=stream or self.stream, flush=True)


class RichReporter(Reporter):
    """Live progress bars per stage on a terminal."""

    def __init__(self, verbosity: int = NORMAL, console: Console | None = None):
        super().__init__(verbosity)
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.progress.start()

    def stage(self, name: str, total: int | None = None) -> None:
        if name in self.tasks:
            self.progress.update(self.tasks[name], total=total)
        else:
            self.tasks[name] = self.progress.add_task(name, total=total)

    def advance(self, name: str, amount: int = 1) -> None:
        if name not in self.tasks:
            self.stage(name)
        self.progress.advance(self.tasks[name], amount)

    def item(self, result: ItemResult) -> None:
        if not result.ok:
            self.progress.console.print(f"[red]FAILED[/red] {result.error}", markup=True, highlight=False)
        elif self.verbosity >= VERBOSE:
            self.progress.console.print(f"{result.outcome:9} {result.url} -> {result.article_id}", highlight=False)

    def failure(self, message: str) -> None:
        self.progress.console.print(f"[red]FAILED[/red] {message}", markup=True, highlight=False)

    def note(self, message: str, important: bool = False) -> None:
        if important or self.verbosity >= NORMAL:
            self.progress.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()


def summary_line(summary: RunSummary, seconds: float) -> str:
    commit = summary.publish.commit[:10] if summary.publish.commit else "no changes, no commit"
    sources = f"{summary.sources_read} source(s) read"
    if summary.sources_failed:
        sources += f", {summary.sources_failed} failed"
    return (
        f"{summary.new} new, {summary.updated} updated, {summary.unchanged} unchanged, {summary.failed} failed; "
        f"{f'{summary.gone} removed at the source; ' if summary.gone else ''}"
        f"{sources}; {len(summary.publish.written)} file(s) written to {summary.output} ({commit}) in {seconds:.1f}s"
    )


def make_reporter(verbosity: int) -> Reporter:
    if verbosity > QUIET and sys.stderr.isatty():
        return RichReporter(verbosity)
    return Reporter(verbosity)


def counted(reporter: Reporter, stage: str, files: Iterable[RenderedFile]) -> Iterator[RenderedFile]:
    """Pass files through, advancing the reporter's `stage` as each one is produced."""
    reporter.stage(stage, None)
    for file in files:
        reporter.advance(stage)
        yield file


def report_failures(errors: Iterable[NewsmirrorError], summary: RunSummary, reporter: Reporter) -> None:
    """Items that failed before they were fetched (planning): one line each, counted as failed."""
    for error in errors:
        summary.failed += 1
        summary.failures.append(ItemResult(error.resource, error.stage, False, error=str(error)))
        reporter.failure(str(error))


def tally(update: ArticleUpdate, summary: RunSummary, reporter: Reporter) -> None:
    """Count one update in the run's summary (a 304 counts as unchanged, a removal only as its notice) and
    report it; a failure is one line."""
    kind, stage = update.kind, Stage(update.stage) if update.stage else Stage.EXTRACT
    if kind == "channels":
        return
    if kind == "failed":
        error = NewsmirrorError(update.url, stage, update.reason or "")
        result = ItemResult(update.url, stage, False, update.article_id, kind, str(error))
        summary.failures.append(result)
    elif kind == "removed":
        result = ItemResult(update.url, stage, True, update.article_id, kind, update.reason)
        summary.gone += update.newly
    elif kind == "not_modified":
        result = ItemResult(update.url, Stage.FETCH, True, update.article_id, "unchanged")
        summary.unchanged += 1
    else:
        result = ItemResult(update.url, Stage.EXTRACT, True, update.article_id, kind)
    if kind in ("new", "updated", "unchanged", "failed"):
        setattr(summary, kind, getattr(summary, kind) + 1)
        summary.count(update.channel, kind)
    reporter.item(result)
