"""State in one place: one clock (NEWSMIRROR_NOW everywhere a run takes its time), one git runner with timeouts,
derived data and markers in the state database (not in .git), errors of the state file as one line."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsmirror.clock import utcnow, wallclock
from newsmirror.config import Config, SizeBudgets, parse_config
from newsmirror.publish.git import GitError, run_git
from newsmirror.errors import PublishError, Stage, StateError
from newsmirror.publish.commit import GitRepo
from newsmirror.publish.remotes import push_all
from newsmirror.publish.sizes import CACHE, measure
from newsmirror.status import status_lines
from newsmirror.state.store import Store

NOW = "2026-03-02T09:00:00+00:00"
PIXEL_URL = "https://count.example/p/{path}"


def make_config(tmp: Path, extra: str = "") -> Config:
    text = '[mirror]\noutput = "mirror"\nstate = "state.db"\n' + extra
    return parse_config(text, tmp / "newsmirror.toml", tmp)


def commit(root: Path, files: dict[str, str]) -> str:
    repo = GitRepo(root)
    repo.ensure()
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return repo.commit_all("run")


# -- one clock ---------------------------------------------------------------------------------------------------


def test_the_clock_is_newsmirror_now_in_utc_whole_seconds(monkeypatch):
    monkeypatch.setenv("NEWSMIRROR_NOW", "2026-03-02T17:00:00.750+08:00")
    assert utcnow() == datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
    monkeypatch.setenv("NEWSMIRROR_NOW", "2026-03-02T09:00:00")  # no offset: UTC, whatever the machine's zone
    assert utcnow() == datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
    assert abs((wallclock() - datetime.now(timezone.utc)).total_seconds()) < 5  # people's stamps: the real clock
    monkeypatch.delenv("NEWSMIRROR_NOW")
    assert utcnow().microsecond == 0 and abs((utcnow() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_pushes_are_recorded_at_the_runs_time(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSMIRROR_NOW", NOW)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    config = make_config(tmp_path, f'[[remotes]]\nname = "here"\nurl = "file://{bare}"\n')
    commit(config.output_dir, {"README.md": "hello\n"})
    with Store(config.state_path) as store:
        (result,) = push_all(config, store)
        assert result.ok
        row = store.remote_state("here")
    assert row["updated"] == NOW and row["last_success"] == NOW


# -- one git runner ----------------------------------------------------------------------------------------------


def test_a_hung_git_times_out_as_a_publish_error_naming_the_repository(tmp_path):
    commit(tmp_path, {"a.txt": "a\n"})
    began = time.monotonic()
    with pytest.raises(GitError) as info:  # git's own child (the alias's shell) still holds its pipes
        run_git(tmp_path, "-c", "alias.hang=!sleep 30", "hang", timeout=0.5)
    assert time.monotonic() - began < 10
    error = info.value
    assert isinstance(error, PublishError) and error.transient and error.stage is Stage.PUBLISH
    assert error.resource == str(tmp_path) and error.reason == "git hang timed out after 0.5s"


def test_a_failed_git_names_the_command_and_gits_last_words(tmp_path):
    commit(tmp_path, {"a.txt": "a\n"})
    with pytest.raises(PublishError) as info:
        GitRepo(tmp_path).git("rev-parse", "--verify", "no-such-ref")
    assert info.value.resource == str(tmp_path) and info.value.reason.startswith("git rev-parse failed: fatal:")
    assert run_git(tmp_path, "rev-parse", "--verify", "no-such-ref", check=False).returncode != 0
    assert run_git(tmp_path, "cat-file", "blob", "HEAD:a.txt", text=False).stdout == b"a\n"


def test_a_missing_git_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(GitError, match="git status did not run"):
        run_git(tmp_path, "status")


# -- the size report in the state database -------------------------------------------------------------------------


def test_the_size_report_is_kept_in_the_state_and_status_only_reads_it(tmp_path):
    config = make_config(tmp_path)
    commit(config.output_dir, {"README.md": "x" * 100, "site/index.html": "y" * 50})
    with Store(config.state_path) as store:
        report = measure(config.output_dir, "site", SizeBudgets(), store)
        kept = store.setting(CACHE)
    assert report.tree_files == 2 and kept is not None
    assert not list((config.output_dir / ".git").glob("newsmirror-size*"))
    commit(config.output_dir, {"site/b.html": "z" * 10})
    writer = sqlite3.connect(config.state_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a run in its publish transaction holds the write lock
    try:
        began = time.monotonic()
        lines = status_lines(config)
        assert time.monotonic() - began < 10  # never waits for the lock
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert any(line.startswith("size: history ") and " in 3 file(s)" in line for line in lines)
    with Store(config.state_path) as store:
        assert store.setting(CACHE) == kept  # read, not written


# -- the state file's errors ----------------------------------------------------------------------------------------


def test_status_on_a_broken_state_file_is_one_line_naming_it(tmp_path):
    config = make_config(tmp_path)
    config.state_path.write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(StateError) as info:
        status_lines(config)
    assert info.value.resource == str(config.state_path) and info.value.stage is Stage.STATE
    assert "state database:" in info.value.reason


# -- the search index: behind its pages (SQLite, in the run's transaction), not committed (git) -------------------


class Killed(Exception):
    """Stands for SIGKILL: the run's transaction rolls back, what it wrote into the work tree stays."""


