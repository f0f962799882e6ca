"""Real git servers on 127.0.0.1 for push tests: `git daemon` (git://, receive-pack on) and dulwich's smart-HTTP
WSGI app (http://, optional basic auth), plus bare repositories that accept or reject pushes."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import make_server

from dulwich.server import FileSystemBackend
from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_wsgi_chain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback port where nothing listens (a connection is refused) and that no one else is handed meanwhile,
    unlike `free_port()`'s, which the next bind(0) (a server started later in the test) may get. The socket holding
    it is bound with SO_REUSEADDR but does not listen, so a server that binds with SO_REUSEADDR too (SmartHTTP) can
    still be started on it: the remote that comes back."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def wait_listening(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def bare_repo(path: Path, reject: str | None = None) -> Path:
    """A bare repository; with `reject`, a pre-receive hook refuses every push with that message."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    if reject is not None:
        hook = path / "hooks" / "pre-receive"
        hook.write_text(f"#!/bin/sh\necho '{reject}' >&2\nexit 1\n")
        hook.chmod(0o755)
    return path


def branch_tip(repo: Path, branch: str) -> str | None:
    result = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/heads/{branch}"], cwd=repo,
                            capture_output=True, text=True)
    return result.stdout.strip() or None


class GitDaemon:
    """`git daemon --enable=receive-pack` serving every repository under `base`."""

    def __init__(self, base: Path, port: int | None = None):
        self.base, self.port = base, port or free_port()
        self.process: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "GitDaemon":
        self.process = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--informative-errors",
             f"--base-path={self.base}", "--listen=127.0.0.1", f"--port={self.port}", str(self.base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


class _Backend(FileSystemBackend):
    """Repositories under `root` by URL path (FileSystemBackend joins an absolute URL path as absolute)."""

    def open_repository(self, path):
        path = os.fsdecode(path) if isinstance(path, bytes) else path
        return super().open_repository(path.lstrip("/"))


class _ThreadingServer(ThreadingMixIn, WSGIServerLogger):
    daemon_threads = True


def _basic_auth(app, user: str, password: str):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def guarded(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"'),
                                                ("Content-Type", "text/plain")])
            return [b"authentication required\n"]
        return app(environ, start_response)
    return guarded


class SmartHTTP:
    """dulwich's smart-HTTP git server for every repository under `base` (http://127.0.0.1:PORT/<name>)."""

    def __init__(self, base: Path, port: int | None = None, auth: tuple[str, str] | None = None):
        self.base, self.port, self.auth = base, port or free_port(), auth
        self.server = None
        self.thread: threading.Thread | None = None

    def url(self, name: str, user: str | None = None, password: str | None = None) -> str:
        cred = f"{user}:{password}@" if user is not None else ""
        return f"http://{cred}127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "SmartHTTP":
        app = make_wsgi_chain(_Backend(str(self.base)))
        if self.auth:
            app = _basic_auth(app, *self.auth)
        self.server = make_server("127.0.0.1", self.port, app, server_class=_ThreadingServer,
                                  handler_class=WSGIRequestHandlerLogger)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
