"""An httpx transport that connects to another address for some hosts (like `curl --resolve`).

The request keeps its URL and Host header, so the server sees the original host name. Used by the demo (its site
runs on a random loopback port but keeps stable URLs) and by mirrors that reach a source through a fixed address.
"""

from __future__ import annotations

import httpx

from newsmirror.config_checks import parse_address


class ResolvingTransport(httpx.AsyncBaseTransport):
    def __init__(self, resolve: dict[str, str], inner: httpx.AsyncBaseTransport | None = None):
        """`resolve`: {"host" or "host:port": "address:port"} (config `fetch.resolve`, checked when the file is
        loaded; a malformed entry raises ValueError here, before any connection is made)."""
        self.targets: dict[str, tuple[str, int | None]] = {}
        for name, address in resolve.items():
            try:
                self.targets[name.lower()] = parse_address(address)
            except ValueError as exc:
                raise ValueError(f"fetch.resolve {name!r} = {address!r}: {exc}") from None
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        target = self.targets.get(f"{url.host}:{url.port}") if url.port else None
        target = target or self.targets.get(url.host)
        if not target:
            return await self.inner.handle_async_request(request)
        host, port = target
        request.url = url.copy_with(host=host, port=port or url.port)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            request.url = url  # redirects and final_url keep the original host

    async def aclose(self) -> None:
        await self.inner.aclose()