def page(title: str) -> bytes:
    return (f'<html lang="en"><head><title>{title}</title></head><body><article data-pagefind-body><h1>{title}</h1>'
            f"<p>{title} happened today in the city.</p></article></body></html>").encode()


def search_run(config: Config, store: Store, names: list[str], kill: str | None = None) -> str | None:
    """One run the way the pipeline publishes: render every page in `names`, write, let the search index update,
    commit, then the state. `kill`: "before-index" or "before-commit" (after the index was rebuilt)."""
    from newsmirror.publish.commit import publish
    from newsmirror.records import RenderedFile
    from newsmirror.editions.search import index_committed, update_index

    def after_write(written: list[str]) -> list[str]:
        if kill == "before-index":
            raise Killed
        staged = update_index(config, store, written)
        if kill == "before-commit":
            raise Killed
        return staged

    files = [RenderedFile(f"site/pages/news/{name}.html", page(name)) for name in names]
    try:
        with store.transaction():
            result = publish(config.output_dir, files, "run", "newsmirror <n@localhost>", after_write=after_write,
                             managed=["site"])
            index_committed(config, store)
    except Killed:
        return None
    return result.commit


def indexed_in_head(root: Path) -> int:
    listing = run_git(root, "ls-tree", "-r", "--name-only", "HEAD", "--", "site/pagefind/fragment").stdout
    return len(listing.split())


def clean(root: Path) -> bool:
    return run_git(root, "status", "--porcelain").stdout == ""


SEARCH = '[editions]\nmarkdown = false\nhtml = true\n'


def test_a_bundle_rebuilt_by_a_killed_run_is_committed_by_the_next(tmp_path):
    config = make_config(tmp_path, SEARCH)
    root = config.output_dir
    with Store(config.state_path) as store:
        assert search_run(config, store, ["a"]) and indexed_in_head(root) == 1
        assert search_run(config, store, ["a", "b"], kill="before-commit") is None
        assert (root / "site/pagefind").is_dir() and not clean(root)  # rebuilt, not committed
        # the next run writes nothing (its pages are on disk byte for byte) and stages the bundle all the same
        assert search_run(config, store, ["a", "b"]) and indexed_in_head(root) == 2 and clean(root)
        assert search_run(config, store, ["a", "b"]) is None  # and then nothing is left to do
    assert not [p.name for p in (root / ".git").iterdir() if p.name.startswith("newsmirror-search-")]


def test_pages_written_by_a_run_killed_before_the_index_get_indexed(tmp_path):
    config = make_config(tmp_path, SEARCH)
    root = config.output_dir
    with Store(config.state_path) as store:
        search_run(config, store, ["a"])
        assert search_run(config, store, ["a", "b"], kill="before-index") is None
        # b is committed by the next run without being written again; HEAD's pages then are not those indexed
        assert search_run(config, store, ["a", "b"])
        search_run(config, store, ["a", "b"])
        assert indexed_in_head(root) == 2 and clean(root)


