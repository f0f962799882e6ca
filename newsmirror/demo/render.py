"""HTML pages of the demo site: article, JS-built article, channel listing, home and error pages.

Every page carries the site "chrome" a mirror must drop: header and nav, cookie banner, share
widgets, related links, comments, sidebar and footer. Their marker texts are in
:data:`BOILERPLATE_PHRASES`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from html import escape

from newsmirror.demo.content import CHANNEL_TITLES, CHANNELS, IMAGE_SIZES, LINK, Article, Block

SITE_NAME = "Harbour Light"

CHROME: dict[str, dict[str, str]] = {
    "en": {
        "tagline": "News from the bay, every morning",
        "signin": "Sign in or create a free Harbour Light account",
        "cookie": "We use cookies to improve your reading experience.",
        "cookie_ok": "Accept all cookies",
        "popular": "Most popular this week",
        "newsletter": "Get the Morning Tide newsletter in your inbox",
        "related": "Related reading from our newsroom",
        "comments": "Join the conversation: comments are moderated",
        "footer": "Harbour Light Media Group. All rights reserved.",
        "footer_links": "Advertise with us | Careers at Harbour Light | Contact the newsroom",
    },
    "zh": {
        "tagline": "每天清晨，来自海湾的新闻",
        "signin": "登录或注册港湾之光账号",
        "cookie": "本网站使用Cookie以改善您的阅读体验。",
        "cookie_ok": "全部接受",
        "popular": "本周读者最爱",
        "newsletter": "订阅《晨潮》电子简报，每日早间送达",
        "related": "编辑部延伸阅读",
        "comments": "参与讨论：评论经审核后显示",
        "footer": "港湾之光传媒集团 版权所有",
        "footer_links": "广告合作 | 加入我们 | 联系编辑部",
    },
}
SHARE = {
    "en": ("Share on Weibo", "Share on WeChat", "Share on X", "Share by email"),
    "zh": ("分享到微博", "分享到微信", "复制链接分享给朋友"),
}
COMMENTS = {
    "en": (
        ("tidewatcher", "Great read, I walked past there only yesterday and had no idea."),
        ("m.chen", "Thanks for covering this, the local angle is always welcome."),
        ("harbour_cat", "Could you do a follow-up piece next month? Curious how it turns out."),
        ("Ravi K.", "My kids loved this one. Sharing it with the school group."),
        ("old_ferryman", "I remember the eighties version of this. Times have changed!"),
    ),
    "zh": (
        ("江边散步的人", "写得真好，昨天刚路过那里，完全没注意到这些细节。"),
        ("小林同学", "感谢报道，希望以后多写写本地的故事。"),
        ("晨跑爱好者", "期待下个月的后续报道，很想知道最后结果如何。"),
        ("阿梅", "转发给家里人看了，大家都说很有意思。"),
    ),
}

#: Marker texts of the site chrome: none of them may appear in a mirrored page.
BOILERPLATE_PHRASES: tuple[str, ...] = tuple(
    [v for lang in CHROME.values() for k, v in lang.items() if k != "footer_links"]
    + [s for group in SHARE.values() for s in group]
    + [text for group in COMMENTS.values() for _user, text in group]
)

CSS = """body{font-family:Georgia,serif;margin:0;color:#222}
.site-header,.site-footer{background:#0b3d5c;color:#fff;padding:1em}
.site-header a,.site-footer a{color:#fff}
nav.main-nav ul{list-style:none;display:flex;gap:1em;padding:0}
main.page{display:flex;gap:2em;max-width:70em;margin:auto;padding:1em}
article.story{flex:3}aside.sidebar{flex:1;font-size:.9em}
figure img{max-width:100%;height:auto}.credit{color:#777;font-size:.8em}
.cookie-banner{position:fixed;bottom:0;background:#ffe;padding:1em;width:100%}
"""

TZ_CN = timezone(timedelta(hours=8))


def iso(dt: datetime, lang: str) -> str:
    """ISO 8601 / RFC 3339 timestamp; Chinese pages use +08:00."""
    if lang == "zh":
        return dt.astimezone(TZ_CN).isoformat()
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def human_date(dt: datetime, lang: str) -> str:
    if lang == "zh":
        local = dt.astimezone(TZ_CN)
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{dt:%B} {dt.day}, {dt.year}, {dt:%H:%M} UTC"


def inline(text: str, base: str) -> str:
    """Escape text, then turn ``[label](href)`` into links and ``**x**`` into strong."""
    out = escape(text, quote=False)
    out = LINK.sub(lambda m: f'<a href="{escape(m.group(2).replace("{base}", base))}">{m.group(1)}</a>', out)
    parts = out.split("**")
    return "".join(p if i % 2 == 0 else f"<strong>{p}</strong>" for i, p in enumerate(parts))


def figure(block: Block) -> str:
    kind, name, caption, credit = block
    width, height = IMAGE_SIZES[name.rsplit(".", 1)[1]]
    alt = escape(caption)
    if kind == "lazy":
        img = (f'<img class="lazy" src="/static/placeholder.gif" data-src="/images/{name}" alt="{alt}"'
               f' width="{width}" height="{height}" loading="lazy">')
    else:
        img = f'<img src="/images/{name}" alt="{alt}" width="{width}" height="{height}">'
    return (f'<figure class="photo">{img}<figcaption>{escape(caption, quote=False)} '
            f'<span class="credit">{escape(credit, quote=False)}</span></figcaption></figure>')


def body_html(blocks: list[Block], base: str) -> str:
    out: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("p", "h2"):
            out.append(f"<{kind}>{inline(block[1], base)}</{kind}>")
        elif kind in ("ul", "ol"):
            items = "".join(f"<li>{inline(item, base)}</li>" for item in block[1])
            out.append(f"<{kind}>{items}</{kind}>")
        elif kind == "quote":
            out.append(f"<blockquote><p>{inline(block[1], base)}</p></blockquote>")
        else:
            out.append(figure(block))
    return "\n".join(out)


def _title(channel: str, lang: str) -> str:
    en, zh = CHANNEL_TITLES[channel]
    return zh if lang == "zh" else en


def _head(title: str, lang: str, meta_charset: bool, extra: str = "") -> str:
    charset = '<meta charset="utf-8">\n' if meta_charset else ""
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n{charset}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n{extra}"
            f'<link rel="stylesheet" href="/static/site.css">\n</head>\n<body>\n')


def _header(lang: str) -> str:
    c = CHROME[lang]
    links = "".join(f'<li><a href="/{ch}/">{escape(_title(ch, lang))}</a></li>' for ch in CHANNELS)
    return (f'<div class="cookie-banner" id="cookie-banner"><p>{c["cookie"]}</p>'
            f'<button type="button">{c["cookie_ok"]}</button></div>\n'
            f'<header class="site-header"><a class="logo" href="/"><img src="/static/logo.png" alt="{SITE_NAME}"'
            f' width="200" height="48"></a><p class="tagline">{c["tagline"]}</p>\n'
            f'<nav class="main-nav"><ul><li><a href="/">{SITE_NAME}</a></li>{links}'
            f'<li class="account"><a href="/account/login">{c["signin"]}</a></li></ul></nav></header>\n')


def _sidebar(lang: str, popular: list[Article]) -> str:
    c = CHROME[lang]
    items = "".join(f'<li><a href="{a.path}">{escape(a.title)}</a></li>' for a in popular)
    return (f'<aside class="sidebar"><section class="most-popular"><h2>{c["popular"]}</h2><ol>{items}</ol></section>'
            f'<div class="newsletter"><p>{c["newsletter"]}</p><form action="/newsletter" method="post">'
            f'<input type="email" name="email"><button>OK</button></form></div></aside>\n')


def _footer(lang: str) -> str:
    c = CHROME[lang]
    names = c["footer_links"].split("|")
    links = " ".join(f'<a href="/about/{i}">{escape(t.strip())}</a>' for i, t in enumerate(names))
    return (f'<footer class="site-footer"><p class="footer-links">{links}</p>'
            f'<p class="copyright">&copy; 2026 {c["footer"]}</p></footer>\n</body>\n</html>\n')


def _share(art: Article, base: str) -> str:
    url = escape(base + art.path)
    links = "".join(f'<a class="share-link" href="https://share.example.com/?u={url}&amp;s={i}">{s}</a>'
                    for i, s in enumerate(SHARE[art.lang]))
    return f'<div class="share">{links}</div>\n'


def _comments(art: Article) -> str:
    pool = COMMENTS[art.lang]
    start = hashlib.sha1(art.slug.encode()).digest()[0]
    picked = [pool[(start + i) % len(pool)] for i in range(2 + start % 2)]
    items = "".join(f'<li class="comment"><p class="comment-author">{escape(u)}</p>'
                    f'<p class="comment-text">{escape(t)}</p></li>' for u, t in picked)
    return (f'<section class="comments" id="comments"><h2>{CHROME[art.lang]["comments"]}</h2>'
            f'<ol class="comment-list">{items}</ol>'
            '<form class="comment-form"><textarea name="c"></textarea></form></section>\n')


def article_page(art: Article, base: str, *, extra: list[str], updated: datetime, related: list[Article],
                 popular: list[Article], meta_charset: bool = True) -> str:
    """A full article page; ``extra`` paragraphs come from :meth:`DemoSite.edit_article`."""
    url = base + art.path
    first_image = f'<meta property="og:image" content="{base}/images/{art.images[0]}">\n' if art.images else ""
    meta = (f'<meta name="description" content="{escape(art.summary)}">\n'
            f'<meta property="og:title" content="{escape(art.title)}">\n<meta property="og:type" content="article">\n'
            f'<meta property="og:url" content="{url}">\n{first_image}'
            f'<meta property="og:site_name" content="{SITE_NAME}">\n'
            f'<meta property="article:published_time" content="{iso(art.published, art.lang)}">\n'
            f'<meta property="article:modified_time" content="{iso(updated, art.lang)}">\n'
            f'<link rel="canonical" href="{url}">\n')
    updated_line = ""
    if updated != art.published:
        label = "更新于" if art.lang == "zh" else "Updated"
        updated_line = (f'<p class="updated">{label} <time datetime="{iso(updated, art.lang)}">'
                        f"{human_date(updated, art.lang)}</time></p>")
    by = "文／" if art.lang == "zh" else "By "
    if art.serve == "js":
        paragraphs = [b[1] for b in art.body if b[0] == "p"] + extra
        data = json.dumps(paragraphs, ensure_ascii=False).replace("</", "<\\/")
        body = ('<div class="article-body" id="story-body"></div>\n<script>\n'
                f"(function () {{\n  var paragraphs = {data};\n"
                '  var box = document.getElementById("story-body");\n'
                "  paragraphs.forEach(function (text) {\n"
                '    var p = document.createElement("p"); p.textContent = text; box.appendChild(p);\n'
                "  });\n})();\n</script>")
    else:
        body = f'<div class="article-body">\n{body_html(list(art.body) + [("p", t) for t in extra], base)}\n</div>'
    rel = "".join(f'<li><a href="{a.path}">{escape(a.title)}</a></li>' for a in related)
    return (_head(f"{art.title} | {SITE_NAME}", art.lang, meta_charset, meta) + _header(art.lang)
            + '<main class="page">\n<article class="story">\n<header class="story-header">'
            f'<p class="kicker"><a href="/{art.channel}/">{escape(_title(art.channel, art.lang))}</a></p>'
            f"<h1>{escape(art.title)}</h1>\n"
            f'<p class="byline">{by}<span class="author">{escape(art.author)}</span> · '
            f'<time datetime="{iso(art.published, art.lang)}">{human_date(art.published, art.lang)}</time></p>'
            f"{updated_line}</header>\n" + _share(art, base) + body + "\n"
            f'<div class="related"><h2>{CHROME[art.lang]["related"]}</h2><ul>{rel}</ul></div>\n</article>\n'
            + _comments(art) + _sidebar(art.lang, popular) + "</main>\n" + _footer(art.lang))


def listing_page(channel: str, base: str, articles: list[Article], popular: list[Article], feed: str | None) -> str:
    """Channel front page: ``ul.article-list`` with ``a.headline`` links, plus a featured box and sidebar."""
    lang = "zh" if channel == "city" else "en"
    alt = ""
    if feed:
        kind = "rss" if feed.endswith(".rss") else "atom"
        alt = (f'<link rel="alternate" type="application/{kind}+xml" title="{escape(_title(channel, lang))}"'
               f' href="{feed}">\n')
    featured = articles[0]
    items = []
    for i, art in enumerate(articles):
        # Vary the href forms a scraper must resolve: root-relative, document-relative, absolute.
        href = [art.path, f"../articles/{art.slug}.html", base + art.path][i % 3]
        items.append(f'<li class="item"><a class="headline" href="{href}">{escape(art.title)}</a>'
                     f'<p class="dek">{escape(art.summary)}</p>'
                     f'<p class="meta"><span class="author">{escape(art.author)}</span> '
                     f'<time datetime="{iso(art.published, art.lang)}">{human_date(art.published, art.lang)}</time> '
                     f'<a class="comments-link" href="{art.path}#comments">💬</a></p></li>')
    return (_head(f"{_title(channel, lang)} | {SITE_NAME}", lang, True, alt) + _header(lang)
            + f'<main class="page">\n<section class="channel"><h1>{escape(_title(channel, lang))}</h1>\n'
            f'<div class="featured"><a class="featured-link" href="{featured.path}"><img src="/static/logo.png" alt=""'
            f' width="200" height="48">{escape(featured.title)}</a></div>\n'
            f'<ul class="article-list">\n' + "\n".join(items) + "\n</ul>\n</section>\n"
            + _sidebar(lang, popular) + "</main>\n" + _footer(lang))


def home_page(by_channel: dict[str, list[Article]], js_article: Article, feeds: dict[str, str]) -> str:
    sections = []
    for channel, arts in by_channel.items():
        items = "".join(f'<li><a href="{a.path}">{escape(a.title)}</a></li>' for a in arts[:5])
        feed = f' <a class="feed" href="{feeds[channel]}">Feed</a>' if channel in feeds else ""
        sections.append(f'<section class="front-channel"><h2><a href="/{channel}/">{escape(_title(channel, "en"))}</a>'
                        f"{feed}</h2><ul>{items}</ul></section>")
    live = (f'<section class="live"><h2>Live</h2><p><a href="{js_article.path}">{escape(js_article.title)}</a></p>'
            "</section>")
    return (_head(f"{SITE_NAME}: news from the bay", "en", True) + _header("en")
            + '<main class="page">\n<div class="front">'
            + "\n".join(sections) + live + "</div>\n</main>\n" + _footer("en"))


def error_page(code: int, message: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{code} {escape(message)}</title></head>"
            f"<body><h1>{code} {escape(message)}</h1><p>{SITE_NAME}: this page is not available.</p></body></html>\n")
