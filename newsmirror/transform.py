"""Transform (pure): sanitize bodies, rewrite in-body links, convert to Markdown, fingerprint content."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping

import nh3
from lxml import html as lxml_html
from markdownify import MarkdownConverter

from newsmirror.assets import asset_link, is_local
from newsmirror.ids import canonical_url
from newsmirror.records import Article

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code",
    "strong", "em", "b", "i", "u", "s", "sub", "sup", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
                      "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


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
    fragment = lxml_html.fragment_fromstring(body_html, create_parent="div")
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
    """Point local `assets/...` images at their file, relative to the page (or under `asset_base`); with
    localisation on, replace any remote image by a visible placeholder so no page hot-links a foreign host."""
    if "<img" not in body_html:
        return body_html
    fragment = lxml_html.fragment_fromstring(body_html, create_parent="div")
    for img in list(fragment.iter("img")):
        src = img.get("src") or ""
        if is_local(src):
            img.set("src", asset_link(src, page_path, asset_base))
        elif localise:
            placeholder = lxml_html.Element("em")
            alt = " ".join((img.get("alt") or "").split())
            placeholder.text = f"[{missing_label}{': ' + alt if alt else ''}]"
            placeholder.tail = img.tail
            img.getparent().replace(img, placeholder)
    return _inner(fragment)


def _inner(fragment) -> str:  # noqa: ANN001
    return (fragment.text or "") + "".join(lxml_html.tostring(child, encoding="unicode") for child in fragment)


class _MirrorMarkdown(MarkdownConverter):
    """markdownify with figures as an image line followed by an italic caption line."""

    def convert_figure(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        return "\n\n" + text.strip() + "\n\n"

    def convert_figcaption(self, el, text, parent_tags=None, **kwargs):  # noqa: ANN001
        caption = " ".join(text.split())
        return f"\n\n*{caption}*\n\n" if caption else ""


_CONVERTER = _MirrorMarkdown(heading_style="ATX", bullets="-", strong_em_symbol="*", escape_underscores=True)


def to_markdown(body_html: str) -> str:
    markdown = _CONVERTER.convert(body_html)
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()
