"""extract_article / extract_file on hand-written pages (tests/fixtures/extract/)."""

import gzip
import json
from pathlib import Path

import pytest

from newsmirror.extract.page import extract_article, extract_file
from newsmirror.errors import ExtractError

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
URL = "https://news.example.com/world/seals.html"


def _page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def seals():
    return extract_article(_page("english_figure.html"), URL)


def test_metadata(seals):
    assert seals.title == "Harbour seals return to the estuary"
    assert seals.published == "2024-03-05T08:30:00+00:00"
    assert seals.updated == "2024-03-06T10:00:00+00:00"
    assert seals.author == "Jane Doe"
    assert seals.language == "en"


def test_running_text_has_no_headline_byline_captions_or_boilerplate(seals):
    text = seals.text
    assert text.startswith("For the first time in four decades")
    assert "monthly counts through the summer" in text
    assert "48 adult seals counted\n9 pups recorded" in text
    assert "\n\nA long recovery\n\n" in text
    for leaked in ("Harbour seals return", "Jane Doe", "Environment correspondent", "Photograph", "Maria Garcia",
                   "A pup born", "sandbank at low tide", "Share on", "Related stories", "Otters", "Great news",
                   "cookies", "All rights reserved", "Sport"):
        assert leaked not in text, leaked


def test_paragraphs_are_single_lines_separated_by_blank_lines(seals):
    paragraphs = seals.text.split("\n\n")
    assert len(paragraphs) >= 6
    assert "up from a handful of occasional" in seals.text


def test_body_html_structure_images_and_links(seals):
    body = seals.body_html
    assert "<h2>A long recovery</h2>" in body
    assert "<ul><li>48 adult seals counted</li>" in body
    # relative link resolved against <base href>, not the page URL
    assert 'href="https://news.example.com/world/other-article.html"' in body
    # lazy image promoted, with caption, at its place between the paragraphs
    figure = ('<figure><img src="https://cdn.example.com/img/seal-pup.jpg" alt="A seal pup">'
              "<figcaption>A pup born this spring. Photograph: Maria Garcia</figcaption></figure>")
    assert figure in body
    assert body.index("biologically dead") < body.index(figure) < body.index("We did not expect")
    assert "pixel.gif" not in body and "data:image" not in body
    assert "Share on" not in body and "Otters" not in body and "Great news" not in body


def test_images_and_lead_image(seals):
    # the lead figure sits above the extracted body: first in `images` (document order), not in the body or text
    assert [(i.src, i.alt, i.caption) for i in seals.images] == [
        ("https://news.example.com/media/seals-lead.jpg", "Seals resting on a sandbank",
         "Seals resting on a sandbank at low tide. Photo: John Smith/Agency"),
        ("https://cdn.example.com/img/seal-pup.jpg", "A seal pup", "A pup born this spring. Photograph: Maria Garcia"),
    ]
    assert seals.lead_image == seals.images[0]
    assert "seals-lead.jpg" not in seals.body_html and "Seals resting" not in seals.text and "John Smith" not in seals.text


ZH_FIRST = "记者从水利部获悉"


@pytest.mark.parametrize("name", ["zh_gbk_nocharset.html", "zh_gb2312_meta_lies_utf8.html"])
def test_simplified_chinese_pages(name):
    article = extract_article(_page(name), "https://zh.example.com/a/1.html")
    assert article.title == "长江流域今年春季降水偏多"
    assert article.text.startswith(ZH_FIRST)
    assert "三峡水库正在按照调度方案" in article.text
    assert "首页" not in article.text and "版权所有" not in article.text
    assert "长江流域今年春季降水偏多" not in article.text


def test_traditional_chinese_big5():
    article = extract_article(_page("zh_big5.html"), "https://tw.example.com/a/1.html")
    assert article.title == "臺北捷運新路線明年通車"
    assert article.text.startswith("臺北市政府今天宣布")
    assert "替代道路資訊" in article.text
    assert "首頁" not in article.text


def test_http_charset_is_passed_through():
    raw = _page("zh_gbk_nocharset.html")
    assert extract_article(raw, "https://zh.example.com/", charset="gbk").text.startswith(ZH_FIRST)
    assert extract_article(raw.decode("gbk"), "https://zh.example.com/").text.startswith(ZH_FIRST)


def test_table_layout_portal_keeps_nav_out():
    article = extract_article(_page("portal_tables.html"), "http://portal.example.com/news/library.html")
    assert article.text.startswith("The city council voted six to one")
    assert "larger building in the years ahead." in article.text
    for nav in ("Home", "Local News", "Weather Forecast", "Obituaries", "Copyright", "Terms of use"):
        assert nav not in article.text, nav
        assert nav not in article.body_html, nav
    assert "<table" not in article.body_html


def test_extract_file_plain_and_gzip(tmp_path):
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(_page("english_figure.html")))
    for path in (FIXTURES / "english_figure.html", gz):
        record = extract_file(path, base_url=URL)
        assert record["url"] == URL and record["file"] == str(path)
        assert record["title"] == "Harbour seals return to the estuary"
        assert record["text"].startswith("For the first time")
        assert record["images"][0]["src"] == record["lead_image"]["src"]
        assert record["images"][1] == {
            "src": "https://cdn.example.com/img/seal-pup.jpg",
            "alt": "A seal pup",
            "caption": "A pup born this spring. Photograph: Maria Garcia",
        }
        assert record["lead_image"]["src"] == "https://news.example.com/media/seals-lead.jpg"
        json.dumps(record)


def test_extract_file_without_base_url_uses_file_uri():
    record = extract_file(FIXTURES / "zh_big5.html")
    assert record["url"].startswith("file://")


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 20, "not HTML"),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no article text"),
    ],
)
def test_bad_pages_raise_extract_error(raw, reason):
    with pytest.raises(ExtractError) as info:
        extract_article(raw, "https://example.com/x")
    assert reason in info.value.reason
    assert info.value.resource == "https://example.com/x"
