"""The command line: parse arguments, call one library function, print its result."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

import click

from newsmirror import __version__
from newsmirror.errors import NewsmirrorError, printable
from newsmirror.records import Candidate, RunSummary

if TYPE_CHECKING:
    from newsmirror.config import Config
    from newsmirror.pipeline import RunRequest

# Each command imports the stages it needs when it runs: `newsmirror extract` must not pay for the pipeline.
CONFIG_NAME = "newsmirror.toml"  # config.CONFIG_NAME, spelled here so that --help needs no config models

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help=f"Config file (default: ./{CONFIG_NAME}).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Print only failures.")
verbose_option = click.option("--verbose", "-v", is_flag=True, help="Print every article processed.")


def _verbosity(quiet: bool, verbose: bool) -> int:
    from newsmirror.progress import NORMAL, QUIET, VERBOSE

    return QUIET if quiet else VERBOSE if verbose else NORMAL


def _load(config_path: Path | None) -> Config:
    from newsmirror.config import load_config

    return load_config(config_path or Path.cwd() / CONFIG_NAME)


class _Errors(click.Group):
    """Turn library errors into one clean message (no traceback) at this single boundary."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except NewsmirrorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2 if exc.stage.value == "config" else 1)
        except (OSError, sqlite3.Error) as exc:  # the machine (a full disk, a locked file) outside a run's stages
            where = getattr(exc, "filename", None) or ctx.invoked_subcommand or "newsmirror"
            reason = getattr(exc, "strerror", None) or str(exc)
            click.echo(f"error: {printable(where)} [{ctx.invoked_subcommand}] {printable(reason)}", err=True)
            ctx.exit(1)


@click.group(cls=_Errors)
@click.version_option(__version__)
def main() -> None:
    """Mirror news sites into self-contained Markdown pages in git."""


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

    with make_reporter(_verbosity(quiet, verbose)) as reporter:
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
    _run(_load(config_path), RunRequest(executor=executor), quiet, verbose)


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
    summary = _run(_load(config_path), RunRequest(only=(candidate,), force=True), quiet, verbose)
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
    from newsmirror.run.watch import StopFlag, watch as watch_loop

    config = _load(config_path)
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

    _run(_load(config_path), RunRequest(only=(), rebuild=True), quiet, False)


@main.command()
@config_option
@click.option("--failures", "limit", default=10, show_default=True, help="How many recent failures to show.")
def status(config_path: Path | None, limit: int) -> None:
    """Sources, article counts per channel, recent failures."""
    from newsmirror.status import status_lines

    for line in status_lines(_load(config_path), limit):
        click.echo(line)


@main.command()
@config_option
@click.argument("names", nargs=-1)
def push(config_path: Path | None, names: tuple[str, ...]) -> None:
    """Push each remote (or those NAMED) what it has not received yet; exit 1 if any push failed."""
    from newsmirror.publish.remotes import push_mirror

    config = _load(config_path)
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
    from newsmirror.editions.offline import BundleRequest, bundle as build_bundle

    request = BundleRequest((kind,) if kind else (), channel, since.date() if since else None)
    result = build_bundle(_load(config_path), request, utcnow())
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
    config = _load(config_path)
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
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--base-url", default=None, help="URL the pages were fetched from (resolves relative links).")
@click.option("--jsonl", is_flag=True, help="One JSON object per file (the stable interface benchmarks use).")
def extract(files: tuple[Path, ...], base_url: str | None, jsonl: bool) -> None:
    """Extract the article from HTML files (plain or .gz)."""
    from newsmirror.extract.page import extract_file

    failed = 0
    for path in files:  # one bad file is one failure line; the batch goes on, and the exit status tells
        try:
            result = extract_file(path, base_url)
        except Exception as exc:  # noqa: BLE001 - a crash on one page (a bug: its type is shown) costs that page
            failed += 1
            reason = exc.reason if isinstance(exc, NewsmirrorError) else f"unexpected {type(exc).__name__}: {exc}"
            stage = exc.stage.value if isinstance(exc, NewsmirrorError) else "extract"
            message = f"{printable(str(path))} [{stage}] {printable(reason)}"
            result = {"file": str(path), "error": message}
            click.echo(f"FAILED {message}", err=True)
        if jsonl:
            click.echo(json.dumps(result, ensure_ascii=False))
        elif "error" not in result:
            click.echo(f"# {result['title']}\n\n{result['text']}\n")
    if failed:
        sys.exit(1)


@main.command()
@config_option
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def serve(config_path: Path | None, port: int, host: str) -> None:
    """Preview the HTML edition locally (no access log, no client addresses kept)."""
    from newsmirror.editions.serve import serve as serve_site

    config = _load(config_path)
    click.echo(f"serving {config.output_dir} at http://{host}:{port}/{config.editions.html_dir}/ (Ctrl-C stops)")
    serve_site(config.output_dir, port, host=host, home=config.editions.html_dir)


