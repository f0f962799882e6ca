"""Failure classes seen on pages outside the benchmark sets, each on a small hand-written page: the article only in
<noscript>, a preview in a gated container, a "Most read" block inside the text, a data table, a blog post set
with <br>s next to a <p> widget, a forum thread, a tag that swallows the page, the filter guard, NFC output,
a GBK page with stray bytes and no charset. Each says which heuristic it needs (switching it off breaks it)."""

import unicodedata

import pytest
from lxml import html as lxml_html

from newsmirror.extract.decode import decode_html
from newsmirror.extract.page import ExtractOptions, extract_article
from newsmirror.extract.filters import body_text_length
from newsmirror.extract.heuristics import HEURISTICS, MAX_FILTER_CUT, ExtractTrace, Heuristics

URL = "https://news.example.org/2024/05/harbour.html"
WORDS = "harbour ferry council budget tide pier crane dock quay berth vessel cargo lantern orchard meadow".split()


def _para(n: int) -> str:
    return (f"<p>The volunteers met on Saturday morning to plan the next stage of the project, and they talked for "
            f"hours. Note {n} was about the {WORDS[n % 15]} and the {WORDS[(n * 7 + 3) % 15]} in the old town.</p>")


def _paras(*numbers: int) -> str:
    return "".join(_para(n) for n in numbers)


def _extract(page: str, *disabled: str, trace: ExtractTrace | None = None):
    return extract_article(page, URL, options=ExtractOptions(disabled=frozenset(disabled)), trace=trace)


NAV = "<ul class='menu'>" + "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(10)) + "</ul>"
SIDEBAR = ("<aside class='sidebar'><h3>Archive</h3><ul>"
           + "".join(f"<li><a href='/2023/{m}/'>Month {m} of the archive</a></li>" for m in range(1, 13))
           + "</ul><p>About this blog: notes from a small garden by the river, written every week since 2012.</p>"
           "</aside>")


def test_body_only_inside_noscript_is_kept():
    page = (f"<html><head><title>Planting garlic</title></head><body><div id='app'></div>{SIDEBAR}"
            f"<noscript><article><h1>Planting garlic</h1>{_paras(1, 2, 3, 4)}</article></noscript>"
            "<script>render()</script></body></html>")
    trace = ExtractTrace()
    article = _extract(page, trace=trace)
    assert article.text.count("The volunteers met") == 4
    assert "Archive" not in article.text and "About this blog" not in article.text
    assert trace.fired["noscript_body"] == 1


def test_noscript_note_is_not_content():
    page = (f"<html><head><title>Planting garlic</title></head><body><article>{_paras(1, 2, 3)}</article>"
            "<noscript><p>Please enable JavaScript to see the comments.</p></noscript></body></html>")
    assert "enable JavaScript" not in _extract(page).text


def test_unclosed_tag_that_swallows_the_page_is_unwrapped():
    page = (f"<html><head><title>Town notes</title></head><body><button><div class='x'>Menu</div>"
            f"{_paras(1, 2, 3, 4, 5)}</body></html>")
    trace = ExtractTrace()
    article = _extract(page, trace=trace)
    assert article.text.count("The volunteers met") == 5
    assert trace.fired["guard:drop"] == 1


def test_unclosed_iframe_that_swallows_the_page_gives_its_markup_back():
    page = (f"<html><head><title>Town notes</title></head><body><iframe src='/ad'><div>Menu</div>"
            f"{_paras(*range(1, 11))}</body></html>")
    trace = ExtractTrace()
    article = _extract(page, trace=trace)
    assert article.text.count("The volunteers met") == 10 and "<p>" not in article.text
    assert trace.fired["guard:drop"] == 1


def test_preview_in_a_subscription_named_container_stays():
    teasers = "".join(f"<li><a href='/n/{i}'>Another headline number {i} about the harbour works</a></li>"
                      for i in range(8))
    page = (f"<html><head><title>Rates rise again</title></head><body>{NAV}<article><div class='kicker'>Economy"
            "</div><h1>Rates rise again</h1><p class='byline'>By A. Writer</p>"
            f"<div class='paywall subscription' id='premium-story'>{_paras(1, 2, 3)}</div>"
            "<div class='paywall-prompt'><p>Subscribe to read the full story.</p>"
            f"<a href='/subscribe'>Subscribe</a></div></article><ul class='more'>{teasers}</ul></body></html>")
    article = _extract(page)
    assert article.text.count("The volunteers met") == 3
    assert not article.text.startswith(("Economy", "Rates rise again"))


def test_most_read_block_inside_the_text_does_not_cut_it():
    block = "<h3>Most read</h3><ul>" + "".join(
        f"<li><a href='/news/{i}'>Teaser headline number {i} about something else entirely</a></li>"
        for i in range(5)) + "</ul>"
    page = (f"<html><head><title>Bridge reopens</title></head><body><article><h1>Bridge reopens</h1>"
            f"{_paras(1, 2, 3)}{block}{_paras(4, 5, 6)}</article></body></html>")
    article = _extract(page)
    for n in (1, 4, 6):
        assert f"Note {n} was about" in article.text
    assert "Most read" not in article.text and "Teaser headline" not in article.text


def test_related_heading_at_the_end_cuts_the_teasers():
    cards = "".join(f"<p><a href='/n/{i}'>Another story {i} from the harbour desk</a></p>" for i in range(4))
    page = (f"<html><head><title>Bridge reopens</title></head><body><article>{_paras(1, 2, 3, 4)}"
            f"<h3>You may also like</h3>{cards}</article></body></html>")
    text = _extract(page).text
    assert "Note 4 was about" in text and "You may also like" not in text and "Another story" not in text


def test_data_table_in_the_body_stays_a_table():
    rows = "".join(f"<tr><td><p>Station {d}</p></td><td><p>{6 + d % 5}:{10 + d * 3}</p></td>"
                   f"<td><div>{3 + d % 3}.{d} m</div></td></tr>" for d in range(1, 16))
    page = (f"<html><head><title>Tide tables</title></head><body><article><h1>Tide tables</h1>{_paras(1, 2)}"
            f"<table><tr><th>Station</th><th>High water</th><th>Height</th></tr>{rows}</table>{_para(3)}"
            "</article></body></html>")
    article = _extract(page)
    assert "Station 7 | 8:31 | 4.7 m" in article.text
    assert "<table>" in article.body_html and "Note 3 was about" in article.text


def test_post_set_with_line_breaks_beats_a_widget_with_paragraphs():
    post = "<br><br>".join(f"Line {i} of the post: the river was high this week, and the path along the orchard "
                           "was closed for two days while the council cleared fallen branches." for i in range(8))
    about = "<div class='widget'><h3>About me</h3>" + "".join(
        f"<p>I am a retired teacher who writes about the river, the orchard and the town; part {i} of my story.</p>"
        for i in range(3)) + "</div>"
    page = (f"<html><head><title>High water</title></head><body><div id='main'><div class='entry'><h2>High water"
            f"</h2><div class='entry-text'>{post}</div></div></div><div id='side'>{about}</div></body></html>")
    text = _extract(page).text
    assert "Line 0 of the post" in text and "Line 7 of the post" in text
    assert "\n\nLine 1 of the post" in text  # one paragraph per <br><br>-separated run
    assert "retired teacher" not in text


def _forum_post(n: int, who: str, text: str) -> str:
    return (f"<div class='post' id='post-{n}'><div class='postauthor'>{who}</div><div class='postdate'>"
            f"May {n}, 2024</div><div class='postbody'><p>{text}</p></div></div>")


def test_forum_thread_keeps_the_first_post_only():
    question = ("How do I keep the gate hinge from rusting in winter? I painted it last year but the paint peeled "
                "off after the first frost and the hinge squeaks again every morning.")
    replies = "".join(_forum_post(n, f"user{n}", f"Reply {n}: I had the same trouble with the {WORDS[n]} gate; a "
                                  "thin coat of grease in November kept it quiet all winter long.")
                      for n in range(2, 6))
    page = (f"<html><head><title>Gate hinge rust</title></head><body><div class='thread'><h1>Gate hinge rust</h1>"
            f"{_forum_post(1, 'alice', question)}{replies}</div></body></html>")
    assert "How do I keep the gate hinge" in _extract(page).text
    assert "Reply" not in _extract(page).text
    assert "Reply 3" in _extract(page, "forum_replies").text


def test_comments_under_an_article_are_not_a_forum():
    comments = "".join(_forum_post(n, f"reader{n}", f"Comment {n}: thanks for this report on the {WORDS[n]}, it "
                                   "was good to read about the work on the harbour.") for n in range(1, 5))
    page = (f"<html><head><title>Harbour works</title></head><body><article>{_paras(1, 2, 3, 4)}</article>"
            f"<div class='comments'>{comments}</div></body></html>")
    trace = ExtractTrace()
    _extract(page, trace=trace)
    assert not trace.fired["forum_replies"]


def test_blog_index_entries_with_their_own_headings_are_no_forum():
    entries = "".join(f"<div class='post'><h2><a href='/p/{n}'>Entry {n}</a></h2><span class='author'>alice</span>"
                      f"{_para(n)}</div>" for n in range(1, 5))
    trace = ExtractTrace()
    _extract(f"<html><head><title>Blog</title></head><body>{entries}</body></html>", trace=trace)
    assert not trace.fired["forum_replies"]


def _body(markup: str):
    return lxml_html.fragment_fromstring(markup, create_parent="div")


def test_filter_guard_undoes_a_filter_that_removes_most_of_the_text():
    body = _body(_paras(1, 2, 3, 4, 5))

    def greedy(body) -> int:  # removes all but the first paragraph
        for child in list(body)[1:]:
            body.remove(child)
        return 4

    trace = ExtractTrace()
    before = body_text_length(body)
    Heuristics(trace=trace).filters(body, [("teaser_runs", greedy)], measure=body_text_length)
    assert len(body) == 5 and body_text_length(body) == before
    assert trace.fired["guard:teaser_runs"] == 1 and not trace.fired["teaser_runs"]


def test_filters_together_may_not_remove_most_of_the_text_either():
    body = _body(_paras(1, 2, 3, 4, 5))

    def one_more(body) -> int:  # each removes one paragraph: below the guard alone, not together
        body.remove(body[-1])
        return 1

    trace = ExtractTrace()
    steps = [(name, one_more) for name in ("teaser_runs", "teaser_lines", "related_cut", "trailing_boilerplate")]
    Heuristics(trace=trace).filters(body, steps, measure=body_text_length)
    assert (1 - MAX_FILTER_CUT) < 0.6 and len(body) == 5
    assert trace.fired["guard:all_filters"] == 1


def test_output_is_nfc():
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt có dấu, và chữ ড় trong tiếng Bangla. ") * 6
    page = f"<html><head><title>Chữ viết</title></head><body><article><p>{decomposed}</p>{_paras(1, 2)}</article>"
    article = _extract(page + "</body></html>")
    assert unicodedata.is_normalized("NFC", article.text)
    assert "Tiếng Việt có dấu" in article.text and article.title == "Chữ viết"


ZH = {
    "gbk": ("长江流域春季降水偏多", "记者从水利部获悉，今年春季长江流域降水比常年同期偏多，三峡水库正在按照调度方案有序蓄水，"
            "有关部门表示将继续加强监测和预报工作，确保防汛安全。"),
    "big5": ("臺北捷運新路線明年通車", "臺北市政府今天宣布，捷運新路線的工程已經完成九成，預計明年年底可以通車，"
             "市府表示將在通車前公布替代道路資訊，請市民多加注意。"),
}


def _with_stray_bytes(raw: bytes) -> bytes:
    """Two invalid bytes between characters (after a '>'), as a broken CMS leaves them."""
    first = raw.index(b"><p>") + 1
    second = raw.index(b"><p>", first + 10) + 1
    return raw[:first] + b"\xff" + raw[first:second] + b"\xff" + raw[second:]


@pytest.mark.parametrize("codec", ["gbk", "big5"])
def test_chinese_page_with_stray_bytes_and_no_charset(codec):
    title, sentence = ZH[codec]
    paragraphs = "".join(f"<p>{sentence[:20 + n]}{n}。{sentence}</p>" for n in range(4))
    page = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    raw = _with_stray_bytes(page.encode(codec))
    assert sentence in decode_html(raw)  # not a Cyrillic code page, not UTF-8 with holes
    article = extract_article(raw, "https://zh.example.org/a/1.html")
    assert article.title == title and article.text.count(sentence) == 4


def test_every_heuristic_can_be_switched_off_and_unknown_names_are_refused():
    page = f"<html><head><title>Bridge</title></head><body><article>{_paras(1, 2, 3)}</article></body></html>"
    assert "Note 2 was about" in _extract(page, *HEURISTICS).text
    with pytest.raises(ValueError, match="no_such_heuristic"):
        ExtractOptions(disabled=frozenset({"no_such_heuristic"}))
