"""The view counter against nginx serving the same 1x1 pixel with a buffered access log (how views were counted
in the design we generalise), both on 127.0.0.1, driven by wrk in the same run.

    .venv/bin/python benchmarks/counter.py                       # 3 rounds x 8 s, 20/50/100 connections
    .venv/bin/python benchmarks/counter.py --duration 5 --processes 2 --connections 50

For each round and connection count, nginx and the counter run one after the other (which goes first alternates)
with the same wrk duration, threads and connections; each server starts fresh and is stopped cleanly (nginx: SIGQUIT,
which writes its log buffer; the counter: SIGTERM, which flushes its counts). Printed per run: req/s, p99 latency,
the server's CPU time per request (steadier than req/s on a busy machine), wrk's completed requests, the views stored (counter: in SQLite; nginx: pixel lines in its access log) and whether
they are equal. wrk stops with up to one request in flight per connection, which the server answered (and counted or
logged) but wrk no longer read, so both servers may store up to `connections` more than wrk completed; a second check
sends a fixed number of requests and reads every response, where stored must equal answered. Then the medians per
connection count, and the counter's memory (RSS) before and after floods of 10,000 distinct junk paths.
nginx (`nginx-light`) and `wrk` are installed with apt-get when missing. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsmirror.config import parse_config  # noqa: E402
from newsmirror.records import Article  # noqa: E402
from newsmirror.state.store import Store  # noqa: E402

PAGE = "pages/world/a1.md"
ROOT = Path(__file__).resolve().parents[1]


def ensure_tools() -> None:
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if not shutil.which(tool)
               and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, check=True)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_mirror(directory: Path) -> Path:
    """A config and a state database holding one published article (its pixel is what wrk requests)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "newsmirror.toml"
    path.write_text('[mirror]\ncounter_pixel = "https://counter.example/p/{path}"\nstate = "state.db"\n')
    config = parse_config(path.read_text(), path, directory)
    with Store(config.state_path) as store:
        stamp = "2026-11-01T00:00:00+00:00"
        store.ensure_article("a1", "https://news.example.org/a1", "world", stamp)
        store.add_channels("a1", ("world",), stamp)
        store.save_article("a1", Article("https://news.example.org/a1", "A", "t", "<p>t</p>"), "h", None, stamp)
    return path


def stored_views(state: Path) -> int:
    with Store(state) as store:
        return store.db.execute("SELECT coalesce(sum(count), 0) FROM views").fetchone()[0]


# -- the two servers ----------------------------------------------------------------------------------------------


class Nginx:
    name = "nginx"

    def __init__(self, directory: Path, processes: int):
        self.dir = directory / "nginx"
        self.dir.mkdir(exist_ok=True)
        self.processes = processes

    def start(self) -> int:
        self.port = free_port()
        self.log = self.dir / "access.log"
        self.log.unlink(missing_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(f"""{user}worker_processes {self.processes};
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {self.log} combined buffer=64k;
    keepalive_requests 1000000;
    client_body_temp_path {self.dir}/tmp;
    server {{
        listen 127.0.0.1:{self.port};
        location /p/ {{
            empty_gif;
            add_header Cache-Control no-store;
            add_header Referrer-Policy no-referrer;
        }}
    }}
}}
""")
        self.process = subprocess.Popen([nginx_binary(), "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                                         "-g", "daemon off;"], stderr=subprocess.PIPE)
        wait_for(self.port)
        return self.port

    def pids(self) -> list[int]:
        parent = psutil.Process(self.process.pid)
        return [parent.pid] + [c.pid for c in parent.children(recursive=True)]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGQUIT)  # graceful: workers write their log buffers
        self.process.wait(30)
        pattern = f'"GET /p/{PAGE} '.encode()
        return sum(1 for line in self.log.open("rb") if pattern in line)


class Counter:
    name = "counter"

    def __init__(self, directory: Path, processes: int):
        self.config = make_mirror(directory)
        self.state = directory / "state.db"
        self.processes = processes

    def start(self) -> int:
        with Store(self.state) as store:
            store.db.execute("DELETE FROM views")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsmirror", "serve-counter", "--config", str(self.config), "--port", "0",
             "--processes", str(self.processes)], stderr=subprocess.PIPE, cwd=ROOT)
        line = self.process.stderr.readline().decode()
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line)[1])
        wait_for(self.port)
        deadline = time.monotonic() + 20  # the workers are forked after the bind
        while self.processes > 1 and len(psutil.Process(self.process.pid).children()) < self.processes:
            if time.monotonic() > deadline:
                raise SystemExit("the counter's workers did not start")
            time.sleep(0.05)
        return self.port

    def pids(self) -> list[int]:
        parent = psutil.Process(self.process.pid)
        return [parent.pid] + [c.pid for c in parent.children(recursive=True)]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        if self.process.returncode:
            raise SystemExit(f"counter exited with {self.process.returncode}: {err.decode()[-2000:]}")
        return stored_views(self.state)


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


# -- wrk --------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    connections: int
    rps: float
    p99_ms: float
    completed: int
    errors: str
    stored: int
    cpu_us: float  # the server's CPU time (all its processes) per completed request


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, connections: int, duration: float, threads: int) -> tuple[float, float, int, str]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency",
         f"http://127.0.0.1:{port}/p/{PAGE}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1])
    completed = int(re.search(r"(\d+) requests in", out)[1])
    errors = "; ".join(m.strip() for m in re.findall(r"^\s+(Socket errors:.*|Non-2xx.*)$", out, re.M))
    return rps, p99, completed, errors