def test_runs_that_skip_the_rebuild_leave_the_index_behind_in_the_state(tmp_path):
    import os

    from newsmirror.editions.search import INDEXED

    config = make_config(tmp_path, SEARCH + "search_every = 60\n")
    root = config.output_dir
    entry = root / "site/pagefind/pagefind-entry.json"
    with Store(config.state_path) as store:
        search_run(config, store, ["a"])  # no index yet: built whatever search_every says
        indexed = store.setting(INDEXED)
        assert search_run(config, store, ["a", "b"]) and indexed_in_head(root) == 1  # rebuilt less than 60 min ago
        assert search_run(config, store, ["a", "b", "c"], kill="before-commit") is None  # skipped, then killed
        assert search_run(config, store, ["a", "b", "c"]) and indexed_in_head(root) == 1
        assert store.setting(INDEXED) == indexed  # still the pages of the first run
        old = time.time() - 2 * 3600
        os.utime(entry, (old, old))
        search_run(config, store, ["a", "b", "c"])  # due: the pages the runs in between committed are indexed now
        assert indexed_in_head(root) == 3 and clean(root) and store.setting(INDEXED) != indexed


# -- caches owned by the run, not the process ----------------------------------------------------------------------


def test_each_runs_fetcher_holds_its_own_robots_rules():
    import asyncio

    import faultserver as fs
    from faultserver import FaultServer
    from newsmirror.sources import robots
    from newsmirror.config import FetchSettings
    from newsmirror.fetch.client import Fetcher

    async def one_run(server: FaultServer) -> tuple[list[str | None], object, Fetcher]:
        async with Fetcher(FetchSettings(retries=0)) as fetcher:
            cache = robots.robots_for(fetcher)
            assert robots.robots_for(fetcher) is cache
            return [await cache.refusal(server.url(p)) for p in ("/a", "/private/b")], cache, fetcher

    with FaultServer() as server:
        server.route("/robots.txt", fs.reply("User-agent: *\nDisallow: /private/\n", "text/plain"))
        first, cache, fetcher = asyncio.run(one_run(server))
        second, other, _ = asyncio.run(one_run(server))  # `watch`: the next run in the same process
    assert first == second and first[0] is None and "disallowed" in first[1]
    assert other is not cache and fetcher.robots is cache  # type: ignore[attr-defined]
    assert server.count("/robots.txt") == 2  # once per run: the second run did not reuse the first one's rules
    assert not [name for name, value in vars(robots).items()
                if not name.startswith("__") and (isinstance(value, dict) or "Weak" in type(value).__name__)]


def test_the_work_pool_carries_its_executor_and_client():
    from concurrent.futures import ThreadPoolExecutor

    from newsmirror.run import pool as pool_module
    from newsmirror.run.pool import WorkPool, work_pool

    with work_pool("local", 1) as pool:
        assert isinstance(pool, WorkPool) and isinstance(pool.executor, ThreadPoolExecutor) and pool.client is None
        assert pool.executor.submit(sum, (1, 2)).result() == 3
    assert not hasattr(pool_module, "_CLIENTS") and not hasattr(pool_module, "dask_client")


# -- the state file's errors at every entry point ------------------------------------------------------------------


def broken_state(tmp_path: Path, extra: str = "") -> Config:
    config = make_config(tmp_path, extra)
    config.state_path.write_bytes(b"not a database, just bytes" * 100)
    return config


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", [["status"], ["push"], ["compact", "--yes"], ["views", "import", "access.log"],
                                     ["serve-counter", "--port", "0"]])
def test_a_broken_state_file_is_one_line_naming_it_and_the_stage(tmp_path, command):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    config = make_config(tmp_path, f'[[remotes]]\nname = "here"\nurl = "file://{bare}"\n')
    (tmp_path / "newsmirror.toml").write_text(f'[mirror]\noutput = "mirror"\nstate = "state.db"\n'
                                              f'counter_pixel = "{PIXEL_URL}"\n'
                                              f'[[remotes]]\nname = "here"\nurl = "file://{bare}"\n')
    commit(config.output_dir, {"README.md": "hello\n"})
    (tmp_path / "access.log").write_text('h - - [10/Oct/2026:13:55:36 +0000] "GET /p.gif HTTP/1.1" 200 43\n')
    config.state_path.write_bytes(b"not a database, just bytes" * 100)
    result = cli(tmp_path, *command)
    stage = "publish" if command[0] in ("push", "compact") else "state"
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        f"error: {config.state_path} [{stage}] state database: file is not a database"


def test_the_counters_writer_reports_state_errors_as_one_line(tmp_path):
    from newsmirror.views.counts import Writer

    config = broken_state(tmp_path)
    writer = Writer(config)
    try:
        with pytest.raises(StateError) as info:
            writer.flush({"2026-03-02": {"pages/a.md": 1}}).result(10)
    finally:
        writer.pool.shutdown()
    assert info.value.resource == str(config.state_path) and info.value.stage is Stage.STATE
