"""OpenCC conversion: text, HTML text nodes only (never URLs), edition naming, per-source profiles."""

from __future__ import annotations

import re

import pytest

from newsmirror.config import ConfigError, parse_config
from newsmirror.convert import (ConvertError, article_profile, convert_html, convert_text, converter, edition_dir,
                                edition_language, mirror_profile, source_language, validate)


def test_convert_text_profiles():
    assert convert_text("老城区百年茶馆重新开门迎客", "s2t") == "老城區百年茶館重新開門迎客"
    assert convert_text("軟體和滑鼠", "t2s") == "软体和滑鼠"
    assert convert_text("软件和鼠标", "s2twp") == "軟體和滑鼠"  # phrase-level, Taiwan vocabulary
    assert convert_text("软件", "") == "软件"  # no profile: unchanged
    assert converter("s2t") is converter("s2t.json") or converter("s2t") is converter("s2t")  # cached


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ConvertError) as info:
        converter("s2x")
    assert "s2x" in str(info.value) and "s2t" in str(info.value)


def test_convert_html_touches_text_nodes_only():
    fragment = ('<p>开门<a href="https://example.com/开门/门.html" title="开门">门</a>迎客</p>'
                '<figure><img src="assets/ab/开门.webp" alt="茶馆内景"><figcaption>茶馆</figcaption></figure>'
                '<p>见 <code>http[:]//example[.]com/后台</code> 后</p>')
    out = convert_html(fragment, "s2t")
    assert 'href="https://example.com/开门/门.html"' in out  # byte for byte
    assert "開門" in out and 'title="開門"' in out and 'alt="茶館內景"' in out and "<figcaption>茶館</figcaption>" in out
    assert 'src="assets/ab/开门.webp"' in out  # never a URL
    assert "http[:]//example[.]com/后台" in out  # a neutralised URL (code) stays as it is
    assert out.endswith("後</p>")
    assert re.findall(r'(?:href|src)="[^"]*"', out) == re.findall(r'(?:href|src)="[^"]*"', fragment)


def test_convert_html_odd_markup():
    fragment = '<p title="a > 门">门<br>门<!-- 门 --><pre>门<b>门</b></pre>门</p>'
    assert convert_html(fragment, "s2t") == '<p title="a > 門">門<br>門<!-- 門 --><pre>门<b>门</b></pre>門</p>'


def test_editions_and_languages():
    assert edition_dir("s2t") == "zh-hant" and edition_language("s2t") == "zh-Hant"
    assert edition_dir("s2twp.json") == "zh-hant-tw" and edition_dir("t2s") == "zh-hans"
    assert source_language("s2t") == "zh-Hans" and source_language("tw2s") == "zh-Hant-TW"


CONFIG = """
[editions]
convert = "s2t"
[[sources]]
name = "mainland"
kind = "urls"
channel = "news"
urls = ["https://a.example/1"]
[[sources]]
name = "taiwan"
kind = "urls"
channel = "news"
urls = ["https://tw.example/1"]
convert = "tw2s"
[[sources]]
name = "raw"
kind = "urls"
channel = "raw"
urls = ["https://raw.example/1"]
convert = ""
"""


def test_per_source_profile_overrides_the_mirror():
    config = parse_config(CONFIG)
    assert mirror_profile(config) == "s2t"
    assert article_profile(config, "https://a.example/x", ("news",)) == "s2t"
    assert article_profile(config, "https://tw.example/x", ("news",)) == "tw2s"  # same channel, matched by host
    assert article_profile(config, "https://raw.example/x", ("raw",)) == ""  # "" = not converted
    assert article_profile(config, "https://other.example/x", ("picks",)) == "s2t"
    assert validate(config) == []
    with pytest.raises(ConfigError, match=r"sources\[1\] \(taiwan\)\.convert"):  # refused when the file is read
        parse_config(CONFIG.replace('"tw2s"', '"tw2q"'))


def test_mirror_profile_from_a_source_when_the_mirror_has_none():
    config = parse_config(CONFIG.replace('convert = "s2t"', 'convert = ""'))
    assert mirror_profile(config) == "tw2s"
    assert mirror_profile(parse_config("")) == ""
