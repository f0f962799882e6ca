"""The command line: parse arguments, call one library function, print its result.

This module holds the `newsmirror` group, its shared options and the one boundary that turns errors into messages;
the commands live in `mirror.py` (running and publishing a mirror) and `tools.py` (extraction, servers, keys).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsmirror import __version__
from newsmirror.errors import NewsmirrorError, printable

if TYPE_CHECKING:
    from newsmirror.config import Config

# Each command imports the stages it needs when it runs: `newsmirror extract` must not pay for the pipeline.
CONFIG_NAME = "newsmirror.toml"  # config.CONFIG_NAME, spelled here so that --help needs no config models

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help=f"Config file (default: ./{CONFIG_NAME}).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Print only failures.")
verbose_option = click.option("--verbose", "-v", is_flag=True, help="Print every article processed.")


def verbosity(quiet: bool, verbose: bool) -> int:
    from newsmirror.progress import NORMAL, QUIET, VERBOSE

    return QUIET if quiet else VERBOSE if verbose else NORMAL


def load_config_option(config_path: Path | None) -> Config:
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


# the commands register themselves on `main` when imported
from newsmirror.cli import mirror, tools  # noqa: E402, F401
