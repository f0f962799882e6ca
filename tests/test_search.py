"""Pagefind over the written HTML edition: one index per edition, CJK-aware, byte-stable, offline.

The browser half (Chinese and English queries through the search UI) is in tests/test_html_browser.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from newsmirror.editions.search import BUNDLE, UNUSED, SearchError, build_search, index_language

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
