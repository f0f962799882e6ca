"""Transform (pure): sanitize bodies, rewrite in-body links, convert to Markdown, fingerprint content."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping

import nh3
from lxml import html as lxml_html
from bs4 import Comment
from markdownify import MarkdownConverter, chomp

from newsmirror.layout import asset_link, is_local
from newsmirror.ids import canonical_url
from newsmirror.records import Article

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code",
    "strong", "em", "b", "i", "u", "s", "sub", "sup", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
                      "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
PLACEHOLDER = "missing-image"  # class of the placeholder `link_images` puts where an image may not be shown
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")  # unprintable (NUL reads back as U+FFFD)


def content_hash(article: Article) -> str:
    """Fingerprint of everything a page shows; a changed hash means the page is re-rendered."""
    data = [article.title, article.body_html, article.published, article.updated, article.author,
            [(i.src, i.alt, i.caption) for i in article.images],
            article.lead_image and (article.lead_image.src, article.lead_image.alt, article.lead_image.caption)]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()


def sanitize(body_html: str) -> str:
    """Allow-list sanitizer: no script, event handler, style, iframe, form or non-http(s) URL survives."""
    return nh3.clean(
        body_html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https"},
        link_rel=None, strip_comments=True,
    )


def relative_link(from_path: str, to_path: str, suffix: str = "") -> str:
    """A relative link between two mirror files; `suffix` (link variation, e.g. "?abc123") is appended as is."""
    return posixpath.relpath(to_path, posixpath.dirname(from_path) or ".") + suffix


def rewrite_links(
    body_html: str, page_path: str, pages_by_url: Mapping[str, str], policy: str, suffix: str = ""
) -> str:
    """Point links to mirrored articles at their mirror page; treat the others by `policy`:
    keep (unchanged), text (plain text), neutralise (plain text followed by the URL as code, not clickable)."""
    if "<a" not in body_html:
        return body_html
    fragment = _fragment(body_html)
    for link in list(fragment.iter("a")):
        href = (link.get("href") or "").strip()
        target = pages_by_url.get(canonical_url(href)) if href.startswith(("http://", "https://")) else None
        if target:
            link.set("href", relative_link(page_path, target, suffix))
        elif policy == "text" or (policy == "neutralise" and href):
            tail = link.tail or ""
            if policy == "neutralise":
                code = lxml_html.Element("code")
                code.text = href.replace("://", "[:]//").replace(".", "[.]")
                link.addnext(code)
                code.tail = tail
                link.tail = " "
            link.drop_tag()
    return _inner(fragment)


def link_images(body_html: str, page_path: str, localise: bool, missing_label: str,
                asset_base: str | None = None) -> str:
    """Point local `assets/...` images at their file, relative to the page (or under `asset_base`); replace by a
    visible placeholder any image that is not an http(s) URL (data:, relative to the source, ...) and, with
    localisation on, every remote one too, so no page hot-links a foreign host."""
    if "<img" not in body_html:
        return body_html
    fragment = _fragment(body_html)
    for img in list(fragment.iter("img")):
        src = img.get("src") or ""
        if is_local(src):
            img.set("src", asset_link(src, page_path, asset_base))
        elif localise or not is_http(src):
            placeholder = lxml_html.Element("em", {"class": PLACEHOLDER})
            alt = " ".join((img.get("alt") or "").split())
            placeholder.text = f"[{missing_label}{': ' + alt if alt else ''}]"
            placeholder.tail = img.tail
            img.getparent().replace(img, placeholder)
    return _inner(fragment)


def _fragment(body_html: str):  # noqa: ANN202
    # lxml parses control characters but refuses them in any text set later (a moved tail): drop them first
    return lxml_html.fragment_fromstring(_CONTROL.sub("", body_html), create_parent="div")


def _inner(fragment) -> str:  # noqa: ANN001
    return (fragment.text or "") + "".join(lxml_html.tostring(child, encoding="unicode") for child in fragment)


# -- Markdown output ----------------------------------------------------------------------------------------------
# Rule: the only raw HTML in a Markdown page is the counter pixel (render.py); every character of content renders as
# the same text. Text from the world goes through `escape_text`, URLs put in links through `link_destination` or
# `autolink`, so quoted markup (`&lt;img onerror=...&gt;`) reads as those characters on every git host.

_INLINE = re.compile(r"([\\`*\[\]<>|~])")  # escapes, code, emphasis, links, HTML/autolinks, GFM tables/strikethrough
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # `_` between two letters/digits never emphasises
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # "&amp;" written as text must not turn into "&"
_BLOCK_MARKER = re.compile(r"^( *)([-+](?=[\s+-]|$)|[=#])")  # list item, thematic break, setext underline, heading
_ORDERED_MARKER = re.compile(r"^( *\d{1,9})([.)])(?=\s|$)")
_CLOSING_HASHES = re.compile(r"(?<!\S)(#+\s*)$")  # "## Title #" drops the trailing hashes
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_URL_SPECIAL = set("<>()\\`\"")
_KEEP_EMPTY = ["br", "hr", "img", "li", "tr", "td", "th"]  # empty but shown, or holding a list's or table's shape


def escape_text(text: str) -> str:
    """Inline Markdown that reads back as exactly `text` (line breaks become spaces, control characters go).

    Escapes only what could start markup: everywhere \\ ` * [ ] < > | ~, `_` at a word boundary and `&` of an
    entity; at the start (where a text may begin a line) list, heading and setext markers. Letters, CJK and most
    punctuation stay as they are, so the page source stays readable."""
    text = re.sub(r"[\r\n\v\f]", " ", _CONTROL.sub("", text))
    text = _INLINE.sub(r"\\\1", text)
    text = _LOOSE_UNDERSCORE.sub(r"\\_", text)
    text = _ENTITY.sub(r"\\&", text)
    text = _BLOCK_MARKER.sub(r"\1\\\2", text)
    text = _ORDERED_MARKER.sub(r"\1\\\2", text)
    return _CLOSING_HASHES.sub(r"\\\1", text)


def one_line(text: str) -> str:
    """`text` without control characters, its whitespace runs (line breaks included) as single spaces."""
    return " ".join(_CONTROL.sub("", text).split())


def encode_url(url: str) -> str:
    """`url` with whitespace, control characters and the characters that end a Markdown destination or an HTML
    attribute (< > ( ) \\ ` ") percent-encoded: the same address, safe inside `(...)`, `<...>` and `"..."`."""
    return "".join(
        "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        if c in _URL_SPECIAL or c.isspace() or not c.isprintable() else c
        for c in url.strip()
    )


