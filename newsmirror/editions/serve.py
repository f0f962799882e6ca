"""`newsmirror serve`: preview the HTML edition on a local HTTP server (stdlib; no access log with addresses).

Serve the mirror root (so that `site/` pages reach the images in `assets/`) and open `/<html_dir>/`; `home` makes
"/" redirect there. Binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EXTRA_TYPES = {
    ".wasm": "application/wasm", ".pagefind": "application/octet-stream", ".pf_meta": "application/octet-stream",
    ".pf_index": "application/octet-stream", ".pf_fragment": "application/octet-stream",
    ".webp": "image/webp", ".avif": "image/avif", ".xml": "application/xml", ".js": "text/javascript",
}


class PreviewHandler(SimpleHTTPRequestHandler):
    """Static files from one directory; logs "METHOD /path STATUS" (never the client's address) unless quiet."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **EXTRA_TYPES}
    home: str | None = None
    quiet: bool = False

    def do_GET(self) -> None:  # noqa: N802
        if self.home and self.path.split("?", 1)[0] == "/" and not (Path(self.directory) / "index.html").exists():
            self.send_response(302)
            self.send_header("Location", "/" + self.home.strip("/") + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_request(self, code: object = "-", size: object = "-") -> None:
        if not self.quiet:
            sys.stderr.write(f"{self.command} {self.path} {code}\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the default adds the client address and a timestamp to every line


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a reader who went away
            super().handle_error(request, client_address)


def make_server(directory: Path, port: int = 8000, host: str = "127.0.0.1", home: str | None = None,
                quiet: bool = False) -> PreviewServer:
    """A server for `directory` (not started; `port=0` picks a free one: see `server.server_address`)."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    handler = type("Handler", (PreviewHandler,), {"home": home, "quiet": quiet})
    return PreviewServer((host, port), partial(handler, directory=str(directory)))


def serve(directory: Path, port: int = 8000, *, host: str = "127.0.0.1", home: str | None = None) -> None:
    """Serve `directory` until interrupted (Ctrl-C)."""
    with make_server(directory, port, host, home) as server:
        address = f"http://{host}:{server.server_address[1]}/" + (home.strip("/") + "/" if home else "")
        sys.stderr.write(f"Serving {directory} at {address} (Ctrl-C to stop)\n")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
