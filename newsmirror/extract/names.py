"""The class and id names of a page's elements, searched all at once.

Several preparation steps look for elements by what their class or id says (gated content, posters of a thread,
split article bodies, captions). Testing every element's names in Python, or with an XPath of many contains(),
costs a millisecond or more per step on a big page; here the names are read once (one XPath, in C), joined and
lower-cased, and each question is a few substring searches over that.
"""

from __future__ import annotations

from bisect import bisect_right


class PageNames:
    """The class/id values of a page as parsed; `find` answers with the elements still in the page."""

    def __init__(self, root):
        self._root = root
        self._values = root.xpath("//@class | //@id")  # attribute values in document order, each knows its element
        self._starts: list[int] = []
        at = 0
        for value in self._values:
            self._starts.append(at)
            at += len(value) + 1
        self._blob = "\n".join(self._values).lower()

    def find(self, words: tuple[str, ...], attribute: str | None = None) -> list:
        """Elements (in document order, each once) with a class or id value (or only `attribute`'s) holding one
        of `words` (lower case; any case in the page), still in the page. Meant for names that are rare on a
        page: each element found is checked to be still in the page."""
        hits: set[int] = set()
        for word in words:
            at = self._blob.find(word)
            while at != -1:
                hits.add(bisect_right(self._starts, at) - 1)
                at = self._blob.find(word, at + 1)
        found: list = []
        for index in sorted(hits):
            value = self._values[index]
            if attribute is not None and value.attrname != attribute:
                continue
            el = value.getparent()
            if (not found or found[-1] is not el) and _in_page(el, self._root):
                found.append(el)
        return found


def _in_page(el, root) -> bool:
    """Not removed since the page was parsed (alone or with an ancestor)."""
    top = el
    for top in el.iterancestors():
        pass
    return top is root
