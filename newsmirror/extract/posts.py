"""Pages of several posts by several people: a forum thread (or reader comments under an article).

A run of three or more sibling elements of the same kind, each naming who wrote it (an element whose class or id
says author, user, poster, avatar, member, profile or nick, or a <time>), is a thread of posts when each post holds
text of its own (not a teaser) and the replies carry no heading of their own (or one that repeats the thread's).
When the page has no running text outside the thread, it is a forum thread: the first post is the content and the
replies go. When running text stands outside it, the thread is the readers' comments under an article, left to
the extractor (which leaves comments out).
"""

from __future__ import annotations

import re

from newsmirror.extract.blocks import PROSE_MIN_CHARS
from newsmirror.extract.names import PageNames
from newsmirror.extract.htmltree import remove_keeping_tail

_POSTER_WORDS = ("author", "user", "poster", "avatar", "member", "profile", "nick")
_DIGITS = re.compile(r"\d+")
MIN_POSTS = 3
CLIMB = 8  # a post's poster mark is at most this deep inside it
MIN_POST_CHARS = 40
_HEADINGS = ("h1", "h2", "h3", "h4")


def _kind(el) -> tuple[str, str]:
    """What makes posts of a thread alike: their tag and first class name (or id without its number)."""
    cls = (el.get("class") or "").split()
    return el.tag, cls[0] if cls else _DIGITS.sub("", el.get("id") or "")


def _threads(root, marks: list) -> list[list]:
    """The runs of sibling posts on the page, each in document order."""
    found: dict[tuple, list] = {}
    parents = []  # (holding the elements keeps their ids theirs)
    for mark in marks:
        node = mark
        for _ in range(CLIMB):
            parent = node.getparent()
            if parent is None or node.tag in ("body", "html"):
                break
            kind = _kind(node)
            if kind[1]:
                parents.append(parent)
                key = (id(parent), kind)
                if key in found:
                    break
                siblings = [c for c in parent if c.tag == node.tag and _kind(c) == kind]
                if len(siblings) >= MIN_POSTS:
                    found[key] = siblings
                    break
            node = parent
    return [posts for posts in found.values() if not any(_inside(posts[0], other[0]) for other in found.values()
                                                          if other is not posts)]


def _inside(el, ancestor) -> bool:
    return any(a is ancestor for a in el.iterancestors())


def _is_reply(post, title: str) -> bool:
    heading = next(post.iter(*_HEADINGS), None)
    return heading is None or (bool(title) and title in " ".join(heading.text_content().split()))


def _prose_outside(root, posts: list) -> int:
    """Paragraphs of running text on the page outside the posts."""
    held = [el for post in posts for el in post.iter("p")]  # (holding them keeps their ids theirs)
    inside = {id(el) for el in held}
    count = 0
    for p in root.iter("p"):
        if id(p) in inside:
            continue
        text = p.text_content()
        if len(text) >= PROSE_MIN_CHARS and sum(len(a.text_content()) for a in p.iter("a")) < len(text) / 3:
            count += 1
    return count


ARTICLE_PARAGRAPHS = 2  # running text outside a thread: this many paragraphs make it an article's comments


def _is_post(el, marks: set[int]) -> bool:
    """Names its poster, and holds text of its own (not a teaser: mostly not link text)."""
    if not any(id(d) in marks for d in el.iter()):
        return False
    size = len(el.text_content().strip())
    return size >= MIN_POST_CHARS and sum(len(a.text_content()) for a in el.iter("a")) < size / 2


def drop_replies(root) -> int:
    """Remove a forum thread's replies after its first post; returns how many went."""
    dropped = 0
    held = [*PageNames(root).find(_POSTER_WORDS), *root.iter("time")]  # (holding the elements keeps their ids theirs)
    marks = {id(m) for m in held}
    for posts in _threads(root, held):
        if posts[0].getparent() is None or not all(_is_post(post, marks) for post in posts):
            continue
        first_heading = next(posts[0].iter(*_HEADINGS), None)
        title = " ".join(first_heading.text_content().split()) if first_heading is not None else ""
        if not all(_is_reply(post, title) for post in posts[1:]):
            continue  # posts with headings of their own: a blog's or a listing's entries
        if _prose_outside(root, posts) >= ARTICLE_PARAGRAPHS:
            continue  # reader comments under an article (the extractor leaves those out)
        for post in posts[1:]:
            remove_keeping_tail(post)
        dropped += len(posts) - 1
    return dropped
