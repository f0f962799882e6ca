"""Which request targets count: the pixel URL of every page the mirror holds, spelled one way."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes, urlsplit

from newsmirror.config import Config, ConfigError
from newsmirror.state.store import Store

_SAFE = "/?&=%:@!$'()*+,;~-._"  # characters a request target keeps unencoded when we compare targets


@dataclass(frozen=True)
class Targets:
    """Request target (bytes, as the pixel URL sends it) -> the page path counted in `views`."""

    pages: dict[bytes, str]
    keep_query: bool  # the template has a query string; otherwise a query on the request is ignored

    def page(self, raw: bytes) -> str | None:
        if not self.keep_query and b"?" in raw:
            raw = raw.split(b"?", 1)[0]
        page = self.pages.get(raw)
        if page is None and b"%" in raw:
            page = self.pages.get(canonical_target(raw))
        return page


def canonical_target(raw: bytes) -> bytes:
    """One spelling per target: percent-decode, then encode what must be encoded (`..%2f` becomes `../`)."""
    return quote(unquote_to_bytes(raw), safe=_SAFE).encode("ascii")


def pixel_template(config: Config) -> str:
    template = config.mirror.counter_pixel
    if not template:
        raise ConfigError(config.path or "<config>", [
            "key 'mirror.counter_pixel': the counter needs the pixel URL template the pages embed; found none"])
    return template


def load_targets(config: Config, store: Store) -> Targets:
    """Every pixel target of every page the mirror holds (Markdown page, HTML pages in every edition)."""
    from newsmirror import layout  # imported here: not needed at startup

    template = pixel_template(config)
    pages: dict[bytes, str] = {}
    for state in store.published_articles():
        if state.retired:  # retention removed its page
            continue
        for path in layout.page_paths(config, state):
            url = urlsplit(template.format(path=path, id=state.id, channel=state.channel))
            target = quote(url.path + (f"?{url.query}" if url.query else ""), safe=_SAFE).encode("ascii")
            pages.setdefault(target, path)
    return Targets(pages, keep_query="?" in template)
