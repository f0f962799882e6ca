"""Search terms that make every run of Chinese (Japanese, Korean) characters findable (pure, no I/O).

Pagefind segments CJK text into words with one dictionary when it indexes and with the browser's
`Intl.Segmenter` when it searches; where the two disagree, a page that contains what the reader typed is not
found. So each page also carries, in a hidden indexed element, one term per distinct pair and per distinct triple
of adjacent CJK characters (bigrams and trigrams), spelled in plain letters that no segmenter splits: `qj` + 4
letters per character. `search.js` spells the reader's query the same way (`query_terms` here): a query of n >= 3
characters asks for its n-2 trigrams, which every page containing it has (and a page that has them all without
the query is rare), a query of 2 for its bigram. A run's last character pairs with END, so a one-character query
(`qj` + its 4 letters) finds it as the start of a bigram: Pagefind matches every query word as a prefix too. (Only
so far: it expands a prefix within the index chunk the prefix falls in, so a 2-character query spelled as the
start of its trigrams, to save the bigrams, missed pages once the trigrams spanned several chunks.)

A Latin word or number written against CJK characters (3D打印, 5G网络) is added as a plain word too, since the
segmenters disagree on where it ends. The hidden element starts with MARK, so the terms can be cut from the text
Pagefind stores for excerpts (`without_terms`): readers fetch each result's text, and the terms would double it.

Characters are folded to Simplified first (OpenCC's Traditional -> Simplified tables, one character at a time),
in the index and in the query alike, so a Traditional query finds the Simplified page and the other way round.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache

import lxml.html

PREFIX = "qj"
END = "aaaa"  # the code of U+0000, which no CJK character has
MARK = PREFIX + END + END  # first of a page's hidden terms: no term or query is spelled so
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
LATIN_NEIGHBOUR = re.compile(f"[A-Za-z0-9]+(?=[{CJK_RANGES}])|(?<=[{CJK_RANGES}])[A-Za-z0-9]+")
HIDDEN_TAIL = re.compile(rf"[\s\u200b]*\b{MARK}\b.*$", re.DOTALL)  # in Pagefind's stored text of a page
FOLD_PROFILES = ("t2s", "tw2s", "hk2s")
#: elements whose boundaries separate words (Pagefind does the same), so a run never spans two paragraphs
BLOCKS = frozenset(("p div h1 h2 h3 h4 h5 h6 li dt dd td th tr figcaption figure blockquote pre section article "
                    "header footer nav aside table ul ol dl br hr").split())
SKIP = frozenset(("script", "style", "noscript", "template"))
SIGNATURE = b"pagefind_dcd"  # how Pagefind's gzipped fragment files begin


@cache
def code(character: str) -> str:
    """4 lowercase letters for one character (base 26 of its code point; covers every plane up to U+6F5FF)."""
    value, letters = ord(character), []
    for _ in range(4):
        value, digit = divmod(value, 26)
        letters.append(chr(97 + digit))
    return "".join(reversed(letters))


class _Codes(dict):
    """Code point -> the 4 letters of its folded character, filled on first use (a table for str.translate)."""

    def __missing__(self, ordinal: int) -> str:
        character = chr(ordinal)
        self[ordinal] = spelled = code(fold_table().get(character, character))
        return spelled


_CODES = _Codes()
_PAIRS = re.compile(r"(?=([a-z]{8}))[a-z]{4}")  # overlapping pairs of 4-letter codes
_TRIPLES = re.compile(r"(?=([a-z]{12}))[a-z]{4}")


def bigram_terms(text: str) -> list[str]:
    """The distinct bigram terms of `text`'s CJK runs (folded; a run's last character pairs with END), in order of
    first appearance."""
    spelled = " ".join(run.translate(_CODES) + END for run in CJK_RUN.findall(text))
    return [PREFIX + pair for pair in dict.fromkeys(_PAIRS.findall(spelled))]


def trigram_terms(text: str) -> list[str]:
    """The distinct trigram terms of `text`'s CJK runs (folded), in order of first appearance."""
    spelled = " ".join(run.translate(_CODES) for run in CJK_RUN.findall(text))
    return [PREFIX + triple for triple in dict.fromkeys(_TRIPLES.findall(spelled))]


def query_terms(query: str) -> list[str]:
    """How search.js spells a query (the same rules, for tests): its words outside CJK runs, then per CJK run its
    trigrams, or for a run of 1 or 2 characters their codes (its bigram, or the start of the bigrams)."""
    words = CJK_RUN.sub(" ", query).split()
    for run in CJK_RUN.findall(query):
        words += trigram_terms(run) if len(run) >= 3 else [PREFIX + run.translate(_CODES)]
    return words


def hidden_terms(text: str) -> list[str]:
    """What a page's hidden element holds: MARK, the Latin words next to CJK characters, the bigram and trigram
    terms."""
    bigrams = bigram_terms(text)
    if not bigrams:
        return []
    latin = dict.fromkeys(word.lower() for word in LATIN_NEIGHBOUR.findall(text))
    return [MARK, *latin, *bigrams, *trigram_terms(text)]


def without_terms(fragment: bytes) -> bytes:
    """A Pagefind fragment file (`pagefind_dcd` + JSON, gzipped) whose page text ends before the hidden terms;
    other fragments unchanged. The words before them keep their positions, so Pagefind's excerpts still work."""
    raw = gzip.decompress(fragment)
    head, body = raw[:len(SIGNATURE)], raw[len(SIGNATURE):]
    if head != SIGNATURE:
        return fragment
    data = json.loads(body)
    content = data.get("content", "")
    cut = HIDDEN_TAIL.sub("", content)
    if cut == content:
        return fragment
    data["content"] = cut
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(head + body, mtime=0)


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


@lru_cache(maxsize=1)
def fold_ordinals() -> dict[int, str]:
    """fold_table for str.translate."""
    return {ord(source): target for source, target in fold_table().items()}


def query_fold(characters: Iterable[str]) -> str:
    """The part of the fold table a search page needs: entries that fold into a character the pages have, as JSON
    `{"from": "...", "to": "..."}` (two strings of equal length, for search.js)."""
    table = fold_table()
    present = {table.get(c, c) for c in characters}
    pairs = sorted((source, target) for source, target in table.items() if target in present)
    return json.dumps({"prefix": PREFIX, "end": END, "from": "".join(s for s, _ in pairs),
                       "to": "".join(t for _, t in pairs)}, ensure_ascii=False, separators=(",", ":"))
