"""`newsmirror demo`: serve the sample site on 127.0.0.1, mirror it with a generated config, stop the site.

The site answers on a free loopback port but names itself http://news.demo.test; the config's `fetch.resolve`
sends that host to the port. So article URLs, ids and pages stay the same from one demo run to the next, and a
second run finds nothing new: no file is rewritten and no commit is made.
"""

from __future__ import annotations

from pathlib import Path

from newsmirror.config import parse_config
from newsmirror.demo.site import DemoSite, demo_config_text
from newsmirror.pipeline import RunRequest, run_once
from newsmirror.progress import Reporter
from newsmirror.publish.commit import write_atomic
from newsmirror.records import RunSummary

DEMO_HOST = "news.demo.test"


def demo_config_path(directory: Path) -> Path:
    """The demo's config and state sit next to the mirror directory, outside its git work tree."""
    return directory.resolve().with_name(directory.resolve().name + ".toml")


def run_demo(directory: Path, reporter: Reporter | None = None) -> tuple[RunSummary, str]:
    """Mirror the demo site into `directory`; returns the run summary and the address the site was served on."""
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
        summary = run_once(config, reporter, RunRequest())
        return summary, site.base_url
