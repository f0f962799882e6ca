"""Scale-out: a run whose extraction and image work runs on a Dask cluster (an in-process LocalCluster here) makes
a mirror byte-identical to a local run's."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from distributed import LocalCluster

from conftest import make_config
from newsmirror.executor import ExecutorError, check_spec
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import QUIET, Reporter

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_dask_run_is_byte_identical_to_a_local_run(demo_site, tmp_path):
    local = make_config(demo_site, tmp_path / "local")
    summary = run_once(local, Reporter(QUIET), RunRequest(), now=NOW)
    assert summary.new >= 10 and summary.failed == 0
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        spec = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        remote = make_config(demo_site, tmp_path / "dask")
        on_dask = run_once(remote, Reporter(QUIET), RunRequest(executor=spec), now=NOW)
        worked = {key for key, *_ in cluster.scheduler.transition_log}  # every task the scheduler ran
    assert (on_dask.new, on_dask.failed) == (summary.new, 0)
    assert tree(remote.output_dir) == tree(local.output_dir)
    assert any("_extract" in str(key) for key in worked) and any("recompress" in str(key) for key in worked)


def test_executor_specs():
    assert check_spec("local") == "local" and check_spec("dask://10.0.0.5:8786") == "dask://10.0.0.5:8786"
    for bad in ("dask://nohost", "spark://x:1", "", "dask://:8786"):
        with pytest.raises(ExecutorError):
            check_spec(bad)