def measure(server, connections: int, duration: float, threads: int) -> Result:
    port = server.start()
    pids = server.pids()
    before = cpu_seconds(pids)
    rps, p99, completed, errors = run_wrk(port, connections, duration, threads)
    cpu = cpu_seconds(pids) - before
    stored = server.stop()
    return Result(server.name, connections, rps, p99, completed, errors, stored, cpu / max(completed, 1) * 1e6)


async def _client(port: int, requests: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = 0
    request = f"GET /p/{PAGE} HTTP/1.1\r\nHost: counter.example\r\n\r\n".encode()
    for _ in range(requests):
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head)[1])
        await reader.readexactly(length)
        answered += head.startswith(b"HTTP/1.1 200")
    writer.close()
    await writer.wait_closed()
    return answered


def fixed_count(server, connections: int, per_connection: int) -> tuple[int, int]:
    """A known number of requests, every response read: (answered, stored)."""
    port = server.start()

    async def everyone() -> int:
        return sum(await asyncio.gather(*(_client(port, per_connection) for _ in range(connections))))

    answered = asyncio.run(everyone())
    return answered, server.stop()


def rss_mb(pids: list[int]) -> float:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20


def junk_flood(directory: Path, paths: int) -> tuple[float, float, float, int]:
    """The counter (1 process): RSS idle, after `paths` distinct junk paths, after one more such flood; views."""
    counter = Counter(directory, 1)
    port = counter.start()
    idle = rss_mb(counter.pids())
    answered = 0
    sizes = []
    for round_ in range(2):
        for start in range(0, paths, 1000):
            batch = b"".join(f"GET /p/pages/junk/{round_}-{i}-{'x' * (i % 200)}.md HTTP/1.1\r\nHost: c\r\n\r\n"
                             .encode() for i in range(start, start + 1000))
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(batch + b"GET /p/end HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n")
                received = b""
                while chunk := sock.recv(1 << 20):
                    received += chunk
            answered += received.count(b"HTTP/1.1 200 OK") - 1
        sizes.append(rss_mb(counter.pids()))
    stored = counter.stop()
    assert answered == 2 * paths, answered
    return idle, sizes[0], sizes[1], stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per server and connection count; medians are compared (default 3)")
    parser.add_argument("--connections", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="nginx worker_processes and counter processes (default: CPU count)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="counter-bench-") as tmp:
        directory = Path(tmp)
        servers = [Nginx(directory, args.processes), Counter(directory, args.processes)]
        print(f"{os.cpu_count()} CPUs; nginx worker_processes={args.processes} (access_log combined buffer=64k); "
              f"counter processes={args.processes}; wrk -t{args.threads} -d{args.duration:g}s, {args.rounds} "
              f"round(s); load average {os.getloadavg()[0]:.2f}")
        print(f"{'server':8} {'conns':>5} {'req/s':>10} {'p99':>9} {'cpu/req':>9} {'completed':>10} {'stored':>10}  "
              "stored = completed?")
        results: list[Result] = []
        for round_ in range(args.rounds):
            for index, connections in enumerate(args.connections):
                order = servers if (index + round_) % 2 == 0 else servers[::-1]
                for server in order:
                    result = measure(server, connections, args.duration, args.threads)
                    results.append(result)
                    extra = result.stored - result.completed
                    exact = "yes" if extra == 0 else (f"+{extra} (in flight when wrk stopped)"
                                                      if 0 < extra <= connections else f"NO ({extra:+d})")
                    print(f"{result.server:8} {connections:5d} {result.rps:10.0f} {result.p99_ms:7.2f}ms "
                          f"{result.cpu_us:7.1f}us "
                          f"{result.completed:10d} {result.stored:10d}  {exact}"
                          + (f"  [{result.errors}]" if result.errors else ""), flush=True)
        print(f"\nmedians over {args.rounds} round(s):")
        for connections in args.connections:
            runs = {name: [r for r in results if r.server == name and r.connections == connections]
                    for name in ("nginx", "counter")}
            rps = {name: statistics.median(r.rps for r in rs) for name, rs in runs.items()}
            p99 = {name: statistics.median(r.p99_ms for r in rs) for name, rs in runs.items()}
            cpu = {name: statistics.median(r.cpu_us for r in rs) for name, rs in runs.items()}
            print(f"  {connections:3d} connections: nginx {rps['nginx']:8.0f} req/s, counter {rps['counter']:8.0f} "
                  f"req/s: {rps['counter'] / rps['nginx']:.2f}x;  p99 nginx {p99['nginx']:.2f} ms, "
                  f"counter {p99['counter']:.2f} ms;  server CPU per request nginx {cpu['nginx']:.1f} us, "
                  f"counter {cpu['counter']:.1f} us")
        print("\nfixed count (50 connections x 400 requests, every response read before stopping):")
        for server in servers:
            answered, stored = fixed_count(server, 50, 400)
            print(f"  {server.name:8} answered {answered}, stored {stored}: "
                  + ("exact" if answered == stored == 20_000 else "NOT exact"))
        idle, after, again, stored = junk_flood(directory / "flood", 10_000)
        print(f"\ncounter memory (1 process, RSS): {idle:.1f} MB idle, {after:.1f} MB after 10,000 distinct junk "
              f"paths, {again:.1f} MB after 10,000 more; views stored for junk: {stored}")


if __name__ == "__main__":
    main()
