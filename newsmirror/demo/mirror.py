"""`newsmirror demo`: serve the sample site on 127.0.0.1, mirror it with a generated config, stop the site.

The site answers on a free loopback port but names itself http://news.demo.test; the config's `fetch.resolve`
sends that host to the port. So article URLs, ids and pages stay the same from one demo run to the next.

The first demo shows two days of the site: a run dated a day ago mirrors it as it was, then the site changes
(`DemoSite.next_day`: one article edited in place, one taken down) and a run dated now re-checks what it
mirrored, so the mirror has a revisions page and a "Removed at the source" list. The sample articles are dated
early 2026, before the periods a run's EPUB digests cover, so the first demo also builds the digests of their weeks,
as `newsmirror bundle --since` would. Later demos see the second day only, with no re-check due yet: nothing new,
no file rewritten, no commit.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from newsmirror.clock import utcnow
from newsmirror.config import parse_config
from newsmirror.demo.content import load_articles
from newsmirror.demo.site import DemoSite, demo_config_text
from newsmirror.editions.offline import BundleRequest, bundle
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import Reporter
from newsmirror.publish.commit import write_atomic
from newsmirror.records import RunSummary

DEMO_HOST = "news.demo.test"


def demo_config_path(directory: Path) -> Path:
    """The demo's config and state sit next to the mirror directory, outside its git work tree."""
    return directory.resolve().with_name(directory.resolve().name + ".toml")


def run_demo(directory: Path, reporter: Reporter | None = None) -> tuple[list[RunSummary], str]:
    """Mirror the demo site into `directory`; returns the runs' summaries (the first demo makes two) and the
    address the site was served on."""
    directory = directory.resolve()
    config_path = demo_config_path(directory)
    with DemoSite(public_host=DEMO_HOST) as site:
        text = demo_config_text(f"http://{DEMO_HOST}", output=directory.name, state=directory.name + ".db",
                                offline=True)
        config = parse_config(text, config_path, config_path.parent)
        # The port changes every run, so it lives only in memory; the file on disk stays byte-identical.
        fetch = config.fetch.model_copy(update={"resolve": {DEMO_HOST: site.base_url.removeprefix("http://")}})
        config = config.model_copy(update={"fetch": fetch})
        if not config_path.exists() or config_path.read_text(encoding="utf-8") != text:
            write_atomic(config_path, text.encode("utf-8"))
        now, summaries = utcnow(), []
        first = not config.state_path.exists()
        if first:  # the day before, then today
            summaries.append(run_once(config, reporter, RunRequest(), now=now - timedelta(days=1)))
        site.next_day()
        summaries.append(run_once(config, reporter, RunRequest(), now=now))
        if first:
            earliest = min(article.published for article in load_articles().values()).date()
            bundle(config, BundleRequest(("epub",), since=earliest), now)
        return summaries, site.base_url
