"""Commands beside the mirror's runs: extraction of saved pages, the preview and counter servers, view-log import,
and the signing keys of the mirror list."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsmirror.cli import CONFIG_NAME, config_option, load_config_option, main
from newsmirror.errors import NewsmirrorError, printable

if TYPE_CHECKING:
    pass


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

    config = load_config_option(config_path)
    click.echo(f"serving {config.output_dir} at http://{host}:{port}/{config.editions.html_dir}/ (Ctrl-C stops)")
    serve_site(config.output_dir, port, host=host, home=config.editions.html_dir)


@main.command("serve-counter")
@config_option
@click.option("--host", default=None, help="Address to listen on (default: counter.host).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: counter.port; 0: any).")
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Workers (default: counter.processes).")
def serve_counter(config_path: Path | None, host: str | None, port: int | None, processes: int | None) -> None:
    """Answer the view-counter pixel and count views (keeps nothing about readers; SIGTERM flushes)."""
    from newsmirror.views.counter import CounterOptions, bind
    from newsmirror.views.counter import serve_counter as run_counter
    from newsmirror.views.targets import pixel_template

    config = load_config_option(config_path)
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

    result = import_file(load_config_option(config_path), access_log, log_format)  # type: ignore[arg-type]
    click.echo(f"{result.file}: {result.lines} lines ({result.already} imported before); {result.views} views "
               f"added for {result.pages} pages; {result.ignored} new lines were not a view of a mirror page")


@main.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path), required=False)
@config_option
def keygen(keyfile: Path | None, config_path: Path | None) -> None:
    """Make the Ed25519 key pair that signs the mirror list: KEYFILE (default: the config's mirror.signing_key)
    and KEYFILE's .pub beside it. The secret key must live outside the mirror."""
    from newsmirror.publish import mirrorlist, signing

    config = load_config_option(config_path) if config_path or (Path.cwd() / CONFIG_NAME).is_file() else None
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
        path = mirrorlist.key_path(load_config_option(config_path))
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
