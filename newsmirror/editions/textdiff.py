"""Word- and character-level diff of two article texts (pure), for revisions pages read on a phone.

    changes(old_text, new_text) -> [Change]       paragraphs that differ, each as (op, text) pieces

Texts are compared paragraph by paragraph (blank-line separated); a changed paragraph is compared token by token,
where a token is a word of a spaced script, a number, a run of spaces, a punctuation mark or ONE character of
Chinese, Japanese or Korean (those scripts put no spaces between words, so a whitespace split would mark whole
sentences). Unchanged paragraphs are counted, not repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_TOKEN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uac00-\ud7af\u3040-\u30ff\uff00-\uffef]|[^\W\d_]+|\d+|\s+|.",
                    re.S)

Piece = tuple[str, str]  # ("=" | "-" | "+", text)


@dataclass(frozen=True)
class Change:
    unchanged_before: int  # unchanged paragraphs skipped before this one
    pieces: tuple[Piece, ...]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def inline_diff(old: str, new: str) -> tuple[Piece, ...]:
    """`old` -> `new` as pieces; adjacent pieces of one kind are merged."""
    a, b = tokens(old), tokens(new)
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            _add(pieces, "=", "".join(a[i1:i2]))
        else:
            _add(pieces, "-", "".join(a[i1:i2]))
            _add(pieces, "+", "".join(b[j1:j2]))
    return tuple(pieces)


def changes(old_text: str, new_text: str) -> tuple[list[Change], int]:
    """The changed paragraphs, and how many unchanged ones follow the last change."""
    old, new = paragraphs(old_text), paragraphs(new_text)
    out: list[Change] = []
    skipped = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            skipped += i2 - i1
            continue
        removed, added = old[i1:i2], new[j1:j2]
        if op == "replace" and len(removed) == len(added):
            for before, after in zip(removed, added):
                out.append(Change(skipped, inline_diff(before, after)))
                skipped = 0
            continue
        for paragraph in removed:
            out.append(Change(skipped, (("-", paragraph),)))
            skipped = 0
        for paragraph in added:
            out.append(Change(skipped, (("+", paragraph),)))
            skipped = 0
    return out, skipped


def _add(pieces: list[Piece], op: str, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1][0] == op:
        pieces[-1] = (op, pieces[-1][1] + text)
    else:
        pieces.append((op, text))
