"""Canonical URLs and article ids (pure).

An id is neutral, stable and safe as a file name: the first group of the source's `id_pattern` applied to the URL
(or the whole match), reduced to [A-Za-z0-9_-] and never a device name Windows reserves (CON, NUL ...); otherwise a
short hash of the canonical URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|spm|from|share_token|_ga)$")
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_ID_LENGTH = 80
# names Windows reserves for devices (with any extension): a mirror cloned there could not hold such a page
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, drop default ports, fragments and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
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
