"""Publishing that survives: retention with archives, failover links, link variation, commit hygiene, people's own
files, and `watch` (real demo site on 127.0.0.1, real git, real SQLite, real processes)."""

from __future__ import annotations

import posixpath
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsmirror.pipeline import RunRequest, run_once
from newsmirror.errors import PublishError
from newsmirror.publish.commit import GitRepo
from newsmirror.state.store import Store

from conftest import make_config, write_demo_config

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
MD_LINK = re.compile(r"\]\(<?([^)>\s]+)>?\)")
HTML_LINK = re.compile(r'href="([^"]+)"')


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def reachable(root: Path, start: str, pattern: re.Pattern[str]) -> set[str]:
    """Every mirror file reached by following relative links from `start` (query suffixes dropped)."""
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path in seen or not (root / path).is_file():
            continue
        seen.add(path)
        if path.endswith((".md", ".html")):
            for link in pattern.findall((root / path).read_text(encoding="utf-8")):
                if "://" in link or link.startswith(("#", "mailto:", "data:")):
                    continue
                todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), link.split("?")[0])))
    return seen


def with_channels(config, **changes):
    channels = {name: ch.model_copy(update=changes.get(name, {})) for name, ch in config.channels.items()}
    return config.model_copy(update={"channels": channels})


def test_retention_removes_old_pages_keeps_entries_and_nothing_is_orphaned(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path)
    first = run_once(config, request=RunRequest(), now=NOW)
    root = config.output_dir
    science = sorted(p.name for p in (root / "pages" / "science").glob("*.md"))
    assert first.new > 10 and len(science) > 4
    with Store(config.state_path) as store:  # one old page is hot: retention must keep it
        states = [s for s in store.published_articles("science") if s.channel == "science"]
        hot_id = states[-1].id
        store.add_views(f"pages/science/{hot_id}.md", NOW.date().isoformat(), 5)

    config = with_channels(config, science={"keep_newest": 3})
    second = run_once(config, request=RunRequest(), now=NOW)
    kept = sorted(p.stem for p in (root / "pages" / "science").glob("*.md"))
    assert second.removed == len(science) - 4 and len(kept) == 4 and hot_id in kept
    assert not list((root / "site" / "pages" / "science").glob(f"{states[-2].id}.*"))
    log = git(root, "log", "-1", "--format=%B")
    assert f"{second.removed} removed" in log.splitlines()[0] and f"science: {second.removed} removed" in log
    assert git(root, "status", "--porcelain") == ""

    # every retired article is still listed, linking to its original URL, on both editions' indexes
    index_text = "".join(p.read_text() for p in (root / "indexes").glob("science*.md"))
    html_text = "".join(p.read_text() for p in (root / "site" / "indexes").glob("science*.html"))
    for state in states[3:-1]:
        assert f"({state.url}) ↗" in index_text and f'href="{state.url}"' in html_text
    # nothing orphaned: every page in the tree is reachable from the home page of its edition
    md_pages = {str(p.relative_to(root)) for p in (root / "pages").rglob("*.md")}
    assert md_pages <= reachable(root, "README.md", MD_LINK)
    html_pages = {str(p.relative_to(root)) for p in (root / "site" / "pages").rglob("*.html")}
    assert html_pages <= reachable(root, "site/index.html", HTML_LINK)
    # and no page links to a removed page
    for page in md_pages:
        for link in MD_LINK.findall((root / page).read_text()):
            if "://" not in link and link.endswith(".md"):
                assert (root / posixpath.dirname(page) / link.split("?")[0]).resolve().is_file(), (page, link)

    third = run_once(config, request=RunRequest(rebuild=True), now=NOW)  # converged: a rebuild changes nothing
    assert third.publish.commit is None and third.removed == 0


