"""Filters on the extracted body (our clean HTML) for what generic extractors let through.

- teasers: runs of link-dominated blocks, "Read more: ..." lines; "Related" sections (cut at the end of the text,
  or taken out of it when the text goes on after them)
- captions and photo credits that arrive as paragraphs next to or instead of a figure
- the standfirst (dek) that repeats the page description above the running text
- trailing boilerplate: newsletter, share, follow lines, dangling headings
Each takes the body <div> and edits it in place, and returns how many blocks it removed (0: it did not fire).
"""

from __future__ import annotations

import re

_CREDIT_START = re.compile(  # a photo credit line: "Photo: ...", "Image credit: ..." (see the phrase lists below)
    r"^\s*(?:photo|photograph|image|picture|credit|foto|bild)s?\s*(?:credits?)?\s*[:：]",
    re.IGNORECASE,
)
# Phrase lists: each entry a concept seen on pages of two or more sites of the benchmark sets, with a few of its
# translations (the concepts, not the translations, are what the data justify). Short on purpose: structure
# (link density, position, what follows) does most of the work.
_TEASER_START = re.compile(  # a line that is one link and starts so
    r"^\s*(?:read more\b|see more\b|more\s*:|click here\b|"
    r"leia mais|leer más|lire la suite|weiterlesen|阅读全文|閱讀全文)",
    re.IGNORECASE,
)
_BOILERPLATE_LINE = re.compile(  # a short line at the end of the body
    r"newsletter|subscribe|inbox|abonn|assine|suscr[ií]b|订阅|訂閱|"
    r"share (?:this|it)\b|like this story|"
    r"follow (?:us|him|her|them)\b|s[ií]guenos|siga-nos|suivez-nous|folgen sie uns|关注我们|"
    r"click here|"
    r"comments?\s*$|comentários?\s*$|comentarios?\s*$|commentaires?\s*$|kommentare?\s*$|评论\s*$|"
    r"^tags?\s*:?|^etiquetas\s*:|^schlagw[öo]rter\s*:|^标签\s*:",
    re.IGNORECASE,
)


def _text(el) -> str:
    """Text of an element without figure captions, whitespace runs as one space."""
    if el.tag != "figure" and el.find(".//figure") is None:
        return " ".join("".join(el.itertext()).split())
    return " ".join("".join(_texts(el)).split())


def _texts(el):
    """Text of an element without figure captions."""
    if el.tag == "figure":
        return
    yield el.text or ""
    for child in el:
        yield from _texts(child)
        yield child.tail or ""


class Texts:
    """The text of the body's blocks (as _text), computed once per block for all filters of one page. Only
    blocks are cached, whose text the filters do not change; the body's own text is measured afresh."""

    def __init__(self):
        self._known: dict = {}  # element -> text (the key keeps the element, so its identity, alive)

    def __call__(self, el) -> str:
        text = self._known.get(el)
        if text is None:
            text = self._known[el] = _text(el)
        return text


def _link_text(el) -> int:
    return sum(len(" ".join("".join(a.itertext()).split())) for a in el.iter("a"))


def _is_teaser(el, texts: Texts, item: bool = False) -> bool:
    """A block that is mostly a link, or an item with a picture and a headline link (in a list, the link may
    be followed by a longer summary)."""
    text = texts(el)
    if not text:
        return False
    links = _link_text(el)
    if links >= 0.8 * len(text):
        return True
    share = 0.15 if item else 0.3
    return el.find(".//figure") is not None and links >= share * len(text) and len(text) < 300


def _is_link_headline(el, text: str) -> bool:
    """An all-caps line that is one link: an inline "related story" headline."""
    if len(text) < 12 or not text.isupper():  # (isupper: every cased character is upper case, and there is one)
        return False
    return sum(ch.isalpha() for ch in text) >= 12 and _link_text(el) >= 0.95 * len(text)


def drop_teaser_lines(body, texts: Texts | None = None) -> int:
    """Remove "Read more: ..." / "Also on ..." lines that are one link, and all-caps link headlines."""
    texts = texts or Texts()
    removed = 0
    for child in [c for c in body if c.tag not in ("figure", "ul", "ol")]:
        text = texts(child)
        if (_TEASER_START.match(text) and _is_teaser(child, texts)) or _is_link_headline(child, text):
            body.remove(child)
            removed += 1
    return removed


def drop_teaser_runs(body, texts: Texts | None = None) -> int:
    """Remove runs of >= 3 link-dominated blocks, and teasers ending the body."""
    texts = texts or Texts()
    removed = 0
    run: list = []
    for child in [*body, None]:
        if child is not None and (child.tag == "figure" or _is_teaser(child, texts)):
            run.append(child)
            continue
        if sum(1 for el in run if el.tag != "figure") >= 3:
            for el in run:
                body.remove(el)
            removed += len(run)
        run = []
    while len(body) and body[-1].tag != "figure" and _is_teaser(body[-1], texts) and len(texts(body[-1])) < 200:
        body.remove(body[-1])
        removed += 1
    return removed


def _is_caption_like(el, texts: Texts) -> bool:
    text = texts(el)
    if not text or len(text) > 300 or el.tag not in ("p", "h4"):
        return False
    if _CREDIT_START.match(text):
        return True
    emphasised = sum(len("".join(e.itertext())) for e in el if e.tag in ("em", "i"))
    return emphasised >= 0.9 * len(text)  # an all-italic line right after a picture is its caption


