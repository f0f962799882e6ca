"""Where the CPU-bound work of a run (extraction, image recompression) runs: this machine's cores, or a Dask cluster.

    with work_pool("dask://10.0.0.5:8786", task_count) as pool:   # or "local", "dask-local"
        await loop.run_in_executor(pool.executor, extract_article, ...)

`local` (the default): a forkserver process pool with one worker per core (a thread for a handful of pages); the
driver (the `newsmirror run` process) fetches every page. `dask-local`: a Dask LocalCluster on this machine (one
single-threaded worker per core). `dask://HOST:PORT`: the scheduler of an existing Dask cluster. On Dask, article
pages are fetched and extracted by one task per host (`pagetask.py`, given the pool's `client`), so per-host
politeness holds however many workers there are; image recompression goes to the pool's `executor`. The driver
keeps state, planning, image downloads, rendering and publishing, and the mirror is byte-identical to a local run's.
Workers need this package (same version) and its dependencies installed: `pip install newsmirror` from the same
lock file.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from newsmirror.errors import NewsmirrorError, Stage

PROCESS_POOL_THRESHOLD = 8  # below this many pages, work in a thread: a process pool costs more than it saves
DASK_PREFIX = "dask://"


class ExecutorError(NewsmirrorError):
    def __init__(self, spec: str, reason: str):
        super().__init__(spec, Stage.CONFIG, reason)


def check_spec(spec: str) -> str:
    """`local`, `dask-local` or `dask://HOST:PORT`; raises ExecutorError for anything else."""
    if spec in ("local", "dask-local"):
        return spec
    if spec.startswith(DASK_PREFIX):
        host, _, port = spec[len(DASK_PREFIX):].rpartition(":")
        if host and port.isdigit():
            return spec
    raise ExecutorError(spec, "expected local, dask-local or dask://HOST:PORT")


@dataclass(frozen=True)
class WorkPool:
    """A run's pool, open while `work_pool` is: where its CPU-bound work goes."""

    executor: Executor
    client: Any = None  # the `distributed.Client` behind the executor on Dask; None for the local pools


def spreads(pool: Executor) -> bool:
    """True when the pool runs work outside the driver's process (so images may share it with extraction)."""
    return not isinstance(pool, ThreadPoolExecutor)


@contextmanager
def work_pool(spec: str, task_count: int) -> Iterator[WorkPool]:
    """The pool `spec` names, for a run of `task_count` pages; closed (its workers or its client) on exit."""
    spec = check_spec(spec)
    if spec == "local":
        if task_count < PROCESS_POOL_THRESHOLD or (os.cpu_count() or 1) < 2:
            with ThreadPoolExecutor(max_workers=1) as pool:
                yield WorkPool(pool)
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["newsmirror.extract.page", "trafilatura", "newsmirror.fetch.imaging"])
        with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
            yield WorkPool(pool)
        return
    with _dask_client(spec) as client:
        yield WorkPool(client.get_executor(pure=False), client)


@contextmanager
def _dask_client(spec: str):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
        raise ExecutorError(spec, f"dask.distributed is not installed: {exc}") from exc
    if spec == "dask-local":
        with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    address = "tcp://" + spec[len(DASK_PREFIX):]
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise ExecutorError(spec, f"cannot reach the Dask scheduler: {exc}") from exc
    with client:
        yield client
