"""Canonical URLs and article ids (pure).

An id is neutral, stable and safe as a file name: the first group of the source's `id_pattern` applied to the URL
(or the whole match), reduced to [A-Za-z0-9_-] and never a device name Windows reserves (CON, NUL ...); otherwise a
short hash of the canonical URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|spm|from|share_token|_ga)$")
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_ID_LENGTH = 80
# names Windows reserves for devices (with any extension): a mirror cloned there could not hold such a page
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})


MAX_URL_LENGTH = 8192


def url_problem(url: object) -> str | None:
    """Why `url` cannot be fetched as an article or a source (the reason, one line), or None when it can. The
    one rule for every URL from the world: absolute http(s), a valid host and port, no control characters."""
    if not isinstance(url, str):
        return f"not a URL (a {type(url).__name__})"
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:  # IDNA errors are ValueErrors
        return f"invalid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return f"unsupported URL scheme {parsed.scheme!r}" if parsed.scheme else "invalid URL: not an absolute http(s) URL"
    if not parsed.host or "%" in parsed.host:  # httpx percent-encodes spaces and the like in a host
        return "invalid URL: no valid host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"invalid URL: port {parsed.port} out of range"
    return None


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, drop default ports, fragments and tracking parameters. Total: a URL that does
    not parse (which `url_problem` keeps out of the pipeline) comes back stripped, never as an exception."""
    try:
        return _canonical(url)
    except ValueError:
        return url.strip()


def _canonical(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    )
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, query, ""))


def short_hash(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def article_id(url: str, id_pattern: str | None = None) -> str:
    canonical = canonical_url(url)
    if id_pattern:
        match = re.search(id_pattern, canonical)
        if match:
            raw = next((g for g in match.groups() if g), None) if match.groups() else match.group(0)
            safe = UNSAFE.sub("-", raw or "").strip("-")[:MAX_ID_LENGTH]
            if safe and safe.upper() not in RESERVED:
                return safe
    return short_hash(canonical)


def disambiguate(candidate_id: str, url: str) -> str:
    """An id for `url` when `candidate_id` already belongs to another URL."""
    return f"{candidate_id[:MAX_ID_LENGTH - 7]}-{short_hash(canonical_url(url), 6)}"
