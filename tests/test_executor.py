"""Scale-out: on a Dask cluster (an in-process LocalCluster of two one-thread workers here) pages are fetched and
extracted by one task per host, per-host politeness holds across the workers, a failed task fails its host's URLs
(not the run), and the mirror is byte-identical to a local run's."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from PIL import Image

import faultserver as fs
from conftest import make_config
from faultserver import ClientLog, FaultServer, mirror_config_text
from newsmirror.run import pagetask
from newsmirror.config import FetchSettings, parse_config
from newsmirror.run.pool import ExecutorError, check_spec
from newsmirror.fetch.client import Fetcher, FetchRequest
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.errors import FetchError, Stage
from newsmirror.records import Candidate, FetchTask

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def cluster():
    # memory_limit=0: in-process workers would measure the whole test process against their share of the machine's
    # memory, and pause (never run a task) on a machine with less of it
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None, memory_limit=0) as cluster:
        yield cluster


def spec_of(cluster: LocalCluster) -> str:
    return "dask://" + cluster.scheduler_address.removeprefix("tcp://")


def keys_since(cluster: LocalCluster, start: int) -> set[str]:
    """Keys of the tasks the scheduler handled since its transition log had `start` entries."""
    return {str(entry[0]) for entry in list(cluster.scheduler.transition_log)[start:]}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_dask_run_is_byte_identical_to_a_local_run(demo_site, tmp_path, cluster):
    local = make_config(demo_site, tmp_path / "local")
    summary = run_once(local, Reporter(QUIET), RunRequest(), now=NOW)
    assert summary.new >= 10 and summary.failed == 0
    mark, logged = len(cluster.scheduler.transition_log), len(demo_site.requests)
    remote = make_config(demo_site, tmp_path / "dask")
    on_dask = run_once(remote, Reporter(QUIET), RunRequest(executor=spec_of(cluster)), now=NOW)
    worked = keys_since(cluster, mark)
    assert (on_dask.new, on_dask.failed) == (summary.new, 0)
    assert tree(remote.output_dir) == tree(local.output_dir)
    # the pages were fetched (each once) and extracted by the host task; images were recompressed on the cluster
    host_tasks = [key for key in worked if key.startswith(f"{pagetask.TASK_NAME}-")]
    assert len(host_tasks) == 1 and "news.demo.test" in host_tasks[0]  # the demo site is one host
    assert any("recompress" in key for key in worked)
    assert not any("extract_page" in key for key in worked)  # no extraction task besides the host task
    paths = [path for method, path in demo_site.requests[logged:] if method == "GET"]
    pages = [i for i, path in enumerate(paths) if path.startswith("/articles/")]
    assert len(pages) == len(set(paths[i] for i in pages)) == summary.new
    images = [i for i, path in enumerate(paths) if path.startswith("/images/")]
    assert images and max(pages) < min(images)  # two phases: images only after every page task


def slow(body: str, hold: float) -> fs.Behaviour:
    """The page after `hold` seconds (a request that overlapped another would show in `open_max`)."""
    answer = fs.reply(body)

    async def behave(request, reader, writer) -> None:
        await asyncio.sleep(hold)
        await answer(request, reader, writer)
    return behave


def article(title: str, image: str = "") -> str:
    body = "".join(f"<p>{title}: the harbour ferry runs again after the winter repairs. Paragraph {i} adds a "
                   f"sentence about the timetable and the crew.</p>" for i in range(6))
    figure = f'<figure><img src="{image}" alt="Ferry"><figcaption>The ferry</figcaption></figure>' if image else ""
    return f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body><article>' \
           f"<h1>{title}</h1>{body[:200]}{figure}{body[200:]}</article></body></html>"


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (shade, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def test_per_host_politeness_holds_across_workers(tmp_path, cluster):
    """Two hosts, two workers: one request at a time per host, and `delay` (alpha: its robots.txt Crawl-delay)
    between starts, whoever asks: the driver (robots.txt, the images of beta's pages, which alpha serves, fetched
    once alpha's page task is done) or the host's task."""
    hosts, pages, delay, crawl_delay = ("alpha.test", "beta.test"), 5, 0.2, 0.35
    with FaultServer() as server:
        server.route("/robots.txt", fs.reply(f"User-agent: *\nCrawl-delay: {crawl_delay}\n", "text/plain"))
        sources = ""
        for host in hosts:
            for n in range(pages):
                image = f"http://alpha.test/img/{n}.png" if host == "beta.test" else ""
                server.route(f"/{host}/{n}.html", slow(article(f"{host} story {n}", image), hold=0.1))
                server.route(f"/img/{n}.png", fs.reply(png(40 * n), "image/png"))
            urls = ", ".join(f'"http://{host}/{host}/{n}.html"' for n in range(pages))
            name = host.split(".")[0]
            sources += f'[[sources]]\nname = "{name}"\nkind = "urls"\nchannel = "{name}"\nurls = [{urls}]\n' \
                       f'robots = {str(host == "alpha.test").lower()}\n'
        text = mirror_config_text({host: server.address for host in hosts}, sources,
                                  fetch=f"timeout = 5\nretries = 0\nper_host_concurrency = 1\ndelay = {delay}")
        config = parse_config(text, tmp_path / "newsmirror.toml", tmp_path)
        mark = len(cluster.scheduler.transition_log)
        # when the driver and the workers (threads of this process) started each request: the server's thread sees
        # them later, by a lag of its own
        with ClientLog() as log:
            summary = run_once(config, Reporter(QUIET), RunRequest(executor=spec_of(cluster)), now=NOW)
        worked = keys_since(cluster, mark)
    images = [c.started for c in log.select() if c.path.startswith("/img/")]
    assert (summary.new, summary.failed) == (2 * pages, 0)
    assert len(images) == pages and len(list((tmp_path / "mirror" / "assets").rglob("*.webp"))) == pages
    assert server.count("/robots.txt") == 1
    for host, wait in zip(hosts, (crawl_delay, delay)):
        assert any(key.startswith(f"{pagetask.TASK_NAME}-{host}-") for key in worked)
        count = 2 * pages + 1 if host == "alpha.test" else pages  # + robots.txt, images
        assert len(server.times(host=host)) == count and server.open_max[host] == 1  # one request at a time
        starts = log.starts(host=host)
        assert len(starts) == count
        fs.assert_spaced(starts, wait)
    alpha, beta = ([c.started for c in log.select(host=host) if c.path.endswith(".html")] for host in hosts)
    assert alpha[0] < beta[-1] and beta[0] < alpha[-1]  # the hosts were fetched at the same time, on two workers
    assert max(alpha) < min(images)  # images after the page tasks


def _task(url: str) -> FetchTask:
    return FetchTask(url, url.rsplit("/", 1)[-1], ("news",), "new", Candidate(url, "news", "news"))


def test_a_failed_host_task_fails_its_urls_not_the_run(cluster):
    requests = [FetchRequest(url, key=_task(url)) for url in
                ("http://a.test/1.html", "http://a.test/2.html", "http://b.test/1.html")]
    broken = FetchSettings(resolve={"a.test": "127.0.0.1:no-port"})  # the task raises building its transport
    unsendable = {"news": threading.Lock()}  # input that cannot be pickled to a worker

    async def on_cluster(settings, options):
        received: list = []
        with Client(cluster.scheduler_address, timeout="10s") as client:
            await pagetask.on_cluster(client, requests, Fetcher(settings), options, received.append)
        return received

    for settings, options, cause in ((broken, {}, "ValueError"), (FetchSettings(), unsendable, "serialize")):
        received = asyncio.run(on_cluster(settings, options))
        assert sorted(result.task.url for result in received) == sorted(r.url for r in requests)
        for result in received:
            task, error = result.task, result.error
            assert isinstance(error, FetchError) and result.article is None and error.retryable
            assert error.stage is Stage.FETCH and error.resource == task.url and error.__cause__ is not None
            host = task.url.split("/")[2]
            assert f"the Dask task fetching host {host} failed" in error.reason and cause in error.reason


def test_a_page_that_is_no_article_comes_back_from_a_worker_process():
    """Returned by a process pool (local) or Dask, the extraction failure must unpickle: a plain ExtractError does
    not (its constructor takes two arguments), which broke the whole process pool and the run. Checked in a fresh
    interpreter: importing `distributed` (as this module does) installs tblib's exception pickling, which hides it."""
    script = """
import pickle, sys
from newsmirror.extract.page import ExtractOptions
from newsmirror.run.pagetask import extract_page
from newsmirror.errors import ExtractError, Stage
assert "distributed" not in sys.modules
for body in (b"<html><body><p>x</p></body></html>", b"\\xff\\xfe<<<"):
    failure = pickle.loads(pickle.dumps(extract_page(body, "http://a.test/1.html", None, ExtractOptions())))
    assert isinstance(failure, ExtractError) and failure.resource == "http://a.test/1.html", failure
    assert failure.stage is Stage.EXTRACT and failure.reason
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_executor_specs():
    assert check_spec("local") == "local" and check_spec("dask://10.0.0.5:8786") == "dask://10.0.0.5:8786"
    for bad in ("dask://nohost", "spark://x:1", "", "dask://:8786"):
        with pytest.raises(ExecutorError):
            check_spec(bad)


def test_every_newsmirror_error_arrives_whole_from_another_process():
    """Errors cross process boundaries (the pool's, Dask's): each subclass, whatever its constructor takes."""
    import pickle

    from newsmirror.publish.replay import ReplayConflict
    from newsmirror.fetch.imaging import ImageError
    from newsmirror.errors import ExtractError, FetchError

    for error in (FetchError("http://a.test/x", "HTTP 503 after 2 attempts", status=503, retryable=True),
                  ExtractError("http://a.test/y", "no article text"), ImageError("not an image", "http://a.test/z.png"),
                  ReplayConflict("file:///srv/m.git", ["README.md", "pages/a.md"])):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and vars(copy) == vars(error)