def move_captions(body, texts: Texts | None = None) -> int:
    """Paragraphs that are photo captions or credits: into the preceding figure's caption, or out."""
    texts = texts or Texts()
    moved = 0
    for el in list(body):
        if el.getparent() is None or not _is_caption_like(el, texts):
            continue
        text = texts(el)
        prev = el.getprevious()
        near_figure = prev is not None and prev.tag == "figure"
        if not (near_figure or _CREDIT_START.match(text)):
            continue
        if near_figure and prev.find("figcaption") is None:
            caption = prev.makeelement("figcaption", {})
            caption.text = text
            prev.append(caption)
        body.remove(el)
        moved += 1
    return moved


_RELATED_HEADING = re.compile(  # a heading that is only this (see the phrase lists above)
    r"^\W*(?:related(?: (?:stories|articles|posts|news|content|coverage|links|reading))?|"
    r"(?:noticias|artigos|notícias|artículos) relacionad[oa]s|articoli correlati|verwandte artikel|"
    r"articles similaires|похожие (?:статьи|новости)|相关(?:新闻|文章|阅读)|相關(?:新聞|文章)|関連記事|관련 ?기사|"
    r"(?:you|we think you) (?:may|might|will) (?:also )?(?:like|enjoy|be interested in)|"
    r"você (?:também )?pode gostar|te puede interesar|vous aimerez aussi|das könnte sie auch interessieren|"
    r"猜你喜欢|"
    r"most (?:read|popular|viewed)|más leíd[oa]s|mais lid[oa]s|les plus lus|meistgelesen|più lett[ie]|"
    r"最热|热门文章|人気記事)\W*$",
    re.IGNORECASE,
)


def _is_related_heading(el, text: str) -> bool:
    return len(text) < 60 and el.tag != "figure" and bool(_RELATED_HEADING.match(text))


def _teasers_after(children: list, start: int, texts: Texts) -> int:
    """The index after the run of teasers (link blocks, pictures) that starts at `start`."""
    end = start
    while end < len(children) and (children[end].tag == "figure" or _is_teaser(children[end], texts)):
        end += 1
    return end


CONTINUATION_CHARS = 300  # two paragraphs in a row holding this much text: the article goes on


def _continues(blocks: list, texts: Texts) -> bool:
    """Whether running text follows: two text blocks in a row (no picture, teaser or short line between)."""
    run = chars = 0
    for el in blocks:
        text = texts(el) if el.tag != "figure" else ""
        if el.tag == "figure" or len(text) < PROSE_CHARS or _is_teaser(el, texts):
            run = chars = 0
            continue
        run += 1
        chars += len(text)
        if run >= 2 and chars >= CONTINUATION_CHARS:
            return True
    return False


PROSE_CHARS = 80


def drop_related_blocks(body, texts: Texts | None = None) -> int:
    """Remove a "Related" / "Most read" heading and the teasers after it when running text follows them (a
    block set into the article, or its heading left behind); the text after it stays."""
    texts = texts or Texts()
    removed = 0
    children = list(body)
    index = 0
    while index < len(children):
        if _is_related_heading(children[index], texts(children[index])):
            end = _teasers_after(children, index + 1, texts)
            if _continues(children[end:], texts):  # (the extractor may have dropped the teasers already)
                for doomed in children[index:end]:
                    body.remove(doomed)
                removed += end - index
                index = end
                continue
        index += 1
    return removed


def cut_at_related_heading(body, texts: Texts | None = None) -> int:
    """Remove a "Related stories" / "You may also like" heading and everything after it when no running text
    follows it (only teasers, pictures, short lines: a heading like that never introduces more of the
    article). A filter guard keeps this from removing most of a body."""
    texts = texts or Texts()
    children = list(body)
    for index, el in enumerate(children):
        if _is_related_heading(el, texts(el)) and not _continues(children[index + 1 :], texts):
            for doomed in children[index:]:
                body.remove(doomed)
            return len(children) - index
    return 0


def drop_standfirst(body, description: str, texts: Texts | None = None) -> int:
    """Remove a leading heading that repeats the page description (the dek is not running text)."""
    texts = texts or Texts()
    wanted = _norm(description)
    if len(wanted) < 20:
        return 0
    for child in list(body)[:3]:
        if child.tag == "figure":
            continue
        if child.tag in ("h2", "h3", "h4") and _norm(texts(child)) == wanted:
            body.remove(child)
            return 1
        break
    return 0


def drop_trailing_boilerplate(body, texts: Texts | None = None) -> int:
    """Strip boilerplate from the end of the body: short lines (newsletter, share, follow, contact) and headings
    with nothing after them."""
    texts = texts or Texts()

    def boilerplate(el, text: str) -> bool:
        if len(text) < 250 and _BOILERPLATE_LINE.search(text):
            return True
        return el.tag in ("h2", "h3", "h4") and all(c.tag == "figure" for c in el.itersiblings())

    return _drop_from_end(body, boilerplate, texts)


def _drop_from_end(body, doomed, texts: Texts, lookback: int = 8) -> int:
    """Remove, again and again, the last block among the last `lookback` for which `doomed(el, text)` holds,
    looking back past short blocks only (a block of 250+ characters is running text and ends the search)."""
    removed = 0
    while len(body):
        for el in reversed(list(body)[-lookback:]):
            if el.tag == "figure":
                continue
            text = texts(el)
            if doomed(el, text):
                body.remove(el)
                removed += 1
                break
            if len(text) >= 250:
                return removed
        else:
            return removed
    return removed


def _norm(text: str) -> str:
    """Lower-case letters and digits only (a headline compared whatever its punctuation and spacing)."""
    return _NOT_ALNUM.sub("", text.lower())


_NOT_ALNUM = re.compile(r"[\W_]+")


def body_text_length(body) -> int:
    """Characters of text in a body, figures and their captions left out (whitespace counted as it is: this
    measures how much a filter removed)."""
    size = len("".join(body.itertext()))
    for figure in body.iter("figure"):
        size -= len("".join(figure.itertext()))
    return size
