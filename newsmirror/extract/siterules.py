"""Per-site extraction rules: a subset of the fivefilters site-config directive format.

    # comment
    title: //h1[@class='headline']
    body: //div[@id='story-body'] | //article
    date: //time/@datetime
    author: css: .byline .name
    strip: //div[contains(@class, 'newsletter')]
    strip_id_or_class: related
    strip_image_src: /ads/
    prune: no
    test_url: https://example.com/a   (ignored)

Selectors are XPath; a `css:` prefix, or a value that does not look like XPath, is read as a CSS selector.
Repeated directives are alternatives tried in order (body, title, date, author) or all applied (strips).
Unknown directives are ignored, as fivefilters does; a malformed selector is an error naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError
from newsmirror.extract.htmltree import remove_keeping_tail

_LINE = re.compile(r"^\s*([a-z_]+)(?:\([^)]*\))?\s*:\s*(.*?)\s*$")
_SELECTOR_DIRECTIVES = ("body", "title", "date", "author", "strip")
_XPATH_START = ("/", "./", "(", "//", "id(", "descendant", "self::")


class SiteRulesError(ValueError):
    """A rules file that cannot be used (message names the file and line)."""


def _compile(value: str, where: str) -> str:
    """An XPath expression for a directive's value (CSS converted), checked for syntax."""
    css = value[4:].strip() if value.lower().startswith("css:") else None
    if css is None and not value.startswith(_XPATH_START):
        css = value
    if css is not None:
        try:
            return CSSSelector(css).path
        except (SelectorError, SyntaxError) as exc:
            raise SiteRulesError(f"{where}: bad CSS selector {css!r} ({exc})") from None
    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as exc:
        raise SiteRulesError(f"{where}: bad XPath {value!r} ({exc})") from None
    return value


@dataclass(frozen=True)
class SiteRules:
    body: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    strip: tuple[str, ...] = ()
    strip_id_or_class: tuple[str, ...] = ()
    strip_image_src: tuple[str, ...] = ()
    prune: bool = True

    @classmethod
    def from_text(cls, text: str, source: str = "<rules>") -> SiteRules:
        found: dict[str, list[str]] = {f.name: [] for f in fields(cls) if f.name != "prune"}
        prune = True
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _LINE.match(line)
            if not match:
                raise SiteRulesError(f"{source}:{number}: expected 'directive: value', found {line.strip()!r}")
            name, value = match.groups()
            if not value:
                continue
            if name == "prune":
                prune = value.lower() not in ("no", "false", "0")
            elif name in _SELECTOR_DIRECTIVES:
                found[name].append(_compile(value, f"{source}:{number}"))
            elif name in found:
                found[name].append(value)
        return cls(**{k: tuple(v) for k, v in found.items()}, prune=prune)

    @classmethod
    def from_file(cls, path: str | Path) -> SiteRules:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SiteRulesError(f"{path}: cannot read rules ({exc})") from exc
        return cls.from_text(text, str(path))


def apply_strips(root, rules: SiteRules) -> None:
    """Remove what the rules say to strip (elements, id/class words, image sources), in place."""
    doomed = []
    for expr in rules.strip:
        doomed += [el for el in root.xpath(expr) if isinstance(el, etree._Element)]
    for word in rules.strip_id_or_class:
        literal = word.replace("'", "")
        doomed += root.xpath(
            f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {literal} ') or @id='{literal}']"
        )
    for fragment in rules.strip_image_src:
        doomed += [img for img in root.iter("img") if fragment in (img.get("src") or "")]
    for el in doomed:
        if el.getparent() is not None and el.tag not in ("html", "body"):
            remove_keeping_tail(el)


def select_elements(root, exprs: tuple[str, ...]) -> list:
    """The elements matched by the first expression that matches any."""
    for expr in exprs:
        found = [el for el in root.xpath(expr) if isinstance(el, etree._Element)]
        if found:
            return found
    return []


def select_text(root, exprs: tuple[str, ...]) -> str | None:
    """The text (or attribute value) of the first match of the first expression that matches."""
    for expr in exprs:
        result = root.xpath(expr)
        items = result if isinstance(result, list) else [result]
        for item in items:
            text = item.text_content() if hasattr(item, "text_content") else str(item)
            text = " ".join(text.split())
            if text:
                return text
    return None
