"""Small lxml tree edits shared by the extractor's modules."""

from __future__ import annotations


def remove_keeping_tail(el) -> None:  # noqa: ANN001
    """Remove an element but keep the text that follows it (its tail) where it was."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)
