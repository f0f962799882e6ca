"""Docs that cannot drift: every command and config key appears in the README; the quick start is two commands."""

import re
from pathlib import Path

from newsmirror.cli import main
from newsmirror.config import Channel, Editions, FetchSettings, ImageSettings, Labels, MenuLink, MirrorSettings, Source

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")


def test_every_command_is_documented():
    for name in main.commands:
        assert f"`{name}" in README, name


def test_every_config_key_is_documented():
    for model in (MirrorSettings, Labels, FetchSettings, Editions, ImageSettings, Source, Channel, MenuLink):
        for key in model.model_fields:
            assert f"`{key}`" in README, f"{model.__name__}.{key}"


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    block = re.search(r"^## Quick start.*?```sh\n(.*?)```", README, re.S | re.M).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["./dev demo", "./dev test"]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "./dev test" in ci
