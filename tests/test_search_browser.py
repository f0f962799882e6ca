"""Chinese search finds what readers type: sampled substrings of the demo mirror, through the search page's own
JavaScript in headless Chromium, in both editions (the benchmark with more queries: benchmarks/search.py).

Truth is what Pagefind itself extracted as each page's text (its fragments), not our own reading of the pages, so
a page whose text the trigram terms miss shows up as a miss here."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import pytest

from newsmirror.editions.cjk_terms import PREFIX, query_terms

from test_html_browser import browser, demo_mirror, open_context  # noqa: F401 (fixtures)

CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
TERM = re.compile(r"\bqj[a-z]{8}\b")
RUN_QUERIES = """async ([bundle, queries]) => {
  const pagefind = await import(bundle + "pagefind.js");
  await pagefind.options({});
  const out = [];
  for (const query of queries) {
    const found = await pagefind.search(await window.newsmirrorSearch.spell(query));
    out.push(found.results.map((r) => r.id));
  }
  return out;
}"""


def page_texts(bundle: Path) -> dict[str, tuple[str, str]]:
    """Result id -> (page path under pages/, the text Pagefind extracted, without its segment marks and our terms)."""
    out = {}
    for path in sorted((bundle / "fragment").iterdir()):
        data = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])
        text = TERM.sub("", data["content"].replace("\u200b", ""))
        out[path.stem] = (data["url"].split("/pages/", 1)[1], text)
    return out


def substrings(texts: list[str], count: int, seed: int) -> list[str]:
    """`count` distinct CJK substrings of 2-4 characters, drawn deterministically."""
    rng, out = random.Random(seed), []
    while len(out) < count:
        runs = [r for r in CJK_RUN.findall(rng.choice(texts)) if len(r) >= 4]
        if runs:
            run = rng.choice(runs)
            length = rng.choice((2, 3, 4))
            at = rng.randrange(len(run) - length + 1)
            if run[at:at + length] not in out:
                out.append(run[at:at + length])
    return out


def ask(page, origin: str, edition: str, queries: list[str], ids: dict) -> list[set[str]]:
    page.goto(f"{origin}/{edition}/search.html", wait_until="load")
    answers = page.evaluate(RUN_QUERIES, [f"/{edition}/pagefind/", queries])
    return [{ids[i][0] for i in answer} for answer in answers]


def recall_precision(answers: list[set[str]], truths: list[set[str]]) -> tuple[float, float]:
    recall = [len(a & t) / len(t) for a, t in zip(answers, truths)]
    precision = [len(a & t) / len(a) for a, t in zip(answers, truths) if a]
    return sum(recall) / len(recall), sum(precision) / len(precision)


@pytest.mark.parametrize("edition", ["site", "site/zh-hant"])
def test_sampled_substrings_are_found_in_both_editions(browser, demo_mirror, edition):  # noqa: F811
    config, served = demo_mirror
    ids = page_texts(config.output_dir / edition / "pagefind")
    texts = {url: text for url, text in ids.values()}
    queries = substrings(sorted(texts.values()), 40, seed=18)
    truths = [{url for url, text in texts.items() if q in text} for q in queries]
    context, recorder = open_context(browser, "phone", served.origin)
    answers = ask(context.new_page(), served.origin, edition, queries, ids)
    recall, precision = recall_precision(answers, truths)
    missed = [q for q, a, t in zip(queries, answers, truths) if not t <= a]
    assert recall >= 0.98 and precision >= 0.95, (recall, precision, missed)
    assert recorder.foreign == []
    context.close()


def test_a_simplified_query_finds_the_traditional_page(browser, demo_mirror):  # noqa: F811
    config, served = demo_mirror
    simplified = page_texts(config.output_dir / "site" / "pagefind")
    traditional = page_texts(config.output_dir / "site" / "zh-hant" / "pagefind")
    texts = {url: text for url, text in simplified.values()}
    queries = substrings(sorted(texts.values()), 20, seed=19)
    truths = [{url for url, text in texts.items() if q in text} for q in queries]  # the twin of each page
    context, _ = open_context(browser, "phone", served.origin)
    answers = ask(context.new_page(), served.origin, "site/zh-hant", queries, traditional)
    recall, precision = recall_precision(answers, truths)
    assert recall >= 0.98 and precision >= 0.95, (recall, precision)
    context.close()


@pytest.mark.parametrize(("edition", "query", "expected"), [
    ("site", "馆门前", "old-town-teahouse"),  # across a word boundary: 茶馆 | 门前
    ("site/zh-hant", "茶馆", "old-town-teahouse"),  # Simplified, typed on the Traditional edition
    ("site", "ferry", "harbour-ferry-timetable"),
])
def test_search_box_shows_the_page_and_where_it_matched(browser, demo_mirror, edition, query, expected):  # noqa: F811
    _, served = demo_mirror
    context, recorder = open_context(browser, "phone", served.origin)
    page = context.new_page()
    page.goto(served.url(f"{edition}/search.html"), wait_until="load")
    page.locator(".pagefind-ui__search-input").fill(query)
    link = page.locator(f'.pagefind-ui__result-link[href$="/{expected}.html"]')
    link.wait_for(timeout=15_000)
    assert link.get_attribute("href").startswith(f"/{edition}/pages/")
    excerpt = page.locator(".pagefind-ui__result", has=link).locator(".pagefind-ui__result-excerpt").inner_html()
    assert "<mark>" in excerpt and PREFIX not in excerpt, excerpt
    assert page.goto(served.origin + link.get_attribute("href")).status == 200
    assert recorder.foreign == []
    context.close()


def test_search_js_spells_queries_as_the_index_does(browser, demo_mirror):  # noqa: F811
    """The browser's spelling of a query equals the index's terms for the same characters (astral ones too)."""
    _, served = demo_mirror
    page = browser.new_page()
    page.goto(served.url("site/search.html"), wait_until="load")
    for query in ("茶馆", "图书馆开门", "图书馆开门图书馆", "𠀀𠀁中", "3D打印 機場", "書", "a 书 茶"):
        spelled = page.evaluate("(q) => window.newsmirrorSearch.spell(q)", query).split()
        assert spelled == query_terms(query), query
    page.close()
