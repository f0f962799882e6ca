"""The extractor's heuristics by stable name, how they are switched off, and what they did on one page.

Every step of extraction that is a judgement rather than plumbing (dropping a block, cutting the body, restructuring
the tree) has a name in HEURISTICS. `ExtractOptions.disabled` switches named heuristics off (the benchmark's
`--ablate` mode measures each one that way); an `ExtractTrace` passed to `extract_article` records which fired.

Body filters run under a guard: a filter that would remove more than MAX_FILTER_CUT of the body's text is undone
(the guard's firing is recorded as `guard:<name>`), and so are all filters together when they would. A filter
exists to trim the edges of an article, never to remove most of it. Preparation has its own guard: a tag dropped as
non-content (a script, a form control, ...) that holds a third of the page's prose is unwrapped instead, and an
unclosed <iframe> or <textarea> whose text is the rest of the page gives that markup back (`guard:drop`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# name -> what it does; the stage is the prefix of the description
HEURISTICS: dict[str, str] = {
    # prepare: the parsed page, before the main-content extractor
    "hidden_blocks": "prepare: blocks the page hides (hidden, display:none) go, unless one holds 40% of the text",
    "noscript_body": "prepare: a <noscript> holding paragraphs (a script-rendered page's article) is kept as content",
    "embedded_posts": "prepare: embedded posts (tweets, ...) become plain blockquotes, their widgets go",
    "hover_cards": "prepare: pop-up cards inside paragraphs (picture + several links) go",
    "layout_tables": "prepare: layout tables (nested, long or block cells, no grid) with a menu cell become divs",
    "split_bodies": "prepare: an article body split into same-class containers is joined",
    "loose_paragraphs": "prepare: text set straight into a container (between blocks, split by <br><br>) becomes <p>s",
    "forum_replies": "prepare: on a forum thread (sibling posts, each naming its poster), replies after the first go",
    "caption_blocks": "prepare: image captions and credits are taken out of the text flow",
    # body: filters on the extracted body
    "headline": "body: leading blocks that repeat the headline go, with a short kicker above them",
    "standfirst": "body: a leading heading that repeats the page description goes",
    "related_block": "body: a 'Related'/'Most read' heading and its teasers go when running text follows them",
    "related_cut": "body: such a heading with no running text after it goes, with everything after it",
    "caption_paragraphs": "body: paragraphs that are photo captions or credits go into the figure",
    "teaser_lines": "body: 'Read more: ...'-style lines that are one link go",
    "teaser_runs": "body: runs of three or more link-dominated blocks, and teasers ending the body, go",
    "trailing_boilerplate": "body: short newsletter/share/follow lines and dangling headings at the end go",
}

MAX_FILTER_CUT = 0.6  # a body filter may remove at most this share of the body's text


def check_names(names) -> frozenset[str]:
    """The names as a frozenset; ValueError naming any that is not a heuristic."""
    names = frozenset(names)
    unknown = sorted(names - HEURISTICS.keys())
    if unknown:
        raise ValueError(f"unknown heuristic(s): {', '.join(unknown)} (known: {', '.join(HEURISTICS)})")
    return names


@dataclass
class ExtractTrace:
    """What happened on one page: how many changes each heuristic made (`fired`), which guards fired."""

    fired: Counter = field(default_factory=Counter)

    def add(self, name: str, count: int = 1) -> None:
        if count:
            self.fired[name] += count


class Heuristics:
    """The heuristics of one extraction: which are on, and the trace they report to."""

    def __init__(self, disabled: frozenset[str] = frozenset(), trace: ExtractTrace | None = None):
        self.disabled = disabled
        self.trace = trace if trace is not None else ExtractTrace()

    def on(self, name: str) -> bool:
        return name not in self.disabled

    def run(self, name: str, step: Callable[..., int], *args) -> int:
        """Run a step if it is on; it returns how many changes it made (0: it did not fire)."""
        if name in self.disabled:
            return 0
        count = step(*args)
        self.trace.add(name, count)
        return count

    def filters(self, body, steps: list[tuple], measure: Callable[[object], int]) -> None:
        """Run body filters (name, function, extra arguments) in order, each under the guard: a filter that
        would remove more than MAX_FILTER_CUT of the body's text is undone (`guard:<name>`), and so are all of
        them when together they would (`guard:all_filters`). Filters remove top-level blocks of the body (or add
        a caption to a figure), so a shallow snapshot is enough to undo them."""
        start = _snapshot(body)
        before = length = measure(body)
        for name, step, *args in steps:
            if name in self.disabled:
                continue
            snapshot = _snapshot(body)
            count = step(body, *args)
            if not count:
                continue
            after = measure(body)
            if after < (1 - MAX_FILTER_CUT) * length:
                _restore(body, snapshot)
                self.trace.add(f"guard:{name}")
                continue
            length = after
            self.trace.add(name, count)
        if length < (1 - MAX_FILTER_CUT) * before:
            _restore(body, start)
            self.trace.add("guard:all_filters")


def _snapshot(body) -> tuple:
    return body.text, list(body)  # (a removed element keeps its tail: re-appended, it brings it back)


def _restore(body, snapshot: tuple) -> None:
    text, children = snapshot
    for child in list(body):
        body.remove(child)
    body.text = text
    body.extend(children)
