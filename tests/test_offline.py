"""Offline editions as a user meets them: a run builds EPUB digests and a ZIM file when they are due (real
SQLite, real git, real libzim and zimcheck), never into the Markdown branch; the HTML edition's commit carries
them; only the newest `keep` stay; the size report counts them; `newsmirror bundle` builds on demand."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from newsmirror.config import load_config
from newsmirror.demo.site import DemoSite
from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.editions import offline
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.publish import remotes, sizes
from newsmirror.publish.replay import Git
from newsmirror.state.store import Store

from conftest import write_demo_config

NOW = datetime.fromisoformat("2026-03-30T12:00:00+00:00")


def with_offline(text: str) -> str:
    """The demo config with both offline kinds on, daily EPUB digests of 2 periods kept."""
    epub, zim = text.index("[editions.epub]\nenabled = false"), text.index("[editions.zim]\nenabled = false")
    head, body, tail = text[:epub], text[epub:zim], text[zim:]
    body = body.replace("enabled = false", "enabled = true").replace("keep = 7", "keep = 2", 1)
    body = body.replace('period = "weekly"', 'period = "daily"', 1)
    return head + body + tail.replace("enabled = false", "enabled = true", 1)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def offline_files(root: Path) -> dict[str, int]:
    folder = root / "site/offline"
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """The demo site mirrored on 03-30 with both offline kinds enabled (a second run the same day, too)."""
    directory = tmp_path_factory.mktemp("offline")
    with DemoSite(public_host=DEMO_HOST) as site:
        path = write_demo_config(site, directory)
        path.write_text(with_offline(path.read_text(encoding="utf-8")), encoding="utf-8")
        config = load_config(path)
        run_once(config, Reporter(QUIET), now=NOW)
        first = offline_files(config.output_dir)
        run_once(config, Reporter(QUIET), now=NOW + timedelta(hours=2))
    return config, first


def test_a_run_builds_the_due_offline_files_and_commits_none_of_them(mirror):
    config, first = mirror
    root = config.output_dir
    assert {"site/offline/epub/2026-03-29.epub", "site/offline/epub/2026-03-30.epub",
            "site/offline/epub/2026-03-30.zh-hant.epub", "site/offline/zim/mirror-2026-03-30.zim",
            "site/offline/catalog.xml", "site/offline/index.html"} <= set(first)
    assert not [p for p in git(root, "ls-tree", "-r", "--name-only", "HEAD").split() if "/offline/" in p]
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""  # excluded, not left dirty
    assert "/site/offline/" in (root / ".git/info/exclude").read_text().splitlines()
    catalog = (root / "site/offline/catalog.xml").read_text()
    assert 'href="zim/mirror-2026-03-30.zim" type="application/x-zim"' in catalog
    home = (root / "site/index.html").read_text()
    assert ('<a href="offline/index.html#epub">EPUB</a> · <a href="offline/index.html#zim">ZIM</a> · '
            '<a href="offline/catalog.xml">OPDS</a>') in home
    converted = (root / "site/zh-hant/index.html").read_text()
    assert '<a href="../offline/index.html#epub">EPUB</a>' in converted  # the converted home links them too
    checked = subprocess.run(["zimcheck", "-A", str(root / "site/offline/zim/mirror-2026-03-30.zim")],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_second_run_of_the_day_builds_nothing(mirror):
    config, first = mirror
    assert offline_files(config.output_dir) == first  # same files, untouched
    with Store(config.state_path) as store:
        assert offline.due(config, store, NOW + timedelta(hours=5)) == []
        assert offline.due(config, store, NOW + timedelta(days=1)) == ["epub", "zim"]
        weekly = config.model_copy(update={"editions": config.editions.model_copy(update={
            "epub": config.editions.epub.model_copy(update={"period": "weekly"})})})
        assert offline.due(weekly, store, NOW) == ["epub"]  # the week 2026-W14 was never built


def test_a_run_when_nothing_is_due_costs_well_under_50_ms(mirror):
    config, _ = mirror
    with Store(config.state_path) as store:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            assert offline.build_due(config, store, NOW, Reporter(QUIET)) is None
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.05, times


def test_the_html_edition_commit_carries_the_offline_files_and_compact_keeps_them(mirror):
    config, _ = mirror
    root = config.output_dir
    commit = remotes.html_edition(Git(root), "site")
    listed = set(git(root, "ls-tree", "-r", "--name-only", commit).split())
    on_disk = set(offline_files(root))
    assert on_disk <= listed and "site/index.html" in listed and "index.html" in listed
    epub = "site/offline/epub/2026-03-30.epub"
    assert subprocess.run(["git", "cat-file", "blob", f"{commit}:{epub}"], cwd=root, capture_output=True,
                          check=True).stdout == (root / epub).read_bytes()
    assert remotes.html_edition(Git(root), "site") == commit  # the same files: the same commit, no churn
    with Store(config.state_path) as store:
        compacted, _ = remotes.compact(config, store, "html")
    assert git(root, "rev-list", "--count", compacted).strip() == "1"
    assert on_disk <= set(git(root, "ls-tree", "-r", "--name-only", compacted).split())


def test_only_the_newest_periods_are_kept_and_the_catalogue_follows(mirror, tmp_path):
    config, _ = mirror
    root = config.output_dir
    with Store(config.state_path) as store, store.transaction():
        result = offline.build(config, store, ["epub"], NOW, since=(NOW - timedelta(days=6)).date())
    epubs = sorted(p.name for p in (root / "site/offline/epub").glob("*.epub"))
    assert {name[:10] for name in epubs} == {"2026-03-29", "2026-03-30"}  # keep = 2 periods
    assert any(path.startswith("site/offline/epub/2026-03-2") for path in result.written)  # older ones were built
    assert any("2026-03-26" in path for path in result.removed)  # ... and pruned
    catalog = (root / "site/offline/catalog.xml").read_text()
    assert "2026-03-26" not in catalog and all(f"epub/{name}" in catalog for name in epubs)


def test_the_size_report_counts_the_offline_files_and_warns_over_budget(mirror):
    config, _ = mirror
    root = config.output_dir
    budgets = config.size.model_copy(update={"site_budget_mb": 0.001, "file_budget_mb": 0.01})
    report = sizes.measure(root, "site", budgets)
    total = sum((root / path).stat().st_size for path in offline_files(root))
    assert report.offline_bytes == total and len(report.offline) == len(offline_files(root))
    assert f"offline files {sizes.human(total)}" in sizes.summary_line(report)
    lines = sizes.warnings(report, budgets)
    assert any("of offline files, over the site budget" in line for line in lines)
    assert any(line.startswith("SIZE WARNING site/offline/zim/") and "an offline file" in line for line in lines)


def cli(config, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSMIRROR_NOW": NOW.isoformat()}
    return subprocess.run([sys.executable, "-m", "newsmirror", "bundle", "-c", str(config.path), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_bundle_builds_one_channel_now_and_names_a_bad_channel(mirror):
    config, _ = mirror
    root = config.output_dir
    target = root / "site/offline/epub/2026-03-29-sports.epub"
    target.unlink()
    done = cli(config, "--edition", "epub", "--channel", "sports", "--since", "2026-03-29")
    assert done.returncode == 0, done.stderr
    assert "wrote site/offline/epub/2026-03-29-sports.epub" in done.stdout and target.is_file()
    assert "2026-03-29.epub" not in done.stdout  # only that channel's digest
    bad = cli(config, "--channel", "nosuch")
    assert bad.returncode == 2 and "nosuch" in bad.stderr and "no channel of that name" in bad.stderr


def test_bundle_before_the_first_run_says_so_and_writes_nothing(mirror, tmp_path):
    config, _ = mirror
    fresh = config.model_copy(update={"path": tmp_path / "newsmirror.toml"})
    fresh.path.write_text(config.path.read_text(encoding="utf-8"), encoding="utf-8")
    done = cli(fresh)
    assert done.returncode == 1 and "run `newsmirror run` first" in done.stderr, done.stderr
    assert not (tmp_path / "mirror").exists()
