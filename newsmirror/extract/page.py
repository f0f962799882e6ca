"""The extract stage: page bytes -> Article (title, running text, clean body HTML, images, dates, author).

    decode (NFC) -> parse (bounded) -> [site rules: strips; title/date/author/body] -> metadata (raw page)
           -> prepare (noscript content, hidden blocks, forum replies, embedded posts, hover
              cards, layout tables, split bodies, dropped tags, loose text as paragraphs, lazy images, captions)
           -> main content (trafilatura, text only) -> body HTML -> pictures placed -> filters (headline,
              dek, related sections, captions, teasers, tail; each under a guard) -> running text

Every judgement call is a named heuristic (extract_heuristics.HEURISTICS) that ExtractOptions.disabled switches
off and an ExtractTrace records. `extract_file` is the same path for a file on disk (plain or .gz), as used by
`newsmirror extract --jsonl`.
"""

from __future__ import annotations

import gzip
import unicodedata
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

from newsmirror.extract.decode import decode_html
from newsmirror.extract.body import body_to_html, body_to_text, drop_headline, xml_to_body
from newsmirror.extract.clean import MAX_CHARS, PageError, base_url_of, parse_html, prepare
from newsmirror.extract.filters import (
    body_text_length,
    cut_at_related_heading,
    drop_related_blocks,
    drop_standfirst,
    drop_teaser_lines,
    drop_teaser_runs,
    drop_trailing_boilerplate,
    move_captions,
    Texts,
)
from newsmirror.extract.heuristics import ExtractTrace, Heuristics, check_names
from newsmirror.extract.placement import body_images, place_images
from newsmirror.extract.meta import PageMeta, iso_date, page_meta
from newsmirror.errors import ExtractError
from newsmirror.records import Article, ImageRef
from newsmirror.extract.siterules import SiteRules, apply_strips, select_elements, select_text

MIN_TEXT_CHARS = 40  # less running text than this is not an article
MAX_FILE_BYTES = 4 * MAX_CHARS  # bytes read from a file (after gunzip)


@dataclass(frozen=True)
class ExtractOptions:
    rules: SiteRules | None = None  # site rules (body/title/date/author selectors, strips)
    min_text_chars: int = MIN_TEXT_CHARS
    disabled: frozenset[str] = frozenset()  # heuristics switched off, by name (extract_heuristics.HEURISTICS)

    def __post_init__(self):
        object.__setattr__(self, "disabled", check_names(self.disabled))


def _main_content(root, *, favor_recall: bool = False):
    """trafilatura's XML body for a prepared tree, or None. (No URL: trafilatura would resolve links against
    the site root, ignoring the page path and <base>; xml_to_body resolves them properly.)"""
    import trafilatura  # here: a run with nothing to extract does not pay for importing it (~0.2 s)

    document = trafilatura.bare_extraction(
        root,
        output_format="xml",  # (not "python": that also serialises the body as text, which we do not use)
        include_comments=False,
        include_images=False,  # pictures are placed afterwards (extract_placement)
        include_tables=True,
        include_links=True,
        include_formatting=True,
        with_metadata=False,
        favor_recall=favor_recall,
    )
    return None if document is None else document.body


def _parse(html: bytes | str, url: str, charset: str | None):
    if len(html) > MAX_FILE_BYTES:  # refuse before decoding (decoded pages over MAX_CHARS are refused too)
        raise ExtractError(url, f"page too large ({len(html) // 1_000_000} MB; limit {MAX_CHARS // 1_000_000} MB)")
    text = html if isinstance(html, str) else decode_html(html, charset)
    if not unicodedata.is_normalized("NFC", text):  # (a quick check; most pages are NFC already)
        text = unicodedata.normalize("NFC", text)  # one form for every script: Bengali, Vietnamese, ... compare
    try:
        return parse_html(text)
    except PageError as exc:
        raise ExtractError(url, str(exc)) from exc


def _apply_rules(root, rules: SiteRules, meta: PageMeta) -> tuple[PageMeta, bool]:
    """Site rules' title/date/author override the generic ones; a matching body rule keeps only that body.
    Returns the metadata and whether the body came from a rule."""
    title = select_text(root, rules.title)
    date = iso_date(select_text(root, rules.date))
    author = select_text(root, rules.author)
    meta = replace(
        meta,
        title=title or meta.title,
        headlines=(title, *meta.headlines) if title else meta.headlines,
        published=date or meta.published,
        author=author or meta.author,
    )
    matched = select_elements(root, rules.body)
    body = root.find("body")
    if not matched or body is None:
        return meta, False
    keep = [el for el in matched if not any(a in matched for a in el.iterancestors())]
    for el in keep:
        el.getparent().remove(el)
        el.tail = None
    for child in list(body):
        body.remove(child)
    body.text = None
    body.extend(keep)
    return meta, True


