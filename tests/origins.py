"""Static origins on 127.0.0.1 for browser tests: a mirror root served like a static host (GitHub Pages style:
optional `Access-Control-Allow-Origin: *`, gzip for clients that ask, HTTP/1.1 keep-alive), with a log of the paths
asked for, files that can be replaced per origin (a forged mirror list), and stop/start on the same port."""

from __future__ import annotations

import gzip
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from newsmirror.editions.serve import PreviewHandler


class _Handler(PreviewHandler):
    protocol_version = "HTTP/1.1"
    origin: "Origin"

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, directory=str(self.origin.root), **kwargs)  # type: ignore[arg-type]

    def setup(self) -> None:
        super().setup()
        with self.origin.lock:
            self.origin.connections.add(self.connection)

    def finish(self) -> None:
        with self.origin.lock:
            self.origin.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        with self.origin.lock:
            self.origin.requests.append(path)
        body = self.origin.replaced.get(path.lstrip("/"))
        if body is None and self.origin.gzip and "gzip" in self.headers.get("Accept-Encoding", "") \
                and path.endswith(".html"):
            file = Path(self.directory) / path.lstrip("/")
            if file.is_file():
                body = file.read_bytes()
        if body is None:
            super().do_GET()
            return
        kind = "text/html; charset=utf-8" if path.endswith(".html") else "application/octet-stream"
        compressed = self.origin.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
        data = gzip.compress(body, 6, mtime=0) if compressed else body
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if compressed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def end_headers(self) -> None:
        if self.origin.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client (or the throttle proxy) that hung up is not news


class Origin:
    def __init__(self, root: Path, cors: bool = False, gzip: bool = False):
        self.root, self.cors, self.gzip = root, cors, gzip
        self.requests: list[str] = []
        self.replaced: dict[str, bytes] = {}  # mirror-root path -> bytes served instead of the file
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()  # open keep-alive connections, cut when the origin stops
        self.server: _Server | None = None
        self.port = 0
        self.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"origin": self, "quiet": True})
        self.server = _Server(("127.0.0.1", self.port), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def asked(self, suffix: str) -> int:
        with self.lock:
            return sum(1 for path in self.requests if path.endswith(suffix))
