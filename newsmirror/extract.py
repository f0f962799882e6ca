"""The extract stage: page bytes -> Article (title, running text, clean body HTML, images, dates, author).

    decode -> parse (bounded) -> metadata (raw page) -> prepare (links, lazy images, captions, boilerplate)
           -> main content (trafilatura) -> body HTML + running text

`extract_file` is the same path for a file on disk (plain or .gz), as used by `newsmirror extract --jsonl`.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

import trafilatura

from newsmirror.decode import decode_html
from newsmirror.extract_body import body_to_html, body_to_text, drop_headline, xml_to_body
from newsmirror.extract_clean import MAX_CHARS, PageError, base_url_of, parse_html, prepare
from newsmirror.extract_meta import page_meta
from newsmirror.records import Article, ExtractError, ImageRef
from newsmirror.siterules import SiteRules

MIN_TEXT_CHARS = 40  # less running text than this is not an article
MAX_FILE_BYTES = 4 * MAX_CHARS  # bytes read from a file (after gunzip)


@dataclass(frozen=True)
class ExtractOptions:
    rules: SiteRules | None = None
    strip_boilerplate: bool = True  # drop nav/share/related/comment blocks by class/id before extraction
    min_text_chars: int = MIN_TEXT_CHARS


def _main_content(root, url: str):
    """trafilatura's XML body for a prepared tree, or None."""
    document = trafilatura.bare_extraction(
        root,
        url=url,
        include_comments=False,
        include_images=True,
        include_tables=True,
        include_links=True,
        include_formatting=True,
        with_metadata=False,
    )
    return None if document is None else document.body


def extract_article(
    html: bytes | str, url: str, *, charset: str | None = None, options: ExtractOptions | None = None
) -> Article:
    """Extract one article; ExtractError(url, reason) for empty, non-HTML or non-article pages."""
    options = options or ExtractOptions()
    text = html if isinstance(html, str) else decode_html(html, charset)
    try:
        root = parse_html(text)
    except PageError as exc:
        raise ExtractError(url, str(exc)) from exc
    meta = page_meta(root, base_url_of(root, url))
    page = prepare(root, url, strip_boilerplate=options.strip_boilerplate)
    try:
        xml_body = _main_content(page.root, page.base_url)
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise ExtractError(url, f"extractor failed: {type(exc).__name__}: {exc}") from exc
    if xml_body is None:
        raise ExtractError(url, "no article text found")
    body, images = xml_to_body(xml_body, page.captions, page.alts)
    drop_headline(body, meta.headlines)
    running = body_to_text(body)
    if len(running) < options.min_text_chars:
        raise ExtractError(url, f"no article text found (only {len(running)} characters)")
    lead = None
    if meta.lead_image:
        lead = next((i for i in images if i.src == meta.lead_image), None) or ImageRef(
            meta.lead_image, page.alts.get(meta.lead_image, ""), page.captions.get(meta.lead_image, "")
        )
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