@main.command("serve-counter")
@config_option
@click.option("--host", default=None, help="Address to listen on (default: counter.host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: counter.port; 0: any).")
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Workers (default: counter.processes).")
def serve_counter(config_path: Path | None, host: str | None, port: int | None, processes: int | None) -> None:
    """Answer the view-counter pixel and count views (keeps nothing about readers; SIGTERM flushes)."""
    from newsmirror.views.counter import CounterOptions, bind, serve_counter as run_counter
    from newsmirror.views.targets import pixel_template

    config = _load(config_path)
    settings = config.counter
    pixel_template(config)
    workers = processes or settings.processes
    socks = bind(host or settings.host, settings.port if port is None else port, workers)
    address, bound_port = socks[0].getsockname()[:2]
    click.echo(f"counting views at http://{address}:{bound_port}/ ({workers} process(es), counts written every "
               f"{settings.flush_seconds:g} s to {config.state_path}; SIGTERM or Ctrl-C flushes and stops)", err=True)
    options = CounterOptions(settings.flush_seconds, settings.refresh_seconds, settings.timeout,
                             settings.max_connections)
    sys.exit(run_counter(config, socks, workers, options))


@main.group()
def views() -> None:
    """View counts: import them from a web server's access log."""


@views.command("import")
@click.argument("access_log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "log_format", type=click.Choice(["combined", "common"]), default="combined",
              show_default=True, help="Access log format (plain or .gz).")
@config_option
def views_import(access_log: Path, log_format: str, config_path: Path | None) -> None:
    """Count pixel hits for mirror pages from ACCESS_LOG (idempotent; addresses are never stored)."""
    from newsmirror.views.log_import import import_file

    result = import_file(_load(config_path), access_log, log_format)  # type: ignore[arg-type]
    click.echo(f"{result.file}: {result.lines} lines ({result.already} imported before); {result.views} views "
               f"added for {result.pages} pages; {result.ignored} new lines were not a view of a mirror page")


@main.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path), required=False)
@config_option
def keygen(keyfile: Path | None, config_path: Path | None) -> None:
    """Make the Ed25519 key pair that signs the mirror list: KEYFILE (default: the config's mirror.signing_key)
    and KEYFILE's .pub beside it. The secret key must live outside the mirror."""
    from newsmirror.publish import mirrorlist, signing

    config = _load(config_path) if config_path or (Path.cwd() / CONFIG_NAME).is_file() else None
    keyfile = keyfile or (mirrorlist.key_path(config) if config else None)
    if keyfile is None:
        raise click.UsageError("give KEYFILE, or set mirror.signing_key in the config")
    made = signing.generate_keys(keyfile, config.output_dir if config else None)
    click.echo(f"secret key: {made.secret} (keep it private and outside the mirror)\npublic key: {made.public}\n"
               f"{made.public_key}\nset in [mirror]: signing_key = \"{made.secret}\"")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key", default=None, help="Public key: its base64 line or a .pub file (default: the "
              "configured key's).")
@config_option
def verify(file: Path, key: str | None, config_path: Path | None) -> None:
    """Check FILE (a downloaded mirrors.json or page bundle) against FILE.minisig; exit 1 if it fails."""
    from newsmirror.publish import mirrorlist, signing

    if key is None:
        path = mirrorlist.key_path(_load(config_path))
        if path is None:
            raise click.UsageError("give --key, or set mirror.signing_key in the config")
        key = str(signing.public_path_for(path))
    checked = mirrorlist.check_file(file, signing.read_public_key(key))
    click.echo(f"{file}: signature OK ({checked.trusted_comment})")
    if checked.mirrors is not None:
        editions = checked.mirrors.get("editions") or {}
        for name, bases in (editions.items() if isinstance(editions, dict) else []):
            for base in bases:
                click.echo(f"{name}: {base}")
        for other in checked.mirrors.get("other") or []:
            click.echo(f"other: {other}")


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-mirror"),
              show_default=True, help="Where the demo mirror goes (a git repository).")
@quiet_option
@verbose_option
def demo(directory: Path, quiet: bool, verbose: bool) -> None:
    """Start the bundled sample news site on 127.0.0.1, mirror it into DIR, stop the site."""
    from newsmirror.demo.mirror import run_demo
    from newsmirror.progress import make_reporter

    with make_reporter(_verbosity(quiet, verbose)) as reporter:
        summary, site_url = run_demo(directory, reporter)
        reporter.summary(summary)
    if not quiet:
        click.echo(f"demo site was {site_url}; mirror: {directory.resolve()} (open README.md there)")
