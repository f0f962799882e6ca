"""Commands that set up, run, publish and inspect a mirror."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsmirror.cli import config_option, load_config_option, main, quiet_option, verbose_option, verbosity
from newsmirror.records import Candidate, RunSummary

if TYPE_CHECKING:
    from newsmirror.config import Config
    from newsmirror.pipeline import RunRequest


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(directory: Path) -> None:
    """Write a commented newsmirror.toml into DIRECTORY."""
    from newsmirror.config import init_config

    path = init_config(directory)
    click.echo(f"wrote {path}; edit its [[sources]], then run: newsmirror run --config {path}")


def _run(config: Config, request: RunRequest, quiet: bool, verbose: bool) -> RunSummary:
    from newsmirror.pipeline import run_once
    from newsmirror.progress import make_reporter

    with make_reporter(verbosity(quiet, verbose)) as reporter:
        summary = run_once(config, reporter, request)
        reporter.summary(summary)
    if nothing_done(summary):
        sys.exit(1)
    return summary


def nothing_done(summary: RunSummary) -> bool:
    """Non-zero exit only when nothing could be done: every source failed, or every article attempted failed."""
    all_sources_failed = summary.sources_failed > 0 and summary.sources_read == 0
    all_articles_failed = summary.failed > 0 and not summary.published_anything
    return all_sources_failed or all_articles_failed


@main.command()
@config_option
@quiet_option
@verbose_option
@click.option("--executor", "executor", default="local", show_default=True,
              help="Where extraction and image work runs: local, dask-local or dask://HOST:PORT.")
def run(config_path: Path | None, quiet: bool, verbose: bool, executor: str) -> None:
    """One incremental pass: read sources, mirror what is new or changed, commit."""
    from newsmirror.pipeline import RunRequest
    from newsmirror.run.pool import ExecutorError, check_spec

    try:
        check_spec(executor)
    except ExecutorError as exc:
        raise click.BadParameter(exc.reason, param_hint="--executor") from None
    _run(load_config_option(config_path), RunRequest(executor=executor), quiet, verbose)


@main.command()
@click.argument("url")
@click.option("--channel", required=True, help="Channel to list the article in (created if new).")
@config_option
@quiet_option
@verbose_option
def add(url: str, channel: str, config_path: Path | None, quiet: bool, verbose: bool) -> None:
    """Mirror one article now (a hand-picked URL)."""
    from newsmirror.config import check_channel_name
    from newsmirror.pipeline import RunRequest

    try:
        check_channel_name(channel)  # the rule of the config's channel names (fullmatch: no trailing newline)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--channel") from None
    from newsmirror.ids import url_problem

    problem = url_problem(url)
    if problem:
        raise click.BadParameter(problem, param_hint="URL")
    candidate = Candidate(url=url.strip(), channel=channel, source="")  # no configured source: no site rules
    summary = _run(load_config_option(config_path), RunRequest(only=(candidate,), force=True), quiet, verbose)
    if summary.failed:  # the one article asked for was not mirrored (its failure line says why)
        sys.exit(1)


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from newsmirror.run.watch import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    if param.name == "every" and seconds < 5:
        raise click.BadParameter("at least 5 seconds", param=param)
    return seconds


@main.command()
@config_option
@click.option("--every", default="30m", show_default=True, callback=_duration,
              help="Time between the starts of two runs: 90s, 30m, 2h (a bare number is minutes).")
@click.option("--jitter", default=None, callback=_duration,
              help="Add a random delay up to this long to each wait (default: a tenth of --every, at most 5m).")
@click.option("--runs", type=click.IntRange(min=1), default=None, help="Stop after this many runs (default: never).")
@verbose_option
def watch(config_path: Path | None, every: float, jitter: float | None, runs: int | None, verbose: bool) -> None:
    """Run on a schedule, one line per run; SIGTERM/Ctrl-C stop cleanly after the current run."""
    from newsmirror.clock import wallclock
    from newsmirror.pipeline import RunRequest, run_once
    from newsmirror.progress import QUIET, VERBOSE, Reporter, make_reporter, summary_line
    from newsmirror.run.watch import StopFlag
    from newsmirror.run.watch import watch as watch_loop

    config = load_config_option(config_path)
    stop = StopFlag()

    def stamp() -> str:  # when the line was printed, for the person watching: the real clock, not NEWSMIRROR_NOW
        return wallclock().isoformat()

    def one_run() -> None:
        started = time.monotonic()
        with (make_reporter(VERBOSE) if verbose else Reporter(QUIET)) as reporter:
            summary = run_once(config, reporter, RunRequest())
        click.echo(f"{stamp()} {summary_line(summary, time.monotonic() - started)}")

    with stop.on_signals():
        done = watch_loop(one_run, every, runs, jitter=min(every / 10, 300.0) if jitter is None else jitter, stop=stop,
                          on_error=lambda exc: click.echo(f"{stamp()} error: {exc}", err=True))
    if stop.stopped:
        click.echo(f"{stamp()} stopped after {done} run(s)")


@main.command()
@config_option
@quiet_option
def rebuild(config_path: Path | None, quiet: bool) -> None:
    """Re-render every page from state (no network) and commit what changed."""
    from newsmirror.pipeline import RunRequest

    _run(load_config_option(config_path), RunRequest(only=(), rebuild=True), quiet, False)


@main.command()
@config_option
@click.option("--failures", "limit", default=10, show_default=True, help="How many recent failures to show.")
def status(config_path: Path | None, limit: int) -> None:
    """Sources, article counts per channel, recent failures."""
    from newsmirror.status import status_lines

    for line in status_lines(load_config_option(config_path), limit):
        click.echo(line)


@main.command()
@config_option
@click.argument("names", nargs=-1)
def push(config_path: Path | None, names: tuple[str, ...]) -> None:
    """Push each remote (or those NAMED) what it has not received yet; exit 1 if any push failed."""
    from newsmirror.publish.remotes import push_mirror

    config = load_config_option(config_path)
    unknown = sorted(set(names) - {r.name for r in config.remotes})
    if unknown or not config.remotes:
        raise click.UsageError(f"no remote named {', '.join(unknown)}" if unknown else "no [[remotes]] configured")
    results = push_mirror(config, names)
    for result in results:
        click.echo(result.line(), err=not result.ok)
    if any(not r.ok for r in results):
        sys.exit(1)


@main.command()
@config_option
@click.option("--edition", "kind", type=click.Choice(["epub", "zim"]), default=None,
              help="Which offline edition (default: those enabled in the config; EPUB when none is).")
@click.option("--channel", default=None, help="Only this channel's EPUB digest (not the whole mirror's).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Build the digests of every period from this day (YYYY-MM-DD) on; default: the last and this one.")
def bundle(config_path: Path | None, kind: str | None, channel: str | None, since) -> None:  # noqa: ANN001
    """Build offline files now: EPUB digests (+ OPDS catalogue) or a ZIM file, in <html_dir>/offline/."""
    from newsmirror.clock import utcnow
    from newsmirror.editions.offline import BundleRequest
    from newsmirror.editions.offline import bundle as build_bundle

    request = BundleRequest((kind,) if kind else (), channel, since.date() if since else None)
    result = build_bundle(load_config_option(config_path), request, utcnow())
    for path in result.written:
        click.echo(f"wrote {path}")
    for path in result.removed:
        click.echo(f"removed {path}")
    click.echo(result.line())


@main.command()
@config_option
@click.option("--edition", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True,
              help="Which branch to rewrite: the work tree's (markdown) or the HTML edition's.")
@click.option("--yes", is_flag=True, help="Really rewrite history (required).")
def compact(config_path: Path | None, edition: str, yes: bool) -> None:
    """Rewrite the edition's history to one commit of its current tree; force-push it to the remotes marked
    allow_force (others keep their history and get the next runs on top of it)."""
    from newsmirror.publish.remotes import compact_mirror
    from newsmirror.publish.sizes import human, measure

    if not yes:
        raise click.UsageError("compact drops the history of the mirror branch; run it with --yes")
    config = load_config_option(config_path)
    before = measure(config.output_dir, config.editions.html_dir, config.size)
    commit, results = compact_mirror(config, edition)
    after = measure(config.output_dir, config.editions.html_dir, config.size)
    sizes = f"; history {human(before.history_bytes)} -> {human(after.history_bytes)}" if before and after else ""
    click.echo(f"compacted the {edition} edition to one commit {commit[:10]}{sizes}")
    for result in results:
        click.echo(result.line(), err=not result.ok)
    if any(not r.ok for r in results):
        sys.exit(1)


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-mirror"),
              show_default=True, help="Where the demo mirror goes (a git repository).")
@quiet_option
@verbose_option
def demo(directory: Path, quiet: bool, verbose: bool) -> None:
    """Start the bundled sample news site on 127.0.0.1, mirror it into DIR, stop the site."""
    from newsmirror.demo.mirror import run_demo
    from newsmirror.progress import make_reporter

    with make_reporter(verbosity(quiet, verbose)) as reporter:
        summaries, site_url = run_demo(directory, reporter)
        for summary in summaries:
            reporter.summary(summary)
    if not quiet:
        click.echo(f"demo site was {site_url}; mirror: {directory.resolve()} (open README.md there)")
