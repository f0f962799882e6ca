"""Search terms that make every run of Chinese (Japanese, Korean) characters findable (pure, no I/O).

Pagefind segments CJK text into words with one dictionary when it indexes and with the browser's
`Intl.Segmenter` when it searches; where the two disagree, a page that contains what the reader typed is not
found. So each page also carries, in a hidden indexed element, one term per distinct pair of adjacent CJK
characters (a character bigram), spelled in plain letters that no segmenter splits: `qj` + 4 letters per
character. `search.js` spells the reader's query the same way, so a query of n >= 2 characters asks for its n-1
bigrams, which every page containing it has. A character at the end of a run pairs with END, so a one-character
query (the prefix `qj` + its 4 letters, which Pagefind matches as a prefix) finds it too.

Characters are folded to Simplified first (OpenCC's Traditional -> Simplified tables, one character at a time),
in the index and in the query alike, so a Traditional query finds the Simplified page and the other way round.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Iterable

import lxml.html

PREFIX = "qj"
END = "aaaa"  # the code of U+0000, which no CJK character has
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
FOLD_PROFILES = ("t2s", "tw2s", "hk2s")
#: elements whose boundaries separate words (Pagefind does the same), so a run never spans two paragraphs
BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 li dt dd td th tr figcaption figure blockquote pre section "
                   "article header footer nav aside table ul ol dl br hr".split())
SKIP = frozenset(("script", "style", "noscript", "template"))


def code(character: str) -> str:
    """4 lowercase letters for one character (base 26 of its code point; covers every plane up to U+6F5FF)."""
    value, letters = ord(character), []
    for _ in range(4):
        value, digit = divmod(value, 26)
        letters.append(chr(97 + digit))
    return "".join(reversed(letters))


def bigram_terms(text: str, fold: dict[str, str] | None = None) -> list[str]:
    """The distinct bigram terms of `text`'s CJK runs, in order of first appearance."""
    table = fold if fold is not None else fold_table()
    seen: dict[str, None] = {}
    for run in CJK_RUN.findall(text):
        codes = [code(table.get(c, c)) for c in run]
        codes.append(END)
        for first, second in zip(codes, codes[1:]):
            seen.setdefault(PREFIX + first + second, None)
    return list(seen)


def page_text(html: str) -> str:
    """The text Pagefind indexes on one of our pages: its `data-pagefind-body` element (else `<body>`) without the
    `data-pagefind-ignore` parts, with image alt texts, and a line break at every block boundary."""
    root = lxml.html.fromstring(html)
    bodies = root.xpath("//*[@data-pagefind-body]") or root.xpath("//body") or [root]
    parts: list[str] = []
    for body in bodies:
        _collect(body, parts)
    return "".join(parts)


def _collect(element, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in SKIP or element.get("data-pagefind-ignore") is not None:
        return
    block = tag in BLOCKS
    if block:
        parts.append("\n")
    if tag == "img" and element.get("alt"):
        parts.append("\n" + element.get("alt") + "\n")
    if element.text and tag:
        parts.append(element.text)
    for child in element:
        _collect(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n")


def with_terms(html: str, terms: list[str]) -> str:
    """`html` with the terms in a hidden element at the end of its indexed body (nothing changes without terms)."""
    if not terms:
        return html
    hidden = f'<div hidden data-pagefind-weight="0.5">{" ".join(terms)}</div>'
    for closing in ("</article>", "</body>"):
        at = html.rfind(closing)
        if at != -1 and (closing != "</article>" or "data-pagefind-body" in html):
            return html[:at] + hidden + html[at:]
    return html + hidden


@lru_cache(maxsize=1)
def fold_table() -> dict[str, str]:
    """Every CJK character that OpenCC's Traditional -> Simplified tables turn into another single character."""
    import opencc

    characters = [chr(c) for c in range(0x3400, 0xA000)] + [chr(c) for c in range(0xF900, 0xFB00)]
    table: dict[str, str] = {}
    for profile in FOLD_PROFILES:
        converted = opencc.OpenCC(profile + ".json").convert("\n".join(characters)).split("\n")
        for source, target in zip(characters, converted):
            if len(target) == 1 and target != source and source not in table:
                table[source] = target
    return table


def query_fold(characters: Iterable[str]) -> str:
    """The part of the fold table a search page needs: entries that fold into a character the pages have, as JSON
    `{"from": "...", "to": "..."}` (two strings of equal length, for search.js)."""
    table = fold_table()
    present = {table.get(c, c) for c in characters}
    pairs = sorted((source, target) for source, target in table.items() if target in present)
    return json.dumps({"prefix": PREFIX, "end": END, "from": "".join(s for s, _ in pairs),
                       "to": "".join(t for _, t in pairs)}, ensure_ascii=False, separators=(",", ":"))
