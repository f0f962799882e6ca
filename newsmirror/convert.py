"""Simplified <-> Traditional Chinese conversion with OpenCC (pure): plain text, and the text nodes of HTML.

URLs are never converted: in HTML only text nodes and the human-readable attributes (alt, title, aria-label) are.
Converters are cached per profile (building one loads its dictionaries, ~ms; converting is ~5 ms per 100k chars).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

import opencc

from newsmirror.config import Config
from newsmirror.errors import NewsmirrorError, Stage

#: profile -> (directory of the converted edition inside the HTML edition, its BCP 47 language tag)
EDITIONS: dict[str, tuple[str, str]] = {
    "s2t": ("zh-hant", "zh-Hant"), "hk2t": ("zh-hant", "zh-Hant"), "tw2t": ("zh-hant", "zh-Hant"),
    "jp2t": ("zh-hant", "zh-Hant"),
    "s2tw": ("zh-hant-tw", "zh-Hant-TW"), "s2twp": ("zh-hant-tw", "zh-Hant-TW"), "t2tw": ("zh-hant-tw", "zh-Hant-TW"),
    "s2hk": ("zh-hant-hk", "zh-Hant-HK"), "s2hkp": ("zh-hant-hk", "zh-Hant-HK"), "t2hk": ("zh-hant-hk", "zh-Hant-HK"),
    "t2s": ("zh-hans", "zh-Hans"), "tw2s": ("zh-hans", "zh-Hans"), "tw2sp": ("zh-hans", "zh-Hans"),
    "hk2s": ("zh-hans", "zh-Hans"), "hk2sp": ("zh-hans", "zh-Hans"),
    "t2jp": ("ja", "ja"),
}
_TOKENS = re.compile(r"""(<!--.*?-->|<[A-Za-z/!](?:[^>"']|"[^"]*"|'[^']*')*>)""", re.DOTALL)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_ATTRIBUTE = re.compile(r"""(\s(?:alt|title|aria-label)=")([^"]*)(")""", re.IGNORECASE)
_SKIP = {"script", "style", "code", "pre"}


class ConvertError(NewsmirrorError):
    def __init__(self, profile: str, reason: str):
        super().__init__(f"opencc:{profile}", Stage.TRANSFORM, reason)


def _stem(profile: str) -> str:
    return profile.strip().removesuffix(".json")


@lru_cache(maxsize=16)
def converter(profile: str) -> opencc.OpenCC:
    stem = _stem(profile)
    try:
        return opencc.OpenCC(stem + ".json")
    except RuntimeError as exc:
        known = ", ".join(sorted(c.removesuffix(".json") for c in opencc.CONFIGS))
        raise ConvertError(stem, f"unknown OpenCC profile (known: {known}): {exc}") from None


def convert_text(text: str, profile: str) -> str:
    if not profile or not text:
        return text
    return converter(profile).convert(text)


def text_converter(profile: str) -> Callable[[str], str]:
    """A one-argument function converting text with `profile`; the identity for "" (no conversion)."""
    if not profile:
        return lambda text: text
    conv = converter(profile)
    return lambda text: conv.convert(text) if text else text


def convert_html(fragment: str, profile: str) -> str:
    """Convert the text of serialized HTML (text between tags, and alt/title/aria-label values); every other byte,
    URLs included, stays as it is. Text inside <code>, <pre>, <script> and <style> is left alone (neutralised
    links are shown as code)."""
    if not profile or not fragment.strip():
        return fragment
    conv = text_converter(profile)
    out = []
    skipping: list[str] = []
    for piece in _TOKENS.split(fragment):
        if not piece:
            continue
        tag = _TAG.match(piece)
        if tag is None:
            out.append(piece if skipping else conv(piece))
            continue
        closing, name = tag.group(1), tag.group(2).lower()
        if name in _SKIP:
            if closing:
                if skipping and skipping[-1] == name:
                    skipping.pop()
            elif not piece.endswith("/>"):
                skipping.append(name)
        out.append(_ATTRIBUTE.sub(lambda m: m.group(1) + conv(m.group(2)) + m.group(3), piece))
    return "".join(out)


def edition_dir(profile: str) -> str:
    """Where a converted edition lives inside the HTML edition: "s2t" -> "zh-hant", "t2s" -> "zh-hans"."""
    stem = _stem(profile)
    return EDITIONS.get(stem, (stem.lower(), ""))[0]


def edition_language(profile: str, fallback: str = "zh") -> str:
    return EDITIONS.get(_stem(profile), ("", fallback))[1] or fallback


def source_language(profile: str) -> str:
    """The language a profile converts from: "s2t" -> "zh-Hans", "tw2s" -> "zh-Hant-TW"."""
    source = _stem(profile).split("2", 1)[0]
    return {"s": "zh-Hans", "t": "zh-Hant", "tw": "zh-Hant-TW", "hk": "zh-Hant-HK", "jp": "ja"}.get(source, "zh")


def mirror_profile(config: Config) -> str:
    """The profile that names the converted edition and converts its shared text (menus, indexes, labels):
    `editions.convert`, else the first source override; "" when there is no converted edition."""
    if config.editions.convert:
        return config.editions.convert
    return next((s.convert for s in config.sources if s.convert), "")


def article_profile(config: Config, url: str, channels: tuple[str, ...] | list[str], source: str | None = None) -> str:
    """The profile for one article in the converted edition: its source's `convert` override, else the mirror's;
    "" means "shown unconverted".

    For an article whose source was not recorded (stored before sources were), the source is taken to be one on
    the article's host that feeds one of its channels (else any source feeding them), primary channel first."""
    for known in config.sources:
        if source and known.name == source:
            return config.editions.convert if known.convert is None else known.convert
    if source is not None:  # recorded, but no configured source (`add`, or a source since removed)
        return config.editions.convert
    candidates = []
    for rank, channel in enumerate(channels):
        for order, source in enumerate(config.sources):
            if source.channel == channel:
                same_host = _host(url) in {_host(u) for u in [source.url or "", *source.urls]}
                profile = config.editions.convert if source.convert is None else source.convert
                candidates.append((not same_host, rank, order, profile))
    if candidates:
        return min(candidates)[3]
    return config.editions.convert


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def check_profile(profile: str) -> str:
    """`profile` when it names an OpenCC profile that loads, else ValueError (config loading calls this, so a bad
    profile fails before a run creates anything). Only the bundled profiles: a name is never read as a path."""
    known = sorted(c.removesuffix(".json") for c in opencc.CONFIGS)
    if _stem(profile) not in known:
        raise ValueError(f"an OpenCC profile: {', '.join(known)}")
    try:
        converter(profile)
    except ConvertError as exc:
        raise ValueError(exc.reason) from None
    return profile


def validate(config: Config) -> list[str]:
    """Problems with the configured profiles, all at once (empty when every profile loads)."""
    problems = []
    profiles = {"editions.convert": config.editions.convert}
    profiles |= {f"sources ({s.name}).convert": s.convert for s in config.sources if s.convert}
    for key, profile in profiles.items():
        if profile:
            try:
                check_profile(profile)
            except ValueError as exc:
                problems.append(f"key '{key}': expected {exc}; found {profile!r}")
    return problems
