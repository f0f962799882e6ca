"""Generic extraction fixes on small hand-written pages: data tables, embedded posts, hover cards, dangling
headings, picture-card "related" sections, long figcaptions, the lead image in `images`."""

from lxml import html as lxml_html

from newsmirror.extract.page import extract_article
from newsmirror.extract.clean import is_layout_table
from newsmirror.extract.filters import cut_at_related_heading, drop_trailing_boilerplate

URL = "https://news.example.com/2024/story.html"
PARA = "The committee met on Thursday to discuss the proposal in detail, and members asked many questions. "
WORDS = "harbour ferry council budget tide pier crane dock quay berth vessel cargo".split()


def _para(n: int) -> str:
    """A distinct paragraph (the extractor drops repeated ones)."""
    return f"<p>{PARA} Point {n} was about the {WORDS[n % 12]} and the {WORDS[(n * 5 + 3) % 12]} plans.</p>"


def _page(body: str, head: str = "") -> str:
    return (f"<html><head><title>Council votes on the harbour plan</title>{head}</head><body><article>"
            f"<h1>Council votes on the harbour plan</h1>{body}</article></body></html>")


def _body(markup: str):
    return lxml_html.fragment_fromstring(markup, create_parent="div")


def test_data_table_is_not_a_layout_table():
    table = lxml_html.fragment_fromstring(
        "<table><thead><tr><th>Pos</th><th>Player</th></tr></thead><tbody><tr><td>DL</td><td><a href='/p'>A. "
        "Player</a></td></tr></tbody></table>")
    assert not is_layout_table(table)
    layout = lxml_html.fragment_fromstring("<table><tr><td><p>Text</p></td><td><div>Menu</div></td></tr></table>")
    assert is_layout_table(layout)


def test_data_table_inside_layout_table_stays_a_table():
    page = _page(f"<table><tr><td><p>{PARA}</p><p>{PARA}</p><table><tr><th>Ticker</th><th>Change</th></tr>"
                 f"<tr><td>HD</td><td>-5.44%</td></tr></table><p>{PARA}</p></td></tr></table>")
    article = extract_article(page, URL)
    assert "HD | -5.44%" in article.text


def test_embedded_tweet_in_a_social_widget_is_kept():
    tweet = ("<div class='social-media-embed'><blockquote class='twitter-tweet'><p lang='en'>Yes this is real and "
             "the state spent half a million on it <a href='https://t.co/x'>https://t.co/x</a></p>&mdash; Some One "
             "(@someone) <a href='https://twitter.com/someone/status/1'>November 18, 2019</a></blockquote></div>")
    article = extract_article(_page(f"<p>{PARA}</p><p>{PARA}</p>{tweet}<p>{PARA} Final words.</p>"), URL)
    assert "Yes this is real and the state spent half a million" in article.text
    assert "Final words." in article.text


def test_hover_card_inside_a_paragraph_goes_but_the_name_stays():
    card = ("<span class='rollover-people'><a href='/people/jane-roe'>Jane Roe</a><span class='rollover-block'>"
            "<span><img src='/img/jane.jpg' width='100' height='100'><a href='/a/1'>Latest headline one</a>"
            "<a href='/a/2'>Latest headline two</a><a class='more' href='/people/jane-roe'>MORE</a></span></span>"
            "</span>")
    article = extract_article(_page(f"<p>{PARA}</p><p>Senator {card} said on Monday that the plan works.</p>"
                                    f"<p>{PARA}</p>"), URL)
    assert "Senator Jane Roe said on Monday that the plan works." in article.text
    assert "Latest headline" not in article.text and "MORE" not in article.text


def test_boilerplate_lines_and_a_dangling_heading_go_from_the_end():
    body = _body(f"<p>{PARA}</p><p>{PARA}</p><p>Sign up for our weekly newsletter.</p>"
                 "<h2>Join our free challenge</h2>")
    drop_trailing_boilerplate(body)
    assert [el.tag for el in body] == ["p", "p"]


def test_copyright_line_and_article_about_printing_stay():
    body = _body(f"<p>{PARA}</p><p>The printers said the article would run on Sunday. {PARA}</p>"
                 "<p>Copyright 2019 The Example News. All rights reserved.</p>")
    drop_trailing_boilerplate(body)
    assert len(body) == 3


def test_early_related_heading_followed_only_by_picture_cards_cuts():
    cards = "".join(f"<figure><img src='/i/{n}.jpg'></figure><p>{PARA}{n}</p>" for n in range(4))
    body = _body(f"<p>{PARA * 6}</p><h3>You may also like...</h3>{cards}")
    cut_at_related_heading(body)
    assert [el.tag for el in body] == ["p"]
    # early, but followed by more running text: stays
    body = _body(f"<p>{PARA * 6}</p><h3>You may also like...</h3>{('<p>' + PARA + '</p>') * 6}{cards}")
    cut_at_related_heading(body)
    assert len(body) == 16


def test_long_figcaption_stays_out_of_the_text():
    caption = "Functional areas of the module: " + "the crew quarters, exercise, hygiene and galley; " * 15
    page = _page(f"{_para(1)}{_para(2)}<figure><img src='/i/plan.jpg' alt='Plan'>"
                 f"<figcaption>{caption}</figcaption></figure>{_para(3)}")
    article = extract_article(page, URL)
    assert "Functional areas" not in article.text and "Point 3" in article.text
    assert article.images[0].caption.startswith("Functional areas")


def test_lead_image_joins_images_only_when_shown_and_never_twice():
    head = "<meta property='og:image' content='https://news.example.com/lead.jpg'>"
    lead = "<figure><img src='/lead.jpg' alt='Lead'><figcaption>The harbour. Photo: A. Person</figcaption></figure>"
    inner = "<figure><img src='/inner.jpg' alt='Inner'></figure>"
    body = f"{_para(1)}{_para(2)}{inner}{_para(3)}{_para(4)}"
    outside = extract_article(_page(f"{lead}<div class='article-body'>{body}</div>", head), URL)
    assert [i.src for i in outside.images] == ["https://news.example.com/lead.jpg",
                                                "https://news.example.com/inner.jpg"]
    assert outside.lead_image == outside.images[0] and "A. Person" not in outside.text
    unseen = extract_article(_page(body, head), URL)  # og:image the page never shows
    assert [i.src for i in unseen.images] == ["https://news.example.com/inner.jpg"]
    assert unseen.lead_image.src == "https://news.example.com/lead.jpg"
    within = extract_article(_page(f"{_para(1)}{_para(2)}{lead}{_para(3)}{inner}{_para(4)}", head), URL)
    assert [i.src for i in within.images].count("https://news.example.com/lead.jpg") == 1
