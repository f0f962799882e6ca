"""The queries of benchmarks/search.py, drawn deterministically from pages' text, and how answers are scored."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN = re.compile(f"[{CJK}]+")
MIXED = re.compile(f"[A-Za-z0-9]+[{CJK}]{{2,3}}|[{CJK}]{{2,3}}[A-Za-z0-9]+")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{4,}\b")


def contains(text: str, query: str) -> bool:
    low = text.lower()
    return all(part in low for part in query.lower().split())


@dataclass
class Query:
    kind: str  # "2", "3", "4" (characters), "word", "mixed", "english"
    text: str
    truth: frozenset[str]  # page URLs (relative to pages/)


def draw(texts: dict[str, str], count: int, rng: random.Random) -> list[Query]:
    """Deterministic queries from `texts` (URL -> page text): `count` CJK substrings of each length 2, 3, 4, `count`
    whole words (jieba), `count // 2` (at least 25) mixed queries; each with the pages that contain it."""
    import jieba

    jieba.setLogLevel(60)
    urls = sorted(texts)
    queries: dict[tuple[str, str], Query] = {}

    def add(kind: str, text: str, truth_of) -> None:
        truth = frozenset(u for u in urls if truth_of(texts[u], text))
        if truth:
            queries.setdefault((kind, text), Query(kind, text, truth))

    for length in (2, 3, 4):
        for _ in range(count * 20):
            if sum(q.kind == str(length) for q in queries.values()) >= count:
                break
            runs = [r for r in CJK_RUN.findall(texts[rng.choice(urls)]) if len(r) >= length]
            if runs:
                run = rng.choice(runs)
                at = rng.randrange(len(run) - length + 1)
                add(str(length), run[at:at + length], contains)
    words = []
    for url in urls:
        words.extend(w for w in jieba.cut(texts[url]) if len(w) >= 2 and CJK_RUN.fullmatch(w))
    for word in rng.sample(sorted(set(words)), min(count, len(set(words)))):
        add("word", word, contains)
    for _ in range(count * 20):
        if sum(q.kind == "mixed" for q in queries.values()) >= max(count // 2, 25):
            break
        text = texts[rng.choice(urls)]
        if rng.random() < 0.5:
            page_words = [w for w in jieba.cut(text) if len(w) >= 2 and CJK_RUN.fullmatch(w)]
            if len(page_words) >= 2:
                first, second = rng.sample(page_words, 2)
                add("mixed", f"{first} {second}", contains)
        else:
            found = MIXED.findall(text)
            if found:
                add("mixed", rng.choice(found), contains)
    return list(queries.values())


def english(texts: dict[str, str], count: int, rng: random.Random) -> list[Query]:
    words = sorted({w.lower() for t in texts.values() for w in ENGLISH_WORD.findall(t)})
    out = []
    for word in rng.sample(words, min(count, len(words))):
        pattern = re.compile(rf"\b{word}\b", re.IGNORECASE)
        out.append(Query("english", word, frozenset(u for u, t in texts.items() if pattern.search(t))))
    return out


def score(queries: list[Query], answers: list[list[str]], ids: dict[str, tuple[str, str]], misses=None) -> dict:
    rows: dict[str, dict[str, list[float]]] = {}
    for query, answer in zip(queries, answers):
        found = {ids[i][0] for i in answer if i in ids}
        if misses is not None and found != query.truth:
            misses.append(f"{query.kind} 「{query.text}」: {len(query.truth - found)} missed, "
                          f"{len(found - query.truth)} wrong of {len(found)}")
        row = rows.setdefault(query.kind, {"recall": [], "precision": []})
        row["recall"].append(len(found & query.truth) / len(query.truth))
        if found:
            row["precision"].append(len(found & query.truth) / len(found))
    return {kind: {"n": len(r["recall"]), "recall": sum(r["recall"]) / len(r["recall"]),
                   "precision": sum(r["precision"]) / len(r["precision"]) if r["precision"] else 0.0}
            for kind, r in rows.items()}
