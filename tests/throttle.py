"""A TCP proxy on 127.0.0.1 that throttles like the Russian TSPU does to foreign hosts (net4people/bbs#490):
each connection passes the first `limit` bytes from the server (16 KB by default) and then stalls: the rest is
held back, the connection stays open and the client waits. What the client sends always passes.

    with ThrottleProxy(upstream_port, limit=16 * 1024) as proxy:
        proxy.port                 # connect here instead of the upstream
        proxy.delivered            # bytes passed to the client, per connection (in accept order)
        proxy.stalled              # how many connections hit the limit
"""

from __future__ import annotations

import socket
import threading

LIMIT = 16 * 1024


class ThrottleProxy:
    def __init__(self, upstream_port: int, limit: int = LIMIT, upstream_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.limit = limit
        self.delivered: list[int] = []
        self.stalled = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> "ThrottleProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                index = len(self.delivered)
                self.delivered.append(0)
                self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, index), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, index: int | None) -> None:
        """Copy `source` to `target`; from the server (`index` set), only up to the limit, then hold the rest."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if index is not None:
                    with self._lock:
                        passed = data[:self.limit - self.delivered[index]]
                        self.delivered[index] += len(passed)
                        if len(passed) < len(data):
                            self.stalled += 1
                    if passed:
                        target.sendall(passed)
                    if len(passed) < len(data):
                        self._closing.wait()  # stall: the connection stays open, nothing more arrives
                        return
                else:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            if index is None or not self._closing.is_set():
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass
