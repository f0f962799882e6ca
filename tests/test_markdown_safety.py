"""The Markdown edition carries no live HTML from content: every page is parsed with markdown-it (raw HTML on, as a
git host that allowed it would) and may hold no `html_inline`/`html_block` token but the counter pixel, no image
from a foreign host while images are localised, and quoted markup must read back as the same text."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from newsmirror.editions import markdown as markdown_edition
from newsmirror.records import ImageRef
from newsmirror.extract.transform import autolink, encode_url, link_destination, link_images, to_markdown
from test_render_golden import ARTICLE, CONFIG, state

MD = MarkdownIt("commonmark", {"html": True})
GFM = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])  # what git hosts add
PIXEL = re.compile(r'<img src="https://counter\.example\.org/p/[^"<>]*" alt="" width="1" height="1">\s*')
PAYLOAD = "<img src=x onerror=alert(1)>"
HOSTILE_URL = "http://host/x><img src=x onerror=alert(1)>.html"
LOCAL = "assets/5e/5e3a1b2c4d5f6a7b.webp"
NO_LOCALISE = CONFIG.model_copy(update={"images": CONFIG.images.model_copy(update={"localise": False})})
# deterministic and database-less: the same examples on every run, nothing written under .hypothesis
FAST = settings(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def walk(tokens):  # noqa: ANN001, ANN201
    for token in tokens:
        yield token
        yield from walk(token.children or [])


def live_markup(markdown: str, parser: MarkdownIt = MD) -> list[str]:
    """Raw HTML the page would pass to a browser, the counter pixel excepted."""
    return [t.content for t in walk(parser.parse(markdown))
            if t.type in ("html_inline", "html_block") and not PIXEL.fullmatch(t.content)]


def readback(markdown: str, parser: MarkdownIt = MD) -> str:
    """The text a reader sees (image alt texts and code included), whitespace runs as one space."""
    out = []
    for token in walk(parser.parse(markdown)):
        if token.type in ("text", "code_inline", "code_block", "fence"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak") or (token.block and token.nesting):
            out.append(" ")
    return " ".join("".join(out).split())


def norm(text: str) -> str:
    return " ".join(_CONTROL.sub("", text).split())


def srcs(markdown: str) -> list[str]:
    return [t.attrs["src"] for t in walk(MD.parse(markdown)) if t.type == "image"]


def alts(markdown: str) -> list[str]:
    return ["".join(c.content for c in walk(t.children or [])) for t in walk(MD.parse(markdown)) if t.type == "image"]


def hrefs(markdown: str) -> list[str]:
    return [t.attrs["href"] for t in walk(MD.parse(markdown)) if t.type == "link_open"]


def article_page(body: str = "<p>Body.</p>", config=CONFIG, **fields) -> str:  # noqa: ANN001
    article = replace(ARTICLE, body_html=body, **fields)
    return markdown_edition.render_article(config, state(7), article, {})[0].content.decode("utf-8")


def assert_safe(page: str, localised: bool = True) -> None:
    assert live_markup(page) == [] and live_markup(page, GFM) == [], page
    if localised:
        foreign = [s for s in srcs(page) if s.startswith(("http:", "https:", "//"))]
        assert foreign == [], page


# -- hostile cases ------------------------------------------------------------------------------------------------

HOSTILE_BODIES = {  # name -> (body HTML, text the page must show)
    "quoted tag": ("<p>payload &lt;img src=x onerror=alert(1)&gt;</p>", f"payload {PAYLOAD}"),
    "quoted script": ("<p>&lt;script&gt;alert(1)&lt;/script&gt; end</p>", "<script>alert(1)</script> end"),
    "quoted comment": ("<p>&lt;!-- hidden --&gt; shown</p>", "<!-- hidden --> shown"),
    "quoted entity": ("<p>write &amp;lt;b&amp;gt; and &amp;#60;i&amp;#62;</p>", "write &lt;b&gt; and &#60;i&#62;"),
    "quoted autolink": ("<p>&lt;http://evil.example/&gt; &lt;a@b.example&gt;</p>",
                        "<http://evil.example/> <a@b.example>"),
    "quoted markdown": ("<p>*no* _em_ [link](javascript:alert(1)) ![x](http://third-party/t.gif) `c` ~~s~~ a|b \\*</p>",
                        "*no* _em_ [link](javascript:alert(1)) ![x](http://third-party/t.gif) `c` ~~s~~ a|b \\*"),
    "line starts": ("<p>x<br>- item<br> 1. one<br># head<br>&gt; quote<br>===<br>+ p<br>    code</p>",
                    "x - item 1. one # head > quote === + p code"),
    "heading closing hashes": ("<h2>We are # </h2><h3>#</h3>", "We are # #"),
    "fence breakout": (f"<pre>```\n{html.escape(PAYLOAD)}\n````\n~~~</pre><p>after</p>",
                       f"``` {PAYLOAD} ```` ~~~ after"),
    "code span breakout": ("<p><code>a``b\n# c &lt;b&gt;</code> d</p>", "a``b # c <b> d"),
    "link text": ("<p><a href=\"https://ok.example/\">a ] [b](javascript:x) &lt;i&gt;</a></p>",
                  "a ] [b](javascript:x) <i>"),
    "pieces joined by empty elements": ("<p>1<b></b>. one<br>-<span></span> two<br>=<!-- c -->=</p>",
                                        "1. one - two =="),
    "control characters": ("<p>a\x00b\x07c\x1bd\u202ee</p>", "abcd\u202ee"),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_body_is_inert_and_reads_back(name):
    body, shown = HOSTILE_BODIES[name]
    page = article_page(body)
    assert_safe(page)
    assert shown in readback(page), readback(page)
    assert "Read more at" in readback(page)  # nothing after the body was swallowed
    assert "原文地址" in readback(page) and page.rstrip().endswith('height="1">')


def test_block_markers_in_text_make_no_blocks():
    tokens = [t.type for t in MD.parse(to_markdown(HOSTILE_BODIES["line starts"][0]))]
    assert tokens == ["paragraph_open", "inline", "paragraph_close"]
    tokens = [t.type for t in MD.parse(to_markdown(HOSTILE_BODIES["pieces joined by empty elements"][0]))]
    assert tokens == ["paragraph_open", "inline", "paragraph_close"]
    tokens = [t.type for t in MD.parse(to_markdown(HOSTILE_BODIES["fence breakout"][0]))]
    assert tokens == ["fence", "paragraph_open", "inline", "paragraph_close"]


def test_link_destinations_cannot_break_out():
    for href in (HOSTILE_URL, "http://h.example/a) [x](javascript:alert(1)", "http://h.example/a b\nc<d>\\e`f&amp;g"):
        markdown = to_markdown(f'<p><a href="{html.escape(href)}">t</a></p>')
        assert live_markup(markdown) == [] and readback(markdown) == "t", markdown
        assert [unquote(h) for h in hrefs(markdown)] == [unquote(encode_url(href))]
    for href in ("javascript:alert(1)", "vbscript:x", "data:text/html,x"):  # sanitize drops these; so does to_markdown
        assert to_markdown(f'<p><a href="{href}">t</a></p>') == "t"


def test_alt_text_caption_and_title_markup_stays_text():
    body = (f'<figure><img src="{LOCAL}" alt="{html.escape(PAYLOAD)}" title="&quot;)&lt;b&gt;">'
            f"<figcaption>&lt;b onmouseover=alert(1)&gt;cap&lt;/b&gt; *x*</figcaption></figure>")
    page = article_page(body, lead_image=ImageRef("assets/0c/0c1d2e3f4a5b6c7d.webp", "lead ](x) <i>", "cap <u>"))
    assert_safe(page)
    assert alts(page)[:2] == ["lead ](x) <i>", PAYLOAD]
    assert "<b onmouseover=alert(1)>cap</b> *x*" in readback(page) and "cap <u>" in readback(page)


def test_third_party_and_non_http_images_never_reach_the_page():
    body = ('<p><img src="http://third-party/track.gif" alt="t"><img src="//third-party/p.gif" alt="r">'
            '<img src="/abs.png" alt="a"><img src="data:image/png;base64,AA" alt="d"><img alt="none"></p>')
    page = article_page(body, lead_image=ImageRef("http://third-party/lead.gif", "lead"))
    assert_safe(page)
    assert "third-party" not in page and "[Image not available: t]" in readback(page)
    page = article_page(body, config=NO_LOCALISE, lead_image=ImageRef("javascript:alert(1)", "lead"))
    assert_safe(page, localised=False)
    assert "http://third-party/track.gif" in srcs(page)  # hot-linking is allowed when asked for, nothing else
    assert [s for s in srcs(page) if "third-party" not in s and not s.endswith(".webp") and s != "story-7.png"] == []
    assert "javascript" not in page and "[Image not available: lead]" in readback(page)


def test_article_url_author_and_dates_from_the_world():
    page = article_page(url=HOSTILE_URL, author=f"{PAYLOAD} *A*", published="<b>2026</b>",
                        title=f"# {PAYLOAD} [t](http://x)")
    assert_safe(page)
    assert hrefs(page).count(encode_url(HOSTILE_URL)) == 1
    assert f"原文地址: {HOSTILE_URL}" in readback(page)
    heading = MD.parse(page)[1]
    assert heading.content.startswith("\\#") and readback(page).startswith(f"# {PAYLOAD} [t](http://x) <b>2026</b ·")
    assert f"{PAYLOAD} *A*" in readback(page)


def test_item_titles_links_and_dates_on_indexes_home_and_hot():
    hostile = [replace(state(n), title=f"{PAYLOAD} *{n}* [x](javascript:1)", published=f"<i>{n}</i>9-01-01")
               for n in range(8, 0, -1)]
    hostile[0] = replace(hostile[0], url=HOSTILE_URL, retired="2026-04-01")  # the entry links to the original
    config = CONFIG.model_copy(update={"channels": {"world": CONFIG.channels["world"].model_copy(
        update={"title": "World <script>x</script> [x](y)"})}})
    files = markdown_edition.render_channel(config, "world", hostile, numbers={0}) + [
        markdown_edition.render_home(config, {"world": hostile}, hot=hostile),
        markdown_edition.render_hot(config, hostile, ["world"])]
    for file in files:
        page = file.content.decode("utf-8")
        assert_safe(page)
        assert f"{PAYLOAD} *8* [x](javascript:1) ↗ · <i>8</i>9-" in readback(page), file.path
        assert "World <script>x</script> [x](y)" in readback(page), file.path
        assert encode_url(HOSTILE_URL) in hrefs(page) and not [h for h in hrefs(page) if "javascript" in h]


def test_config_urls_are_safe_in_links_and_the_pixel():
    mirror = CONFIG.mirror.model_copy(update={
        "counter_pixel": "https://counter.example.org/p/{path}?c={channel}&a=\"{id}\"",
        "public_base_urls": ["https://a.example/m/", "https://b.example/m (2)/"]})
    menu = [CONFIG.menu[0].model_copy(update={"label": "A <b>", "url": "https://example.org/a b)<c>"})]
    page = article_page(config=CONFIG.model_copy(update={"mirror": mirror, "menu": menu}))
    assert_safe(page)
    assert 'src="https://counter.example.org/p/pages/world/story-7.md?c=world&amp;a=%22story-7%22"' in page
    assert "https://example.org/a%20b%29%3Cc%3E" in hrefs(page) and "A <b>" in readback(page)
    assert "https://b.example/m%20%282%29/pages/world/story-7.md" in hrefs(page)


def test_normal_text_stays_readable():
    body = ("<p>上周六早上七点，青石巷口的听雨楼茶馆门前已经排起了长队。snake_case, AT&amp;T, 3.5 亿, a - b, (括号) "
            "\"quote\" it's 100% #1! C# = 5 + 3 https://x.example/a_b?c=d&amp;e=f</p><ul><li>周一：小雨</li></ul>")
    assert to_markdown(body) == (
        "上周六早上七点，青石巷口的听雨楼茶馆门前已经排起了长队。snake_case, AT&T, 3.5 亿, a - b, (括号) \"quote\" it's "
        "100% #1! C# = 5 + 3 https://x.example/a_b?c=d&e=f\n\n- 周一：小雨")


def test_tables_keep_cells_and_text_under_gfm():
    markdown = to_markdown("<table><tr><th>a|b</th><th><code>c|d</code></th></tr>"
                           "<tr><td>&lt;i&gt;</td><td><pre>x|y</pre></td></tr></table>")
    assert live_markup(markdown, GFM) == []
    cells = [t.content for t in walk(GFM.parse(markdown)) if t.type in ("text", "code_inline")]
    assert cells == ["a|b", "c|d", "<i>", "x|y"]


def test_placeholder_brackets_are_ours_and_alt_is_escaped():
    marked = link_images('<p><img src="http://h/x.png" alt="a](javascript:x) <b>"></p>', "pages/w/x.md", True, "Gone")
    markdown = to_markdown(marked)
    assert markdown == "*[Gone: a\\](javascript:x) \\<b\\>]*" and hrefs(markdown) == [] and live_markup(markdown) == []


# -- properties ---------------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)) | st.sampled_from(list("<>&*_`[]()\\#-+=!|~:;\"' \n\t")),
               max_size=40)
URL = st.text(max_size=30) | st.builds("http://h.example/{}".format, st.text(max_size=30))
CONTEXTS = ["{}", "# {}", "[{}](u)", "*{}*", "- {}", "> {}", "1. {}", "a\n{}", "![{}](u)"]


@settings(FAST, max_examples=300)
@given(TEXT)
def test_property_md_escape_reads_back_in_every_template_context(text):
    escaped = markdown_edition.md_escape(text)
    assert "\n" not in escaped
    for context in CONTEXTS:
        if context == "*{}*" and not escaped:
            continue
        markdown = context.format(escaped)
        expected = norm(("a " if context.startswith("a\n") else "") + text)
        for parser in (MD, GFM):
            assert live_markup(markdown, parser) == []
            assert readback(markdown, parser) == expected, (context, markdown)


def _inline(draw, text: str) -> tuple[str, str]:
    kind = draw(st.sampled_from(["text", "strong", "em", "a", "code", "br", "img", "empty"]))
    body = html.escape(text, quote=False)
    if kind == "text":
        return body, text
    if kind == "empty":  # renders as nothing: the texts around it meet on one line
        return draw(st.sampled_from(["<b></b>", "<code></code>", "<span></span>", "<!-- c -->", '<a href="x"></a>'])), ""
    if kind == "br":
        return "<br>", " "
    if kind == "a":
        return f' <a href="{html.escape(draw(URL))}">{body}</a> ', f" {text} "
    if kind == "img":
        return f' <img src="{html.escape(draw(URL))}" alt="{html.escape(text)}"> ', f" {text} "
    tag = {"strong": "strong", "em": "em", "code": "code"}[kind]
    return f" <{tag}>{body}</{tag}> ", f" {text} "


@st.composite
def bodies(draw) -> tuple[str, str]:  # noqa: ANN001
    """Body HTML of random blocks holding random text, and the text it shows."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        inlines = [_inline(draw, draw(TEXT)) for _ in range(draw(st.integers(0, 4)))]
        inner, shown = "".join(i for i, _ in inlines), "".join(s for _, s in inlines)
        block = draw(st.sampled_from(["p", "h2", "li", "blockquote", "pre", "figure"]))
        text = draw(TEXT)
        if block == "pre":
            parts.append((f"<pre>{html.escape(text, quote=False)}</pre>", text))
        elif block == "figure":
            alt = draw(TEXT)
            parts.append((f'<figure><img src="{LOCAL}" alt="{html.escape(alt)}"><figcaption>'
                          f"{html.escape(text, quote=False)}</figcaption></figure>", f"{alt} {text}"))
        elif block == "li":
            tag = draw(st.sampled_from(["ul", "ol"]))
            parts.append((f"<{tag}><li>{inner}</li></{tag}>", shown))
        elif block == "blockquote":
            parts.append((f"<blockquote><p>{inner}</p></blockquote>", shown))
        else:
            parts.append((f"<{block}>{inner}</{block}>", shown))
    return "".join(p for p, _ in parts), " ".join(s for _, s in parts)


@settings(FAST, max_examples=250)
@given(bodies())
def test_property_body_conversion_is_inert_and_reads_back(body_and_text):
    body, shown = body_and_text
    markdown = to_markdown(body)
    for parser in (MD, GFM):
        assert live_markup(markdown, parser) == [], markdown
        assert readback(markdown, parser) == norm(shown), markdown


@settings(FAST, max_examples=300)
@given(URL)
def test_property_urls_stay_one_link(url):
    for template in ("[t]({})", "![t]({})", "a [t](<{}>) b"):
        markdown = template.format(link_destination(url))
        tokens = list(walk(MD.parse(markdown)))
        links = [t for t in tokens if t.type in ("link_open", "image")]
        assert live_markup(markdown) == [] and len(links) == 1, markdown
        target = links[0].attrs["href" if links[0].type == "link_open" else "src"]
        assert unquote(target) == unquote(encode_url(url)), markdown
    markdown = autolink(url)
    assert live_markup(markdown) == []
    if url.startswith("http://"):
        assert [unquote(h) for h in hrefs(markdown)] == [unquote(encode_url(url))]
    else:
        assert readback(markdown) == norm(url)


@settings(FAST, max_examples=120)
@given(title=TEXT, author=TEXT, url=URL, alt=TEXT, caption=TEXT, src=URL, body=bodies(), localise=st.booleans())
def test_property_article_page_has_no_live_markup(title, author, url, alt, caption, src, body, localise):
    page = article_page(body[0], config=CONFIG if localise else NO_LOCALISE, title=title, author=author, url=url,
                        lead_image=ImageRef(src, alt, caption))
    assert_safe(page, localised=localise)
    heading = MD.parse(page)[1]  # "# <title>" opens every page
    assert heading.type == "inline" and " ".join("".join(c.content for c in heading.children).split()) == norm(title)


@settings(FAST, max_examples=120)
@given(st.lists(st.tuples(TEXT, URL, TEXT, st.booleans()), min_size=1, max_size=5))
def test_property_lists_have_no_live_markup(items):
    states = [replace(state(n), title=title or None, url=url, published=date, retired="x" if retired else None)
              for n, (title, url, date, retired) in enumerate(items, 1)]
    files = markdown_edition.render_channel(CONFIG, "world", states, numbers={0}) + [
        markdown_edition.render_home(CONFIG, {"world": states}, hot=states), markdown_edition.render_hot(CONFIG, states, ["world"])]
    for file in files:
        page = file.content.decode("utf-8")
        assert_safe(page)
        for s in states[:2]:
            assert norm(s.title or s.url) in readback(page), (file.path, page)
