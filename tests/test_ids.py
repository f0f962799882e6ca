from hypothesis import given, strategies as st

from newsmirror.ids import article_id, canonical_url, disambiguate


def test_canonical_url_drops_tracking_fragment_default_port():
    assert canonical_url("HTTPS://News.Example.org:443/a/b.html?utm_source=x&id=3#top") == \
        "https://news.example.org/a/b.html?id=3"
    assert canonical_url("http://example.org") == "http://example.org/"
    assert canonical_url("http://example.org:8080/x") == "http://example.org:8080/x"


def test_id_from_pattern_group_is_sanitised():
    assert article_id("https://n.example/articles/2026/rain-ahead.html", r"/articles/\d+/([^/]+)\.html") == "rain-ahead"
    assert article_id("https://n.example/a/中文 标题.html", r"/a/(.+)\.html") not in {"", ".", ".."}


def test_id_falls_back_to_stable_hash():
    first = article_id("https://n.example/x?id=1", r"/nomatch/(\d+)")
    assert first == article_id("https://n.example/x?id=1&utm_medium=rss")
    assert len(first) == 12 and first.isalnum()
    assert first != article_id("https://n.example/x?id=2")


def test_disambiguate_is_stable_and_distinct():
    assert disambiguate("rain", "https://a.example/rain") == disambiguate("rain", "https://a.example/rain")
    assert disambiguate("rain", "https://a.example/rain") != disambiguate("rain", "https://b.example/rain")


@given(st.text(min_size=1, max_size=60))
def test_ids_are_safe_file_names(tail):
    article = article_id("https://n.example/p/" + tail, r"/p/(.*)")
    assert article and "/" not in article and article not in {".", ".."}
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in article)