def test_failover_links_and_primary_share_url_follow_the_config(demo_site, tmp_path):
    bases = ["https://a.example/m/", "https://b.example/", "https://c.example/mirror/"]
    config = make_config(demo_site, tmp_path, public_base_urls=bases)
    run_once(config, request=RunRequest(), now=NOW)
    root = config.output_dir
    page = next((root / "pages" / "city").glob("*.md"))
    path = str(page.relative_to(root))
    text = page.read_text()
    assert f"<{bases[0]}{path}>" in text  # share block: the primary
    assert f"[b.example](<{bases[1]}{path}>)" in text and f"[c.example](<{bases[2]}{path}>)" in text
    assert f"(<{bases[1]}README.md>)" in (root / "README.md").read_text()
    html = root / "site" / path.replace(".md", ".html")
    assert f'href="https://b.example/site/{path.replace(".md", ".html")}"' in html.read_text()

    # a new list re-renders every page from state, without the network
    demo_site.set_status("/feeds/science.xml", 500)
    moved = make_config(demo_site, tmp_path, public_base_urls=["https://d.example/"] + bases[1:])
    summary = run_once(moved, request=RunRequest(only=(), rebuild=True), now=NOW)
    assert summary.publish.commit and summary.new == 0
    assert "<https://d.example/" + path + ">" in page.read_text() and "a.example" not in page.read_text()


def test_link_variation_template_is_deterministic(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path, link_variation="?v={id}")
    run_once(config, request=RunRequest(), now=NOW)
    root = config.output_dir
    page = next((root / "pages" / "city").glob("*.md"))
    assert f"../../README.md?v={page.stem})" in page.read_text()
    assert "indexes/city.md?v=home)" in (root / "README.md").read_text()
    again = run_once(config, request=RunRequest(only=(), rebuild=True), now=NOW)
    assert again.publish.commit is None  # same links, same bytes: no churn


def test_peoples_files_and_kept_readme_section_survive_runs(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path)
    run_once(config, request=RunRequest(), now=NOW)
    root = config.output_dir
    (root / "campaign").mkdir()
    (root / "campaign" / "index.md").write_text("# Our campaign\n")
    readme = (root / "README.md").read_text()
    kept = "<!-- newsmirror:keep -->\n## About this mirror\n\nWritten by people.\n<!-- /newsmirror:keep -->"
    (root / "README.md").write_text(readme + "\n" + kept + "\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qm", "our own pages")
    for _ in range(2):
        run_once(config, request=RunRequest(only=(), rebuild=True), now=NOW)
        assert (root / "campaign" / "index.md").read_text() == "# Our campaign\n"
        assert (root / "README.md").read_text().count("Written by people.") == 1
    assert git(root, "status", "--porcelain") == ""


def test_failed_commit_leaves_the_work_tree_clean(demo_site, tmp_path, monkeypatch):
    config = make_config(demo_site, tmp_path)
    run_once(config, request=RunRequest(), now=NOW)
    root = config.output_dir
    (root / "notes.txt").write_text("a person's uncommitted file\n")

    def failing_commit(self, message, paths=()):  # files written and staged, then git fails (disk full, say)
        self.git("add", "-A", "--", *paths)
        raise PublishError(str(self.root), "git commit failed: No space left on device")

    monkeypatch.setattr(GitRepo, "commit_all", failing_commit)
    moved = make_config(demo_site, tmp_path, public_base_urls=["https://e.example/"])
    with pytest.raises(PublishError, match="No space left"):
        run_once(moved, request=RunRequest(only=(), rebuild=True), now=NOW)
    monkeypatch.undo()
    assert git(root, "status", "--porcelain") == "?? notes.txt\n"  # managed paths restored, the person's file kept
    page = next((root / "pages" / "city").glob("*.md"))
    assert "e.example" not in page.read_text()
    summary = run_once(moved, request=RunRequest(only=(), rebuild=True), now=NOW)  # the next run recovers
    assert summary.publish.commit and "https://e.example/pages/city/" in page.read_text()


