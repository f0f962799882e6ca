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
from newsmirror.gitcmd import GitError, run_git
from newsmirror.publish import GitRepo, PublishError
from newsmirror.records import Stage
from newsmirror.remotes import push_all
from newsmirror.sizes import CACHE, measure
from newsmirror.status import status_lines
from newsmirror.store import StateError, Store

NOW = "2026-03-02T09:00:00+00:00"


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

