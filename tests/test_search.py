"""Pagefind over the written HTML edition: one index per edition, CJK-aware, byte-stable, offline.

The browser half (Chinese and English queries through the search UI) is in tests/test_html_browser.py."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from newsmirror.editions.cjk_terms import (END, MARK, PREFIX, bigram_terms, code, hidden_terms, page_text, query_fold,
                                           query_terms, trigram_terms, with_terms, without_terms)
from newsmirror.editions.search import (BUNDLE, SPELLING, UNUSED, SearchError, build_index, build_search,
                                        index_language)

from test_render_html import synthetic_site


def digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("search") / "mirror"
    config, _ = synthetic_site(root)
    build_search(root / "site", config)
    return config, root


def test_one_bundle_per_edition(built):
    _, root = built
    for edition in (root / "site", root / "site" / "zh-hant"):
        bundle = edition / BUNDLE
        assert (bundle / "pagefind-ui.js").is_file() and (bundle / "pagefind-entry.json").is_file()
        assert list(bundle.glob("*.pf_meta")) and list((bundle / "fragment").iterdir())
        assert not any((bundle / name).exists() for name in UNUSED)
    # the original edition indexes its own pages only, not the converted twin's
    fragments = len(list((root / "site" / BUNDLE / "fragment").iterdir()))
    assert fragments == len(list((root / "site" / "pages").rglob("*.html")))


def test_index_language_is_cjk_when_pages_are(built):
    _, root = built
    assert index_language(root / "site", "en") == "zh"
    assert '"zh' in (root / "site" / BUNDLE / "pagefind-entry.json").read_text()


def test_rebuild_is_byte_identical_and_drops_stale_files(built):
    config, root = built
    before = digest_tree(root / "site")
    stale = root / "site" / BUNDLE / "fragment" / "stale.pf_fragment"
    stale.write_bytes(b"x")
    build_search(root / "site", config)
    assert digest_tree(root / "site") == before


def test_no_pages_no_index_and_search_off(tmp_path, built):
    config, _ = built
    (tmp_path / "site").mkdir()
    build_search(tmp_path / "site", config)  # an empty mirror: nothing to index, no error
    assert not (tmp_path / "site" / BUNDLE).exists()
    off = config.model_copy(update={"editions": config.editions.model_copy(update={"search": False})})
    (tmp_path / "site" / "pages" / "a").mkdir(parents=True)
    (tmp_path / "site" / "pages" / "a" / "b.html").write_text("<html lang='en'><body><p>x</p></body></html>")
    build_search(tmp_path / "site", off)
    assert not (tmp_path / "site" / BUNDLE).exists()


def test_pagefind_failure_is_an_error(tmp_path, built, monkeypatch):
    config, _ = built
    (tmp_path / "site" / "pages" / "a").mkdir(parents=True)
    (tmp_path / "site" / "pages" / "a" / "b.html").write_text("<html lang='en'><body><p>x</p></body></html>")
    monkeypatch.setattr("newsmirror.editions.search.PAGES_GLOB", "pages/**/*.html")
    monkeypatch.setattr("newsmirror.editions.search.sys.executable", str(tmp_path / "no-such-python"))
    with pytest.raises(SearchError) as info:
        build_search(tmp_path / "site", config)
    assert "pagefind" in str(info.value)


# CJK trigram terms (newsmirror/editions/cjk_terms.py); the browser half is tests/test_search_browser.py


def spelled(*triples: str) -> list[str]:
    return [PREFIX + "".join(code(c) if c != "$" else END for c in triple) for triple in triples]


def test_bigram_and_trigram_terms_cover_each_run_once():
    assert bigram_terms("茶馆门前，茶馆。Tea 书") == spelled("茶馆", "馆门", "门前", "前$", "馆$", "书$")  # $: END
    assert trigram_terms("茶馆门前，茶馆。Tea 书") == spelled("茶馆门", "馆门前")
    assert all(re.fullmatch(r"qj[a-z]{8}", t) for t in bigram_terms("茶馆门前"))
    assert all(re.fullmatch(r"qj[a-z]{12}", t) for t in trigram_terms("茶馆门前"))
    assert bigram_terms("no Chinese here") == trigram_terms("no Chinese here") == []


def test_query_spelling():
    assert query_terms("图书馆开") == spelled("图书馆", "书馆开")  # 3+ characters: their trigrams
    assert query_terms("3D 打印") == ["3D", *spelled("打印")]  # Pagefind lowercases the word itself
    assert query_terms("书 茶馆") == [PREFIX + code("书"), *spelled("茶馆")]  # 1 character: a prefix of bigrams


def test_traditional_and_simplified_fold_to_the_same_terms():
    assert trigram_terms("茶館圖書館") == trigram_terms("茶馆图书馆")
    assert query_terms("圖書館") == query_terms("图书馆")
    assert code("𠀀") != code("一") and len(code("\U0003134a")) == 4


def test_page_text_reads_what_pagefind_indexes():
    html = ('<html><body><nav>菜单</nav><article data-pagefind-body><h1>标题</h1><p class="mu" '
            'data-pagefind-ignore>作者</p><p>正文<b>加粗</b>内容</p><figure><img alt="图片说明"></figure>'
            '</article></body></html>')
    text = page_text(html)
    assert "正文加粗内容" in text and "图片说明" in text
    assert "作者" not in text and "菜单" not in text and "标题正文" not in text  # a block boundary ends a run
    marked = with_terms(html, hidden_terms(text))
    assert marked.index("<div hidden") < marked.index("</article>")
    assert page_text(marked).count(PREFIX) == len(hidden_terms(text))  # the terms are indexed text


def test_latin_words_against_chinese_are_hidden_terms_too():
    chinese = "用 打印机和 网络"
    assert hidden_terms("用3D打印机和5G网络, an AI model") == [MARK, "3d", "5g", *bigram_terms(chinese),
                                                           *trigram_terms(chinese)]
    assert hidden_terms("English only 3D") == []


def test_fragments_keep_the_page_text_without_the_terms(built):
    _, root = built
    for fragment in (root / "site" / BUNDLE / "fragment").iterdir():
        raw = fragment.read_bytes()
        content = json.loads(gzip.decompress(raw)[len(b"pagefind_dcd"):])["content"]
        assert PREFIX not in content and content.strip(), content
        assert without_terms(raw) == raw  # nothing left to cut


def test_spelling_file_folds_only_into_characters_the_pages_have(built):
    _, root = built
    for edition in (root / "site", root / "site" / "zh-hant"):
        spelling = json.loads((edition / BUNDLE / SPELLING).read_text("utf-8"))
        assert spelling["prefix"] == PREFIX and len(spelling["from"]) == len(spelling["to"]) > 0
    spelling = json.loads(query_fold("馆"))
    assert "館" in spelling["from"] and set(spelling["to"]) == {"馆"}  # 舘 and compatibility forms too


def test_an_index_without_cjk_pages_has_no_spelling(tmp_path):
    (tmp_path / "site" / "pages" / "a").mkdir(parents=True)
    (tmp_path / "site" / "pages" / "a" / "b.html").write_text(
        "<html lang='en'><body><article data-pagefind-body><p>harbour ferry</p></article></body></html>")
    build_index(tmp_path / "site", tmp_path / "out", "en")
    assert (tmp_path / "out" / "pagefind-entry.json").is_file() and not (tmp_path / "out" / SPELLING).exists()
