"""Bad input never crashes the extractor: ExtractError with a reason, in bounded time."""

import os
import time

import pytest

from newsmirror.extract.page import extract_article
from newsmirror.errors import ExtractError

URL = "https://example.com/x"
ARTICLE = b"<p>" + b"A real sentence of running text goes here. " * 20 + b"</p>"


def _fails(raw, reason: str, limit: float = 3.0) -> None:
    """`limit`: seconds of this thread's CPU (extraction runs in the calling thread), not of the wall clock, which
    on a busy machine counts the other processes' turns too (the first extraction in a process, which loads the
    extractor's lazy parts, took 0.3 s of CPU and 2.2 s of wall clock beside two busy processes)."""
    start = time.thread_time()
    with pytest.raises(ExtractError) as info:
        extract_article(raw, URL)
    assert reason in info.value.reason
    assert time.thread_time() - start < limit


def test_empty_and_whitespace():
    _fails(b"", "empty")
    _fails("  \n\t", "empty")


def test_png_and_random_bytes():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(5000)
    _fails(png, "not HTML")
    _fails(os.urandom(200_000), "not HTML")


def test_plain_text_is_not_html():
    _fails(b"just some words, no markup at all " * 50, "not HTML")


def test_twenty_megabyte_page_is_refused_quickly():
    _fails(b"<html><body><p>" + b"word " * 4_000_000 + b"</p></body></html>", "too large", limit=1.0)


def test_five_thousand_nested_divs():
    deep = b"<html><body>" + b"<div>" * 5000 + b"<p>deep</p>" + b"</div>" * 5000 + b"</body></html>"
    _fails(deep, "no article text")
    # text before the deep part still comes out (libxml2 stops at depth 256)
    article = extract_article(b"<html><body>" + ARTICLE + b"<div>" * 5000 + b"</div>" * 5000 + b"</body></html>", URL)
    assert article.text.startswith("A real sentence")


def test_navigation_only_page():
    _fails(b"<html><body><ul><li><a href='/a'>Home</a></li><li><a href='/b'>News</a></li></ul></body></html>",
           "no article text")
