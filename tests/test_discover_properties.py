"""Property tests: whatever a feed, sitemap or listing holds, discovery returns candidates and per-item failures,
never an exception, and every candidate is fetchable (its URL passes the one URL rule, its dates are ISO 8601
UTC or absent, its title is text or absent)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmirror.config import Source
from newsmirror.sources.discover import DiscoverError, iso_date, parse_feed, parse_listing, parse_sitemap
from newsmirror.ids import article_id, canonical_url, url_problem

PROFILE = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FEED = "https://n.example/feed"
SOURCE = Source(name="s", kind="feed", channel="news", url=FEED, link_selector="a")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
years = st.integers(min_value=-10, max_value=99999)
offsets = st.integers(min_value=-24 * 60, max_value=24 * 60)


@st.composite
def date_strings(draw) -> str:
    """Dates of any year and offset in the shapes feeds use, plus any text at all."""
    year, month, day = draw(years), draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute = draw(st.integers(0, 25)), draw(st.integers(0, 61))
    offset = draw(offsets)
    zone = "Z" if offset == 0 else f"{'+' if offset > 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    shapes = [f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{zone}", f"{year:04d}-{month:02d}-{day:02d}",
              f"Mon, {day:02d} Mar {year} {hour:02d}:{minute:02d}:00 {zone.replace(':', '')}"]
    return draw(st.sampled_from(shapes) | st.text(max_size=30))


url_parts = st.sampled_from(["http://", "https://", "ftp://", "javascript:", "//", "", "http://[::1]", "HTTP://"])
hosts = st.sampled_from(["n.example", "127.0.0.1", "例子.测试", "xn--", "a b", "[::1", "-a-", "n.example:99999",
                         "n.example:0", "n.example:8080", "user@n.example", ""]) | st.text(max_size=12)
paths = st.text(max_size=20)


@st.composite
def urls(draw) -> str:
    return draw(url_parts) + draw(hosts) + "/" + draw(paths) if draw(st.booleans()) else draw(st.text(max_size=40))


def check(found) -> None:
    for candidate in found.candidates:
        assert url_problem(candidate.url) is None, candidate.url
        canonical_url(candidate.url)
        article_id(candidate.url, r"/(\w+)")
        for value in (candidate.published, candidate.updated):
            assert value is None or ISO.match(value), value
        assert candidate.title is None or isinstance(candidate.title, str)
        assert candidate.source_version is None or isinstance(candidate.source_version, str)
        hash(candidate)  # records are hashable: they are de-duplicated and keyed later
    for failure in found.failures:
        assert isinstance(failure, DiscoverError) and "\n" not in str(failure)


@PROFILE
@given(st.lists(st.dictionaries(st.sampled_from(["url", "external_url", "title", "date_published", "date_modified",
                                                 "id"]), json_values | urls() | date_strings(), max_size=6),
                max_size=4))
def test_json_feed_fields_of_any_type(items):
    try:
        found = parse_feed(json.dumps({"version": "1.1", "items": items}).encode(), SOURCE, FEED)
    except DiscoverError:
        return  # no usable item at all: one error for the source
    check(found)


@PROFILE
@given(st.lists(st.tuples(urls(), date_strings(), st.text(max_size=20)), min_size=1, max_size=4),
       st.sampled_from(["rss", "atom"]))
def test_rss_and_atom_with_any_link_and_date(entries, kind):
    if kind == "rss":
        items = "".join(f"<item><title>{escape(t)}</title><link>{escape(u)}</link><pubDate>{escape(d)}</pubDate>"
                        f"</item>" for u, d, t in entries)
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    else:
        items = "".join(f"<entry><title>{escape(t)}</title><id>urn:{n}</id><link href={quoteattr(u)}/>"
                        f"<updated>{escape(d)}</updated></entry>" for n, (u, d, t) in enumerate(entries))
        body = f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>{items}</feed>'
    try:
        found = parse_feed(body.encode("utf-8", "surrogatepass"), SOURCE, FEED, "application/xml")
    except DiscoverError:
        return
    check(found)


@PROFILE
@given(st.lists(st.tuples(urls(), date_strings()), min_size=1, max_size=4))
def test_sitemaps_with_any_loc_and_date(entries):
    rows = "".join(f"<url><loc>{escape(u)}</loc><lastmod>{escape(d)}</lastmod></url>" for u, d in entries)
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'
    try:
        found = parse_sitemap(body.encode("utf-8", "surrogatepass"), SOURCE, FEED)
    except DiscoverError:
        return
    check(found)


@PROFILE
@given(st.lists(urls(), min_size=1, max_size=5))
def test_listing_links_of_any_shape(hrefs):
    html = "".join(f"<a href={quoteattr(h)}>{escape(h)}</a>" for h in hrefs)
    try:
        found = parse_listing(f"<html><body>{html}</body></html>", SOURCE, "https://n.example/list/")
    except DiscoverError:
        return
    check(found)


@PROFILE
@given(date_strings() | json_values)
def test_any_date_is_iso_utc_or_unknown(value):
    result = iso_date(value)
    assert result is None or (ISO.match(result) and datetime.strptime(result, "%Y-%m-%dT%H:%M:%SZ")
                              .replace(tzinfo=timezone.utc).year < 9999)


@PROFILE
@given(urls() | st.text())
def test_the_url_rule_and_canonical_form_never_raise(url):
    problem = url_problem(url)
    assert problem is None or isinstance(problem, str)
    canonical_url(url)