def extract_article(
    html: bytes | str,
    url: str,
    *,
    charset: str | None = None,
    options: ExtractOptions | None = None,
    trace: ExtractTrace | None = None,
) -> Article:
    """Extract one article; ExtractError(url, reason) for empty, non-HTML or non-article pages. A `trace`, when
    given, records which heuristics fired (the benchmark's ablation uses it)."""
    options = options or ExtractOptions()
    heuristics = Heuristics(options.disabled, trace)
    rules = options.rules
    root = _parse(html, url, charset)
    if rules:
        apply_strips(root, rules)
    meta = page_meta(root, base_url_of(root, url))
    from_rule = False
    if rules:
        meta, from_rule = _apply_rules(root, rules, meta)
    page = prepare(root, url, heuristics)
    try:
        xml_body = _main_content(page.root, favor_recall=from_rule)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise ExtractError(url, f"extractor failed: {type(exc).__name__}: {exc}") from exc
    if xml_body is None:
        raise ExtractError(url, "no article text found")
    body, _ = xml_to_body(xml_body, page.base_url, page.captions, page.alts)
    place_images(body, page.root, page.captions, page.alts)
    texts = Texts()  # block texts, computed once for the filters and the running text
    _filter_body(body, heuristics, texts, meta, url, prune=not rules or rules.prune)
    images = body_images(body)
    running = body_to_text(body, texts)
    if len(running) < options.min_text_chars:
        raise ExtractError(url, f"no article text found (only {len(running)} characters)")
    lead = None
    if meta.lead_image:
        lead = next((i for i in images if i.src == meta.lead_image), None) or ImageRef(
            meta.lead_image, page.alts.get(meta.lead_image, ""), page.captions.get(meta.lead_image, "")
        )
        images = _with_lead(images, lead, list(page.alts))
    elif images:
        lead = images[0]
    return Article(
        url=url,
        title=meta.title,
        text=running,
        body_html=body_to_html(body),
        published=meta.published,
        updated=meta.updated,
        author=meta.author,
        lead_image=lead,
        images=tuple(images),
        language=meta.language,
    )


def _filter_body(body, heuristics: Heuristics, texts: Texts, meta: PageMeta, url: str, *, prune: bool) -> None:
    """The body filters, under the guard (extract_heuristics.Heuristics.filters)."""
    steps: list[tuple] = [("headline", drop_headline, meta.headlines)]
    if prune:
        steps += [
            ("standfirst", partial(drop_standfirst, texts=texts), meta.description),
            ("related_block", partial(drop_related_blocks, texts=texts)),
            ("related_cut", partial(cut_at_related_heading, texts=texts)),
            ("caption_paragraphs", partial(move_captions, texts=texts)),
            ("teaser_lines", partial(drop_teaser_lines, texts=texts)),
            ("teaser_runs", partial(drop_teaser_runs, texts=texts)),
            ("trailing_boilerplate", partial(drop_trailing_boilerplate, texts=texts)),
        ]
    heuristics.filters(body, steps, measure=body_text_length)


def _with_lead(images: list[ImageRef], lead: ImageRef, page_order: list[str]) -> list[ImageRef]:
    """The body's images plus the lead image when it is shown on the page outside the body (a lead figure
    above the text), in document order; an og:image the page never shows is not added."""
    if lead.src not in page_order or any(i.src == lead.src for i in images):
        return images
    position = {src: index for index, src in enumerate(page_order)}
    at = position[lead.src]
    index = next((n for n, i in enumerate(images) if position.get(i.src, len(position)) > at), len(images))
    return [*images[:index], lead, *images[index:]]


def read_page_file(path: str | Path) -> bytes:
    """A page's bytes from a plain or gzip-compressed file, bounded by MAX_FILE_BYTES."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ExtractError(str(path), f"file too large (over {MAX_FILE_BYTES // 1_000_000} MB)")
    return data


def extract_file(path: str | Path, base_url: str | None = None) -> dict:
    """Extract a page stored in a file; the JSON-ready record `newsmirror extract --jsonl` prints."""
    url = base_url or Path(path).resolve().as_uri()
    article = extract_article(read_page_file(path), url)
    return {
        "file": str(path),
        "url": url,
        "title": article.title,
        "text": article.text,
        "published": article.published,
        "updated": article.updated,
        "author": article.author,
        "images": [asdict(image) for image in article.images],
        "lead_image": asdict(article.lead_image) if article.lead_image else None,
    }