def link_destination(url: str) -> str:
    """`url` as the destination of `[text](...)` / `![alt](...)`; "&amp;" would decode there, so it is escaped."""
    return _ENTITY.sub(r"\\&", encode_url(url))


def is_http(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://"))


def autolink(url: str) -> str:
    """`<url>`, a link showing its own address (no escapes or entities apply inside); anything that is not an
    http(s) URL is shown as text: `<foo>` would be an HTML tag."""
    return f"<{encode_url(url)}>" if is_http(url) else escape_text(one_line(url))


def _allowed(url: str, schemes: tuple[str, ...]) -> bool:
    """A URL with one of `schemes`, or a relative one (not `//host/...` nor `/path`: they leave the mirror)."""
    scheme = _SCHEME.match(url)
    return scheme.group(1).lower() in schemes if scheme else not url.startswith(("/", "\\"))


def _title(el) -> str:  # noqa: ANN001
    title = " ".join((el.get("title") or "").split())
    return ' "' + escape_text(title).replace('"', '\\"') + '"' if title else ""


def _code_span(text: str) -> str:
    """`text` as a code span: a newline in it could start a block (a heading, a list), so it becomes a space;
    the delimiter is longer than any backtick run inside."""
    text = re.sub(r"\s*\n\s*", " ", text).strip()
    if not text:
        return ""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * (run + 1) + (f" {text} " if run else text) + "`" * (run + 1)


class _MirrorMarkdown(MarkdownConverter):
    """markdownify with every text escaped by `escape_text`, safe destinations, unbreakable code spans and fences,
    and figures as an image line followed by an italic caption line."""

    def convert_soup(self, soup):  # noqa: ANN001, ANN201
        # Texts are escaped one by one: "1", an empty <b>, ". x" would join into a list marker none of them shows.
        # Drop what renders as nothing (comments, empty elements), then merge the texts it separated.
        for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
            comment.extract()
        for el in soup.find_all(True):
            if el.name not in _KEEP_EMPTY and not el.get_text() and not el.find(_KEEP_EMPTY):
                el.decompose()
        soup.smooth()
        return super().convert_soup(soup)

    def escape(self, text, parent_tags=None):  # noqa: ANN001
        return escape_text(text)

    def convert_a(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        if "_noformat" in parent_tags:
            return text
        prefix, suffix, text = chomp(re.sub(r"\s*\n\s*", " ", text))  # a blank line would split the link
        href = (el.get("href") or "").strip()
        if not text or not href or not _allowed(href, ("http", "https", "mailto")):
            return prefix + text + suffix if text else ""
        if el.get_text() == href and is_http(href) and not el.get("title"):
            return prefix + autolink(href) + suffix
        return f"{prefix}[{text}]({link_destination(href)}{_title(el)}){suffix}"

    def convert_img(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        alt = " ".join((el.get("alt") or "").split())
        src = (el.get("src") or "").strip()
        if "_noformat" in parent_tags:
            return alt  # code shows text as is
        if "_inline" in parent_tags or not src or not _allowed(src, ("http", "https")):
            return escape_text(alt)
        return f"![{escape_text(alt)}]({link_destination(src)}{_title(el)})"

    def convert_code(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        if "_noformat" in parent_tags:
            return text
        if "td" in parent_tags or "th" in parent_tags:
            text = text.replace("|", "\\|")  # GFM splits table cells at any unescaped pipe, even in code
        return _code_span(text)

    convert_kbd = convert_samp = convert_code

    def convert_video(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        return text  # its caption text; never a link to a file of the source (sanitize drops video anyway)

    def convert_pre(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        if "_inline" in parent_tags:
            return self.convert_code(el, text, parent_tags)
        text = re.sub(r"[ \n]*$", "", re.sub(r"^[ \n]*\n", "", text))
        if not text.strip():
            return ""
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
        return f"\n\n{fence}\n{text}\n{fence}\n\n"

    def convert_em(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        if PLACEHOLDER in (el.get("class") or ()) and "_noformat" not in parent_tags:
            label = " ".join(el.get_text().split()).removeprefix("[").removesuffix("]")
            return f"*[{escape_text(label)}]*"  # our brackets; a link needs "(...)" after them, never written
        return super().convert_em(el, text, parent_tags=parent_tags, **kwargs)

    def convert_figure(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        return f" {text.strip()} " if "_inline" in parent_tags else "\n\n" + text.strip() + "\n\n"

    def convert_figcaption(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        caption = " ".join(text.split())
        if "_inline" in parent_tags:
            return f" {caption} "
        return f"\n\n*{caption}*\n\n" if caption else ""


_CONVERTER = _MirrorMarkdown(heading_style="ATX", bullets="-", strong_em_symbol="*")


def to_markdown(body_html: str) -> str:
    """Sanitised body HTML as Markdown: structure kept, every text escaped (see `escape_text`)."""
    body_html = _CONTROL.sub("", re.sub(r"\r\n?", "\n", body_html))
    markdown = _CONVERTER.convert(body_html)
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()
