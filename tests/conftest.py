"""Shared fixtures: the demo site on 127.0.0.1 and a mirror config pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmirror.config import Config, parse_config
from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite, demo_config_text


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from current output")


@pytest.fixture
def demo_site():
    with DemoSite(public_host=DEMO_HOST) as site:
        yield site


def make_config(site: DemoSite, directory: Path, **mirror: object) -> Config:
    text = demo_config_text(f"http://{DEMO_HOST}", output="mirror", state="state.db")
    config = parse_config(text, directory / "newsmirror.toml", directory)
    fetch = config.fetch.model_copy(update={"resolve": {DEMO_HOST: site.base_url.removeprefix("http://")},
                                            "backoff": 0.01})
    settings = config.mirror.model_copy(update=mirror)
    return config.model_copy(update={"fetch": fetch, "mirror": settings})


def write_demo_config(site: DemoSite, directory: Path) -> Path:
    """A newsmirror.toml on disk for the demo site (its address in `fetch.resolve`), for CLI subprocess tests."""
    directory.mkdir(parents=True, exist_ok=True)
    text = demo_config_text(f"http://{DEMO_HOST}", output="mirror", state="state.db")
    address = site.base_url.removeprefix("http://")
    text = text.replace("[fetch]\n", f'[fetch]\nresolve = {{ "{DEMO_HOST}" = "{address}" }}\n', 1)
    path = directory / "newsmirror.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mirror_config(demo_site, tmp_path) -> Config:
    return make_config(demo_site, tmp_path)