def test_a_git_init_killed_half_way_is_completed_by_the_next_run(tmp_path):
    """A run killed inside `git init` (tests/test_kill.py lands there on a loaded machine) leaves a .git that git
    does not take for a repository (no objects/ yet) and its config.lock: the next run completes it."""
    root = tmp_path / "mirror"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    for path in sorted((root / ".git" / "objects").rglob("*"), reverse=True):
        path.rmdir()
    (root / ".git" / "objects").rmdir()
    (root / ".git" / "config.lock").write_text("")
    assert subprocess.run(["git", "config", "core.splitIndex", "true"], cwd=root, capture_output=True).returncode
    repo = GitRepo(root)
    repo.ensure()
    (root / "README.md").write_text("mirror\n")
    assert repo.commit_all("first run")
    assert git(root, "symbolic-ref", "HEAD") == "refs/heads/main\n" and git(root, "status", "--porcelain") == ""
    assert git(root, "config", "index.version") == "4\n"
    git(root, "fsck", "--full", "--no-progress")


def test_watch_prints_one_line_per_run_and_stops_on_sigterm(demo_site, tmp_path):
    config_file = write_demo_config(demo_site, tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "newsmirror", "watch", "--every", "1h"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert re.match(r"^\d{4}-\d\d-\d\dT\S+ 42 new, ", first), first
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0 and time.monotonic() - started < 10
    assert "stopped after 1 run(s)" in out and "Traceback" not in err
    assert config_file.exists()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_examples_call_real_commands_with_real_options():
    """Every newsmirror command line in examples/ names a real subcommand and only options it accepts."""
    from click.testing import CliRunner

    from newsmirror.cli import main

    lines = []
    for path in sorted(EXAMPLES.iterdir()):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            for match in re.finditer(r"(?:bin/)?newsmirror ([a-z-]+)((?: --?[a-z-]+(?: [0-9][0-9a-z]*)?)*)", line):
                lines.append((path.name, match.group(1), match.group(2).split()))
    assert {name for name, _, _ in lines} >= {"crontab", "newsmirror.service", "newsmirror-watch.service",
                                              "github-workflow.yml"}
    runner = CliRunner()
    for name, command, args in lines:
        help_text = runner.invoke(main, [command, "--help"]).output
        assert "Usage:" in help_text, (name, command)
        for option in (a for a in args if a.startswith("-")):
            assert option in help_text, (name, command, option)
    crontab = [l for l in (EXAMPLES / "crontab").read_text().splitlines() if l and not l.startswith("#")]
    assert crontab and all(len(l.split()) > 5 for l in crontab)
    timer = (EXAMPLES / "newsmirror.timer").read_text()
    assert "OnUnitActiveSec=30min" in timer and "RandomizedDelaySec" in timer


def test_a_second_run_exits_with_a_clear_message_while_one_holds_the_lock(demo_site, tmp_path):
    import fcntl

    config_file = write_demo_config(demo_site, tmp_path)
    lock_path = tmp_path / "state.db.lock"
    with open(lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `newsmirror run` holds it
        second = subprocess.run([sys.executable, "-m", "newsmirror", "run"], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
    assert second.returncode == 2 and "another newsmirror run holds this mirror's lock" in second.stderr
    assert str(lock_path) in second.stderr and "Traceback" not in second.stderr
    assert not (tmp_path / "mirror").exists()  # nothing written
    # the lock file left behind (as by a killed run) is not a lock: the next run proceeds
    third = subprocess.run([sys.executable, "-m", "newsmirror", "run", "-q"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert config_file.exists()


def test_retention_query_matches_the_policy_by_count_and_by_age(demo_site, tmp_path):
    config = make_config(demo_site, tmp_path)
    run_once(config, request=RunRequest(), now=NOW)
    with Store(config.state_path) as store:
        own = [s for s in store.published_articles("city") if s.channel == "city"]  # newest first
        days = sorted({s.date[:10] for s in own})
        middle = days[len(days) // 2]
        by_count = store.retention_candidates("city", 2, None)
        by_age = store.retention_candidates("city", None, middle)
        either = store.retention_candidates("city", len(own) - 1, middle)
    assert sorted(s.id for s in by_count) == sorted(s.id for s in own[2:])
    assert sorted(s.id for s in by_age) == sorted(s.id for s in own if s.date[:10] < middle) != []
    assert {s.id for s in either} == {s.id for s in by_age} | {own[-1].id}
