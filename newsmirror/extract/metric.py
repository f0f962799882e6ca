"""The article-body extraction metric of the Zyte/Scrapinghub benchmark (see /work/shared/bench/README.md).

Tokens are `\\w+` matches; a text is a multiset of 4-token shingles (one shorter shingle when it has fewer than 4
tokens). Per page, tp/fp/fn are normalised to sum 1 so every page weighs the same; precision is averaged over
pages with tp+fp > 0, recall over pages with tp+fn > 0, and F1 is taken of those two means.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

TOKEN = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str, n: int = SHINGLE) -> Counter:
    tokens = TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


def page_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision(counts: tuple[float, float, float]) -> float:
    tp, fp, fn = counts
    if fp == 0 and fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp > 0 else 0.0


def recall(counts: tuple[float, float, float]) -> float:
    tp, fp, fn = counts
    if fp == 0 and fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn > 0 else 0.0


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    pages: int


def score(pages: Iterable[tuple[float, float, float]]) -> Score:
    """Mean precision and recall over the pages where each is defined, and the F1 of the two means."""
    pages = list(pages)
    p_pages = [precision(c) for c in pages if c[0] + c[1] > 0]
    r_pages = [recall(c) for c in pages if c[0] + c[2] > 0]
    p = sum(p_pages) / len(p_pages) if p_pages else 0.0
    r = sum(r_pages) / len(r_pages) if r_pages else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return Score(p, r, f1, len(pages))
