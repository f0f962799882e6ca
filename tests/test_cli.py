"""The CLI as users run it: real processes, the demo site on 127.0.0.1, real git and SQLite."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from newsmirror.demo import site as demo
from newsmirror.demo.mirror import DEMO_HOST

from conftest import write_demo_config


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture
def config_file(demo_site, tmp_path) -> Path:
    return write_demo_config(demo_site, tmp_path)


def test_init_writes_a_commented_config_once(tmp_path):
    result = cli("init", "site", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "site" / "newsmirror.toml").read_text()
    assert text.count("#") > 20 and "[[sources]]" in text
    again = cli("init", "site", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_config_errors_are_all_reported(tmp_path):
    (tmp_path / "newsmirror.toml").write_text('[mirror]\nhot_size = 0\n[fetch]\ntimeout = "soon"\n')
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "newsmirror.toml: 2 configuration error(s)" in result.stderr
    assert "mirror.hot_size" in result.stderr and "fetch.timeout" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_status_add_and_quiet_verbose(demo_site, config_file):
    cwd = config_file.parent
    lazy_path = "/articles/" + demo.LAZY_SLUG + ".html"
    demo_site.set_status(lazy_path, 500)
    first = cli("run", cwd=cwd)
    assert first.returncode == 0, first.stderr
    failure_lines = [line for line in first.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failure_lines) == 1 and lazy_path in failure_lines[0] and "[fetch]" in failure_lines[0]
    assert "HTTP 500" in failure_lines[0]
    assert first.stdout.count("\n") == 1 and "41 new" in first.stdout and "1 failed" in first.stdout

    status = cli("status", "--config", str(config_file), cwd=cwd.parent)
    assert status.returncode == 0
    assert "science-rss" in status.stdout and "sports-listing" in status.stdout
    failure = [line for line in status.stdout.splitlines() if lazy_path in line]
    assert failure and "[fetch]" in failure[0] and "HTTP 500" in failure[0]

    quiet = cli("run", "--quiet", cwd=cwd)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""

    url = f"http://{DEMO_HOST}/articles/{demo.SHARED_SLUG}.html"
    added = cli("add", url, "--channel", "picks", "--verbose", cwd=cwd)
    assert added.returncode == 0, added.stderr
    assert demo.SHARED_SLUG in added.stderr  # the verbose per-article line
    assert "picks" in (cwd / "mirror" / "indexes" / "picks.md").read_text("utf-8").lower() or \
        (cwd / "mirror" / "indexes" / "picks.md").exists()
    log = subprocess.run(["git", "log", "--oneline"], cwd=cwd / "mirror", capture_output=True, text=True).stdout
    assert len(log.splitlines()) == 2


def test_run_exits_non_zero_when_nothing_could_be_done(demo_site, config_file):
    for path in ("/feeds/science.rss", "/feeds/city.atom", "/sports/"):
        demo_site.set_status(path, 503)
    result = cli("run", cwd=config_file.parent)
    assert result.returncode == 1
    assert result.stderr.count("FAILED") == 3


def test_extract_jsonl_plain_and_gzip(demo_site, tmp_path):
    url = f"{demo_site.base_url}/articles/{demo.LAZY_SLUG}.html"
    raw = httpx.get(url).content
    (tmp_path / "a.html").write_bytes(raw)
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "empty.html").write_bytes(b"")
    result = cli("extract", "a.html", "b.html.gz", "empty.html", "--base-url", url, "--jsonl", cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == ["a.html", "b.html.gz", "empty.html"]
    first = lines[0]
    assert {"file", "title", "text", "published", "images"} <= set(first)
    assert first["title"] and "\n\n" in first["text"] and first["title"] not in first["text"]
    assert first["images"] and {"src", "alt", "caption"} <= set(first["images"][0])
    assert lines[0]["text"] == lines[1]["text"]
    assert "error" in lines[2] and "empty.html" in lines[2]["error"]
    # one bad file: one failure line, the batch goes on, the exit status tells
    assert result.returncode == 1 and result.stderr.count("FAILED empty.html [") == 1, result.stderr


def test_demo_twice_second_run_changes_nothing(tmp_path):
    """The first demo mirrors the site as it was a day ago, then as it is (one article edited, one taken down);
    the second finds nothing to do."""
    first = cli("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    day_one, day_two = [line for line in first.stdout.splitlines() if " new, " in line]
    assert day_one.startswith("42 new") and "demo-mirror" in first.stdout
    assert day_two.startswith("0 new, 1 updated") and "1 removed at the source" in day_two
    mirror = tmp_path / "demo-mirror"
    assert "indexes/removed.md" in (mirror / "README.md").read_text(encoding="utf-8")
    assert 'href="indexes/removed.html"' in (mirror / "site/index.html").read_text(encoding="utf-8")
    assert "old-cinema-restored" in (mirror / "indexes/removed.md").read_text(encoding="utf-8")
    assert "urban-heat-map.revisions.md" in (mirror / "pages/science/urban-heat-map.md").read_text(encoding="utf-8")
    assert (mirror / "site/pages/science/urban-heat-map.revisions.html").is_file()
    before = {p: p.stat().st_mtime_ns for p in mirror.rglob("*") if ".git" not in p.parts}
    second = cli("demo", cwd=tmp_path)
    assert second.returncode == 0 and "0 new" in second.stdout and "no commit" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in mirror.rglob("*") if ".git" not in p.parts} == before
    log = subprocess.run(["git", "log", "--oneline"], cwd=mirror, capture_output=True, text=True).stdout
    assert len(log.splitlines()) == 2


def test_the_cli_names_the_same_config_file_as_the_library():
    from newsmirror import cli, config

    assert cli.CONFIG_NAME == config.CONFIG_NAME


def test_extract_starts_without_the_pipeline():
    """`newsmirror extract` imports only extraction: the run's stages stay unloaded (start-up time)."""
    code = ("import sys; from newsmirror.cli import main\n"
            "try:\n    main(['extract', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
            "loaded = [m for m in ('newsmirror.pipeline', 'newsmirror.config', 'newsmirror.publish.remotes',"
            " 'newsmirror.editions.seam', 'httpx', 'pydantic') if m in sys.modules]\n"
            "print('LOADED:' + ','.join(loaded))")
    sample = sorted((Path(__file__).parent / "fixtures").rglob("*.html"))[0]
    result = subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "LOADED:", result.stdout
