"""Body filters and DOM preparation: teasers, captions, standfirst, trailing boilerplate, split bodies, hidden."""

from lxml import html as lxml_html

from newsmirror.extract.page import extract_article
from newsmirror.extract.filters import (
    drop_standfirst,
    drop_teaser_lines,
    drop_teaser_runs,
    drop_trailing_boilerplate,
    move_captions,
)


def drop_teasers(body):
    drop_teaser_lines(body)
    drop_teaser_runs(body)

PARA = "The committee met on Thursday to discuss the proposal in detail, and members asked many questions. "


def _body(markup: str):
    return lxml_html.fragment_fromstring(markup, create_parent="div")


def _texts(body):
    return [" ".join(el.text_content().split()) for el in body]


def test_read_more_lines_link_runs_and_trailing_teasers_go():
    body = _body(
        f"<p>{PARA}</p>"
        "<p><a href='https://x/1'>Read more: a different story about something else</a></p>"
        f"<p>{PARA}</p>"
        "<p><a href='https://x/2'>First teaser</a></p><p><a href='https://x/3'>Second teaser</a></p>"
        "<p><a href='https://x/4'>Third teaser</a></p>"
        f"<p>{PARA} and a <a href='https://x/5'>link inside</a> the text.</p>"
        "<p><a href='https://x/6'>Trailing teaser one</a></p><p><a href='https://x/7'>Trailing teaser two</a></p>"
    )
    drop_teasers(body)
    texts = _texts(body)
    assert len(texts) == 3 and all(t.startswith("The committee") for t in texts)


def test_list_of_links_inside_text_with_prose_stays():
    body = _body(f"<p>{PARA}</p><ul><li>Plain item one</li><li>Plain item two</li></ul><p>{PARA}</p>")
    drop_teasers(body)
    assert len(body) == 3


def test_caption_paragraph_moves_into_the_figure_and_a_credit_line_goes():
    body = _body(
        f"<p>{PARA}</p><figure><img src='https://x/a.jpg' alt=''></figure>"
        "<p><em>Workers at the plant on Monday.</em></p>"
        f"<p>{PARA}</p><p>Photo: Agency</p>"
    )
    move_captions(body)
    assert body.find("figure/figcaption").text == "Workers at the plant on Monday."
    assert _texts(body)[-1].startswith("The committee")


def test_standfirst_heading_equal_to_description_goes():
    body = _body(f"<h2>A short summary of the story, as in the description.</h2><p>{PARA}</p>")
    drop_standfirst(body, "A short summary of the story, as in the description.")
    assert body[0].tag == "p"
    body = _body(f"<p>A short summary of the story, as in the description.</p><p>{PARA}</p>")
    drop_standfirst(body, "A short summary of the story, as in the description.")
    assert len(body) == 2  # a first paragraph equal to the description is running text


def test_trailing_boilerplate():
    body = _body(
        f"<p>{PARA}</p><p>Sign up for our newsletter to get the news in your inbox.</p>"
        "<p>Like this story? Share it with a friend!</p>"
    )
    drop_trailing_boilerplate(body)
    assert len(body) == 1


PAGE = """<html><head><title>Split story</title></head><body>
<article><h1>Split story</h1>
<div class="article-body"><p>{p1}</p><p>{p1}</p></div>
<div class="ad-slot"><p>Advertisement</p></div>
<div class="article-body"><p>{p2}</p><p>{p2}</p></div>
<div style="display: none"><p>Hidden metadata block that must not show up in the text at all.</p></div>
</article></body></html>"""


def test_split_body_is_joined_and_hidden_blocks_dropped():
    p1 = "The first part of the article explains the background of the story in some detail. " * 2
    p2 = "The second part, after an advertisement, continues the story until its very end. " * 2
    article = extract_article(PAGE.format(p1=p1, p2=p2), "https://example.com/split")
    assert "The first part" in article.text and "The second part" in article.text
    assert "Hidden metadata" not in article.text
