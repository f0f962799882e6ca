from datetime import datetime, timezone

from newsmirror.run.plan import PlanOptions, merge_candidates, plan, retry_delay
from newsmirror.records import ArticleState, Candidate

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
OPTIONS = PlanOptions(id_patterns={"feed": r"/a/(\w+)\.html"}, max_attempts=3, retry_base_minutes=30)


def state(url, id_, status="ok", channels=("world",), version="v1", attempts=0, next_retry=None):
    return ArticleState(id=id_, url=url, channel=channels[0], channels=channels, title="t", published=None,
                        status=status, attempts=attempts, next_retry=next_retry, source_version=version,
                        content_hash="h", first_seen="2026-01-01T00:00:00+00:00")


def cand(url, channel="world", version="v1", source="feed"):
    return Candidate(url=url, channel=channel, source=source, source_version=version)


def test_new_article_gets_id_from_pattern():
    result = plan([cand("https://n.example/a/rain.html")], {}, [], NOW, OPTIONS)
    assert [(t.article_id, t.reason, t.channels) for t in result.tasks] == [("rain", "new", ("world",))]


def test_same_article_in_two_channels_is_fetched_once_and_listed_in_both():
    cands = [cand("https://n.example/a/rain.html"), cand("https://n.example/a/rain.html?utm_source=x", "city")]
    result = plan(cands, {}, [], NOW, OPTIONS)
    assert len(result.tasks) == 1 and result.tasks[0].channels == ("world", "city")


def test_known_unchanged_changed_and_new_channel():
    known = {"https://n.example/a/one.html": state("https://n.example/a/one.html", "one"),
             "https://n.example/a/two.html": state("https://n.example/a/two.html", "two"),
             "https://n.example/a/three.html": state("https://n.example/a/three.html", "three")}
    cands = [cand("https://n.example/a/one.html"), cand("https://n.example/a/two.html", version="v2"),
             cand("https://n.example/a/three.html", channel="city")]
    result = plan(cands, known, [], NOW, OPTIONS)
    assert [(t.article_id, t.reason) for t in result.tasks] == [("two", "changed")]
    assert result.new_channels == (("three", ("city",)),)
    assert result.unchanged == ("one",)


def test_failed_article_retried_only_when_back_off_expired():
    due = state("https://n.example/a/x.html", "x", status="failed", attempts=1,
                next_retry="2026-11-26T11:00:00+00:00")
    later = state("https://n.example/a/y.html", "y", status="failed", attempts=1,
                  next_retry="2026-11-26T13:00:00+00:00")
    exhausted = state("https://n.example/a/z.html", "z", status="failed", attempts=3)
    result = plan([], {}, [due, later, exhausted], NOW, OPTIONS)
    assert [(t.article_id, t.reason) for t in result.tasks] == [("x", "retry")]


def test_new_id_never_takes_an_id_owned_by_another_url():
    result = plan([cand("https://other.example/a/rain.html")], {}, [], NOW, OPTIONS,
                  ids_in_use={"rain": "https://n.example/a/rain.html"})
    assert result.tasks[0].article_id.startswith("rain-") and result.tasks[0].article_id != "rain"


def test_force_fetches_known_articles():
    known = {"https://n.example/a/one.html": state("https://n.example/a/one.html", "one")}
    result = plan([cand("https://n.example/a/one.html", channel="picks")], known, [], NOW, OPTIONS, force=True)
    assert result.tasks[0].reason == "manual" and result.tasks[0].channels == ("world", "picks")


def test_retry_delay_doubles_and_caps():
    assert [retry_delay(n, 30).total_seconds() / 60 for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(30, 30).total_seconds() == 24 * 3600


def test_merge_keeps_first_seen_order():
    merged = merge_candidates([cand("https://n.example/b"), cand("https://n.example/a")])
    assert list(merged) == ["https://n.example/b", "https://n.example/a"]
