"""The commented newsmirror config that mirrors the demo site (shown to users by ``newsmirror demo``)."""

from __future__ import annotations

import json


def _q(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def demo_config_text(base_url: str, output: str = "demo-mirror", state: str = "demo-mirror.db",
                     offline: bool = False) -> str:
    """A TOML config for the demo site at ``base_url``; ``output`` and ``state`` are relative to the file;
    ``offline``: the offline editions (EPUB digests, ZIM) enabled, as `newsmirror demo` has them."""
    enabled = "true" if offline else "false"
    base = base_url.rstrip("/")
    return f"""\
# newsmirror configuration for the bundled demo site ({base}).
# Every key is optional unless marked "required"; paths are relative to this file.

[mirror]
title = "Demo News Mirror"            # shown on the mirror's home page
description = "A mirror of the Harbour Light demo site, made by newsmirror."
language = "en"
output = {_q(output)}                 # git work tree that receives the Markdown pages
state = {_q(state)}                   # SQLite file remembering what was fetched
# Where readers find the mirror, in order: the first is used for the share link and QR code; every page links to
# the same page on the others, so a reader whose host is blocked can switch.
public_base_urls = ["https://git.example.org/demo/mirror/src/branch/main/",
                    "https://backup.example.net/demo-mirror/-/blob/main/"]
# html_public_base_urls under [editions] would give the HTML edition its own addresses (a static host).
# counter_pixel = "https://counter.example.org/p/{{path}}"   # optional view counter, {{path}} = page path
link_variation = false                # e.g. "?{{id}}": a suffix on links between mirror pages (dodges URL blocklists)
in_body_links = "keep"                # links inside articles: keep | text | neutralise
index_page_size = 30                  # articles per channel index page
home_per_channel = 5                  # latest articles per channel on the home page
promo_markdown = "This page is a **mirror** of the demo site."   # shown on every article page

# Words the mirror prints on its own pages: this is configuration, not content, so use any language.
[labels]
home = "首页"
hot = "热点推荐"
original = "原文地址"
share = "分享本页"
channels = "频道"
newer = "较新"
older = "较早"
hot_empty = "暂无阅读数据：读者打开页面后，这里会自动出现热门文章。"
updated = "更新于"
more = "更多"
mirrors = "其他镜像"
removed = "原文已被原网站删除于"
edited = "原网站修改于"
versions = "个版本"
revisions = "修改记录"
version = "版本"
unchanged = "段未改动"
removed_list = "已被原网站删除"

# Which editions to write: Markdown pages for git hosts, and a static HTML site in site/ with search and feeds.
# `convert` adds a second HTML edition converted by OpenCC (s2t: Simplified -> Traditional) under site/zh-hant/.
[editions]
markdown = true
html = true
convert = "s2t"

# Offline editions in site/offline/, built by the first run of each day: EPUB digests (the whole mirror and each
# channel) listed in an OPDS catalogue, and a ZIM file of the HTML edition for Kiwix. Never in the Markdown branch.
[editions.epub]
enabled = {enabled}
period = "weekly"                     # or "daily" (the default)
keep = 7                              # periods kept

[editions.zim]
enabled = {enabled}
every = "daily"
keep = 7

# Extra links in the mirror's menu.
[[menu]]
label = "About this mirror"
url = "https://example.org/about"

# How politely to fetch.
[fetch]
timeout = 10                          # seconds per request
per_host_concurrency = 4
delay = 0.0                           # seconds between requests to one host
retries = 1                           # retries after a failed request
backoff = 0.2                         # first retry delay in seconds; doubles each retry

# Channel titles (the key is the channel name used by sources below).
[channels.science]
title = "Science & Technology"
description = "Weather, space, oceans and the tools we build."

[channels.city]
title = "城市生活"
description = "City life, culture and food, mostly in Chinese."

[channels.sports]
title = "Sports"

# Where articles come from. The id pattern turns an article URL into a stable id (first group).

[[sources]]
name = "science-rss"                  # required, unique
kind = "feed"                         # an RSS 2.0 feed
channel = "science"
url = {_q(base + "/feeds/science.rss")}
id_pattern = '/articles/([a-z0-9-]+)\\.html'

[[sources]]
name = "city-atom"
kind = "feed"                         # feeds may be RSS or Atom
channel = "city"
url = {_q(base + "/feeds/city.atom")}
id_pattern = '/articles/([a-z0-9-]+)\\.html'

[[sources]]
name = "sports-listing"
kind = "listing"                      # no feed: read the channel page's HTML
channel = "sports"
url = {_q(base + "/sports/")}
link_selector = "ul.article-list a.headline"   # CSS selector of article links (not nav or sidebar)
id_pattern = '/articles/([a-z0-9-]+)\\.html'
"""
