"""The checks config.py's models run on single values: each returns the value or raises ValueError saying what was
expected (pydantic adds the key and what was found). Only ValueError may leave them: anything else would escape
`parse_config` as a crash instead of a configuration error.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, ValidationInfo

CHANNEL_NAME = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,63}\Z")  # use fullmatch; \A..\Z keeps .match() exact too
CHANNEL_RULE = "1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
BRANCH_NAME = re.compile(r"\A(?!-)(?!/)(?!.*\.\.)(?!.*//)(?!.*\.lock\Z)[A-Za-z0-9._/-]{1,200}(?<!/)(?<!\.)\Z")
_HOST = re.compile(r"[\w-]+(\.[\w-]+)*\.?")  # a DNS name (IDN letters allowed) or a dotted IPv4 address
_URL_FORBIDDEN = set('"<>\\`')
_AUTHOR = re.compile(r"([^<>]+) <([^<>\s]+)>")
_DIR_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
#: top-level names of the Markdown edition in the mirror's work tree (render.py, assets.py)
RESERVED_TOP = {"readme.md", "indexes", "pages", "assets"}


def check_channel_name(value: str) -> str:
    if not CHANNEL_NAME.fullmatch(value):
        raise ValueError(f"a channel name: {CHANNEL_RULE}")
    return value


def check_branch(value: str | None) -> str | None:
    if value is not None and not BRANCH_NAME.fullmatch(value):
        raise ValueError("a git branch name (letters, digits, '.', '_', '-', '/')")
    return value


def _control(value: str) -> bool:
    return any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in value)


def check_line(value: str | None) -> str | None:
    """One line of text: no newline, tab or other control character."""
    if value is not None and _control(value):
        raise ValueError("a single line of text without control characters (newline, tab, ...)")
    return value


def check_source_name(value: str) -> str:
    if not value.strip() or len(value) > 100 or _control(value):
        raise ValueError("a name of 1 to 100 characters on one line")
    return value


def check_host(host: str) -> str:
    """A host name, an IPv4 address or an IPv6 address (without brackets)."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"a host name or IP address, not {host!r}") from None
    elif not _HOST.fullmatch(host) or len(host) > 253:
        raise ValueError(f"a host name or IP address, not {host!r}")
    return host


def check_port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise ValueError(f"a port from 1 to 65535, not {text!r}")
    return int(text)


def check_http_url(value: str) -> str:
    """An absolute http:// or https:// URL with a host (and a valid port, if any)."""
    expected = "an http:// or https:// URL with a host"
    if _control(value) or any(c.isspace() or c in _URL_FORBIDDEN for c in value):
        raise ValueError(f"{expected}, without spaces, control characters, quotes, '<', '>', '\\' or '`'")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise ValueError(f"{expected} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(expected)
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{expected} and a port from 1 to 65535")
    try:
        check_host(parts.hostname)
    except ValueError as exc:
        raise ValueError(f"{expected}: {exc}") from None
    return value


def check_template(value: str, allowed: tuple[str, ...]) -> str:
    """A str.format template using only the named placeholders, bare: no positional `{}`/`{0}`, no attribute or
    index access, no conversion or format spec (`{path:>99999999}` would build a huge string per page)."""
    names = ", ".join("{" + name + "}" for name in allowed)
    try:
        fields = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(value)
                  if field is not None]
    except ValueError as exc:  # a lone "{" or "}"
        raise ValueError(f"a template whose only placeholders are {names} (write '{{{{' and '}}}}' for literal "
                         f"braces): {exc}") from None
    for field, spec, conversion in fields:
        if field not in allowed or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"a template whose only placeholders are {names} (not {shown!r})")
    return value


def check_pixel(value: str | None) -> str | None:
    """`mirror.counter_pixel`: a template with {path}, {id}, {channel} that fills in to an http(s) URL."""
    if value is not None:
        check_template(value, ("path", "id", "channel"))
        check_http_url(value.format(path="pages/news/id.md", id="id", channel="news"))
    return value


def check_author(value: str) -> str:
    match = _AUTHOR.fullmatch(value)
    if _control(value) or not match or not match.group(1).strip():
        raise ValueError("'Name <email>' on one line")
    return value


def check_output_path(value: str) -> str:
    check_line(value)
    if any(part.casefold() == ".git" for part in re.split(r"[/\\]", value)):
        raise ValueError("a directory outside any '.git' directory")
    return value


def check_mirror_dir(value: str) -> str:
    """A directory inside the mirror's work tree (`editions.html_dir`): relative, no '..', never '.git'."""
    parts = value.rstrip("/").split("/")
    if not all(_DIR_PART.fullmatch(part) for part in parts) or len(value) > 200:
        raise ValueError("a relative directory inside the mirror: names of letters, digits, '.', '_' or '-' (not "
                         "starting with '.', so no '..' or '.git') separated by '/'")
    if parts[0].casefold() in RESERVED_TOP:
        raise ValueError(f"a directory apart from the Markdown edition's {', '.join(sorted(RESERVED_TOP))}")
    return value


def check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except (re.error, OverflowError, RecursionError, ValueError) as exc:
            raise ValueError(f"a valid regular expression ({exc})") from None
    return value


def parse_address(address: str, need_port: bool = False) -> tuple[str, int | None]:
    """"host", "host:port", "[v6]" or "[v6]:port" -> (host, port or None); ValueError when malformed."""
    if address.startswith("["):
        host, bracket, rest = address[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"an IPv6 address in brackets, not {address!r}")
        port_text = rest[1:] if rest else None
    elif address.count(":") == 1:
        host, _, port_text = address.partition(":")
    else:
        host, port_text = address, None
    if port_text is None and need_port:
        raise ValueError(f"host:port, not {address!r}")
    return check_host(host), None if port_text is None else check_port(port_text)


def check_resolve(value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    """`fetch.resolve`, checked when a file is loaded (code may build FetchSettings with a broken entry on purpose,
    to see the transport fail): keys "host" or "host:port", values "address:port"."""
    if not info.context:
        return value
    problems = []
    for name, address in value.items():
        try:
            parse_address(name)
            parse_address(address, need_port=True)
        except ValueError as exc:
            problems.append(f"{name!r} = {address!r}: {exc}")
    if problems:
        raise ValueError("entries \"host\" = \"address:port\" with a port from 1 to 65535; " + "; ".join(problems))
    return value


def check_url_on_load(value: str, info: ValidationInfo) -> str:
    """An entry of a source's `urls`, checked when a file is loaded (the discoverer skips non-http entries too,
    and code may build a Source with one on purpose)."""
    return check_http_url(value) if info.context else value


def check_profile(profile: str | None) -> str | None:
    if profile:
        from newsmirror.convert import check_profile as check  # OpenCC is loaded only when a profile is set

        check(profile)
    return profile


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
Line = Annotated[str, AfterValidator(check_line)]
