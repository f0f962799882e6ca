"""Site rules: parsing the fivefilters subset and applying it in extract_article."""

from pathlib import Path

import pytest

from newsmirror.extract.page import ExtractOptions, extract_article
from newsmirror.extract.siterules import SiteRules, SiteRulesError

FIXTURES = Path(__file__).parent / "fixtures" / "extract"


def test_parse_directives_css_and_comments():
    rules = SiteRules.from_file(FIXTURES / "rules_page.txt")
    assert rules.title == ("//h1[@class='hed']",)
    assert len(rules.body) == 2 and rules.body[1].startswith("descendant-or-self::")  # CSS became XPath
    assert rules.author[0].startswith("descendant-or-self::")
    assert rules.strip_id_or_class == ("promo-box",) and rules.strip_image_src == ("/ads/",)
    assert rules.prune is False


def test_bare_css_is_detected_and_defaults():
    rules = SiteRules.from_text("body: article .content\nstrip: .newsletter\nunknown_directive: x\n")
    assert rules.body[0].startswith("descendant-or-self::") and rules.strip[0].startswith("descendant-or-self::")
    assert rules.prune is True and rules.title == ()


@pytest.mark.parametrize("text", ["body: //div[", "title: css: div[[", "just a line without colon"])
def test_bad_rules_name_the_line(text):
    with pytest.raises(SiteRulesError, match="<rules>:1"):
        SiteRules.from_text(text)


def test_rules_override_generic_extraction():
    rules = SiteRules.from_file(FIXTURES / "rules_page.txt")
    raw = (FIXTURES / "rules_page.html").read_bytes()
    article = extract_article(raw, "https://example.com/bridge", options=ExtractOptions(rules=rules))
    assert article.title == "Bridge reopens after repairs"
    assert article.published == "2024-05-01T12:00:00+00:00"
    assert article.author == "Sam Writer"
    assert article.text.startswith("The old river bridge reopened")
    assert "four hundred rivets" in article.text and "Short." in article.text
    assert "Subscribe" not in article.text and "sidebar" not in article.text
    assert "/ads/" not in article.body_html and "Bridge reopens" not in article.text


def test_without_rules_generic_title():
    raw = (FIXTURES / "rules_page.html").read_bytes()
    assert extract_article(raw, "https://example.com/bridge").title == "Wrong title from og"
