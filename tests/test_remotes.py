"""Pushing to real git servers on 127.0.0.1: git daemon, dulwich smart HTTP, file://; a remote that is down, one
that rejects, wrong credentials, not a repository, a stalled server, host edits (rebase or conflict), the HTML
edition branch and `compact`."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from gitservers import GitDaemon, SmartHTTP, bare_repo, branch_tip, free_port, reserved_port
from newsmirror.config import Config, parse_config
from newsmirror.publish.commit import GitRepo
from newsmirror.publish.remote_status import remote_statuses
from newsmirror.publish.remotes import HTML_REF, compact, push_all
from newsmirror.state.store import Store


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_config(tmp: Path, *remotes: dict) -> Config:
    lines = ['[mirror]', 'output = "mirror"', 'state = "state.db"']
    for remote in remotes:
        lines.append("[[remotes]]")
        lines += [f"{k} = {v!r}".replace("True", "true").replace("False", "false") if not isinstance(v, str)
                  else f'{k} = "{v}"' for k, v in remote.items()]
    return parse_config("\n".join(lines) + "\n", tmp / "newsmirror.toml", tmp)


def commit(config: Config, files: dict[str, str], message: str = "run") -> str:
    repo = GitRepo(config.output_dir)
    repo.ensure()
    for path, text in files.items():
        target = config.output_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return repo.commit_all(message)


def push(config: Config, **kwargs):
    with Store(config.state_path) as store:
        return {r.remote: r for r in push_all(config, store, **kwargs)}


def host_edit(tmp: Path, url: str, files: dict[str, str], branch: str = "main") -> str:
    """Someone edits the branch on the host: clone, change, push."""
    work = tmp / f"host-{time.monotonic_ns()}"
    subprocess.run(["git", "clone", "-q", "-b", branch, url, str(work)], check=True)
    for path, text in files.items():
        (work / path).write_text(text)
    git(work, "add", "-A")
    git(work, "-c", "user.name=Host", "-c", "user.email=host@example.org", "commit", "-q", "-m", "edited on the host")
    git(work, "push", "-q", "origin", branch)
    return git(work, "rev-parse", "HEAD")


def test_every_remote_gets_the_run_and_a_down_one_gets_its_backlog_when_back(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    for name in ("d.git", "h.git", "f.git", "late.git"):
        bare_repo(srv / name)
    bare_repo(srv / "closed.git", reject="this mirror is closed")
    with reserved_port() as down_port, GitDaemon(srv) as daemon, SmartHTTP(srv) as http:
        config = make_config(
            tmp_path,
            {"name": "daemon", "url": daemon.url("d.git")},
            {"name": "http", "url": http.url("h.git")},
            {"name": "local", "url": f"file://{srv}/f.git"},
            {"name": "down", "url": f"http://127.0.0.1:{down_port}/late.git", "retries": 1, "backoff": 0.01},
            {"name": "rejects", "url": daemon.url("closed.git")},
        )
        first = commit(config, {"README.md": "one\n"})
        results = push(config)
        for name, repo in (("daemon", "d.git"), ("http", "h.git"), ("local", "f.git")):
            assert results[name].ok and branch_tip(srv / repo, "main") == first, results[name]
        assert not results["down"].ok and results["down"].error.startswith("unreachable:")
        assert "Failed to connect" in results["down"].line()
        assert results["rejects"].error == \
            "rejected by the remote: pre-receive hook declined (remote: this mirror is closed)"
        assert results["rejects"].line().startswith(f"PUSH FAILED rejects {daemon.url('closed.git')}: rejected")
        assert branch_tip(srv / "closed.git", "main") is None

        second = commit(config, {"README.md": "two\n"})
        results = push(config)
        assert all(results[n].ok and results[n].commits == 1 for n in ("daemon", "http", "local"))
        assert results["down"].commits == 2 and "backlog kept: 2 commit(s)" in results["down"].line()
        with Store(config.state_path) as store:
            status = {s.remote.name: s for s in remote_statuses(config, store)}
        assert status["daemon"].behind == 0 and status["daemon"].pushed == second
        assert status["down"].behind == 2 and status["down"].pushed is None and "Failed to connect" in status["down"].last_error

        with SmartHTTP(srv, port=down_port):  # the remote comes back: `newsmirror push` delivers the backlog
            back = push(config)
        assert back["down"].ok and back["down"].commits == 2 and branch_tip(srv / "late.git", "main") == second
        assert git(srv / "late.git", "rev-list", "--count", "main") == "2"
        assert back["daemon"].ok and back["daemon"].commits == 0  # up to date: not pushed again
        with Store(config.state_path) as store:
            status = {s.remote.name: s for s in remote_statuses(config, store)}
        assert status["down"].behind == 0 and status["down"].last_error is None
        assert status["rejects"].behind == 2


def test_wrong_credentials_and_urls_that_are_no_repository_fail_at_once(tmp_path, monkeypatch):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "private.git")
    (tmp_path / "plain").mkdir()
    with SmartHTTP(srv, auth=("mirror", "s3cret")) as http, SmartHTTP(srv) as open_http:
        config = make_config(
            tmp_path,
            {"name": "badauth", "url": http.url("private.git", "mirror", "wrong")},
            {"name": "missing", "url": open_http.url("nothing-here.git")},
            {"name": "plain", "url": f"file://{tmp_path}/plain"},
        )
        commit(config, {"README.md": "one\n"})
        slept: list[float] = []
        results = push(config, sleep=slept.append)
        assert slept == []  # none of these is worth retrying
        assert results["badauth"].error.startswith("authentication failed")
        assert "wrong" not in results["badauth"].line() and results["badauth"].url == http.url("private.git")
        assert results["missing"].error.startswith("not a git repository")
        assert results["plain"].error.startswith("not a git repository") and "does not appear" in results["plain"].error
        with Store(config.state_path) as store:
            assert "wrong" not in (store.remote_state("badauth")["target"] + store.remote_state("badauth")["last_error"])

        # the token from the environment, not the config file; it reaches git through its environment, never on a
        # command line (`ps` shows those to every user): a `git` on PATH logs every command line it runs
        monkeypatch.setenv("MIRROR_TOKEN", "s3cr&t/?")
        logged = tmp_path / "argv.log"
        shim = tmp_path / "shim"
        shim.mkdir()
        (shim / "git").write_text(f'#!/bin/sh\necho "$0 $*" >> {logged}\nexec {shutil.which("git")} "$@"\n')
        (shim / "git").chmod(0o755)
        monkeypatch.setenv("PATH", f"{shim}:{os.environ['PATH']}")
        with SmartHTTP(srv, auth=("mirror", "s3cr&t/?")) as strict:
            fixed = make_config(tmp_path, {"name": "badauth", "url": strict.url("private.git", "mirror", "${MIRROR_TOKEN}")})
            assert push(fixed)["badauth"].ok and branch_tip(srv / "private.git", "main") is not None
        assert "push" in logged.read_text() and "s3cr" not in logged.read_text()


def test_transient_failures_retry_with_back_off_and_a_stalled_server_times_out(tmp_path):
    with reserved_port() as port, socket.socket() as stalled:  # the stalled one accepts connections, never answers
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        config = make_config(
            tmp_path,
            {"name": "down", "url": f"git://127.0.0.1:{port}/x.git", "retries": 2, "backoff": 0.5},
            {"name": "stalled", "url": f"git://127.0.0.1:{stalled.getsockname()[1]}/x.git", "retries": 0,
             "timeout": 1.0},
        )
        commit(config, {"README.md": "one\n"})
        slept: list[float] = []
        started = time.monotonic()
        results = push(config, sleep=slept.append)
        assert time.monotonic() - started < 8
    assert slept == [0.5, 1.0]  # two retries of the unreachable one, doubling
    assert results["down"].error.startswith("unreachable")
    assert results["stalled"].error == "git push timed out after 1s"


def test_host_edits_are_kept_and_the_backlog_rebased_on_top(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "m.git")
    with GitDaemon(srv) as daemon:
        config = make_config(tmp_path, {"name": "host", "url": daemon.url("m.git")})
        commit(config, {"README.md": "title\n\nmirror part\n\nfooter\n", "pages/a.md": "a1\n"})
        assert push(config)["host"].ok
        host_edit(tmp_path, daemon.url("m.git"), {"campaign.md": "our campaign\n",
                                                 "README.md": "title\n\nmirror part\n\nfooter, edited by hand\n"})
        local = commit(config, {"README.md": "title\n\nmirror part, run 2\n\nfooter\n", "pages/a.md": "a2\n"},
                       "run 2")
        result = push(config)["host"]
        assert result.ok and result.rebased, result
        remote = srv / "m.git"
        assert git(remote, "show", "main:campaign.md") == "our campaign"
        assert git(remote, "show", "main:README.md") == "title\n\nmirror part, run 2\n\nfooter, edited by hand"
        assert git(remote, "show", "main:pages/a.md") == "a2"
        assert git(remote, "log", "-1", "--format=%s", "main") == "run 2"
        assert git(remote, "log", "-1", "--format=%s", "main~1") == "edited on the host"
        # the work tree is not touched: no campaign page locally, HEAD is the mirror's own commit
        assert not (config.output_dir / "campaign.md").exists() and git(config.output_dir, "rev-parse", "HEAD") == local
        assert git(config.output_dir, "status", "--porcelain") == ""

        commit(config, {"pages/b.md": "b\n"}, "run 3")  # later runs keep building on the host's branch
        again = push(config)["host"]
        assert again.ok and again.commits == 1
        assert git(remote, "show", "main:campaign.md") == "our campaign" and git(remote, "show", "main:pages/b.md") == "b"


def test_a_conflicting_host_edit_is_reported_and_the_backlog_kept(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "m.git")
    config = make_config(tmp_path, {"name": "host", "url": f"file://{srv}/m.git"})
    commit(config, {"README.md": "mirror\n"})
    push(config)
    edited = host_edit(tmp_path, f"file://{srv}/m.git", {"README.md": "rewritten by hand\n"})
    commit(config, {"README.md": "mirror, run 2\n"})
    result = push(config)["host"]
    assert not result.ok and result.commits == 1
    assert result.error == "the mirror's commits conflict with the remote's in README.md"
    assert branch_tip(srv / "m.git", "main") == edited  # nothing overwritten
    with Store(config.state_path) as store:
        (status,) = remote_statuses(config, store)
    assert status.behind == 1 and "conflict" in status.last_error


def test_html_edition_is_a_branch_of_site_and_assets_built_without_the_work_tree(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "pages.git")
    config = make_config(tmp_path, {"name": "pages", "url": f"file://{srv}/pages.git", "edition": "html"})
    head = commit(config, {"README.md": "md\n", "pages/a.md": "a\n", "site/index.html": "<p>home</p>\n",
                           "site/pages/a.html": '<img src="../../assets/ab/x.webp">\n', "assets/ab/x.webp": "img"})
    first = push(config)["pages"]
    assert first.ok and first.branch == "gh-pages"
    remote = srv / "pages.git"
    files = git(remote, "ls-tree", "-r", "--name-only", "gh-pages").splitlines()
    assert sorted(files) == [".nojekyll", "assets/ab/x.webp", "index.html", "site/index.html", "site/pages/a.html"]
    assert 'url=site/index.html' in git(remote, "show", "gh-pages:index.html")
    assert git(config.output_dir, "rev-parse", "HEAD") == head and git(config.output_dir, "status", "--porcelain") == ""

    commit(config, {"README.md": "markdown only change\n"})
    assert push(config)["pages"].commits == 0  # the HTML edition did not change: no commit, nothing pushed
    commit(config, {"site/index.html": "<p>home 2</p>\n"})
    second = push(config)["pages"]
    assert second.ok and second.commits == 1
    assert git(remote, "rev-parse", "gh-pages~1") == first.commit  # fast-forward on the previous HTML commit
    assert git(config.output_dir, "rev-parse", HTML_REF) == second.commit


def test_compact_rewrites_history_and_force_pushes_only_where_allowed(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "light.git")
    bare_repo(srv / "archive.git")
    config = make_config(tmp_path, {"name": "light", "url": f"file://{srv}/light.git", "allow_force": True},
                         {"name": "archive", "url": f"file://{srv}/archive.git"})
    for n in range(3):
        commit(config, {"README.md": f"run {n}\n", f"pages/{n}.md": f"{n}\n"})
    push(config)
    tree = git(config.output_dir, "rev-parse", "HEAD^{tree}")
    with Store(config.state_path) as store:
        new, results = compact(config, store, "markdown")
    assert git(config.output_dir, "rev-list", "--count", "HEAD") == "1"
    assert git(config.output_dir, "rev-parse", "HEAD^{tree}") == tree and git(config.output_dir, "status",
                                                                             "--porcelain") == ""
    assert [r.remote for r in results] == ["light"] and results[0].forced and results[0].ok
    assert branch_tip(srv / "light.git", "main") == new and git(srv / "light.git", "rev-list", "--count", "main") == "1"
    assert git(srv / "archive.git", "rev-list", "--count", "main") == "3"  # not allowed: untouched

    latest = commit(config, {"pages/3.md": "3\n"})
    results = push(config)
    assert branch_tip(srv / "light.git", "main") == latest
    assert results["archive"].ok and git(srv / "archive.git", "rev-list", "--count", "main") == "4"
    assert git(srv / "archive.git", "rev-parse", "main^{tree}") == git(config.output_dir, "rev-parse", "HEAD^{tree}")


def test_a_run_pushes_its_commit_and_the_backlog_and_a_failed_push_does_not_fail_it(mirror_config, tmp_path):
    from newsmirror.pipeline import RunRequest, run_once
    from newsmirror.progress import Reporter

    bare_repo(tmp_path / "out.git")
    remotes = make_config(tmp_path, {"name": "out", "url": f"file://{tmp_path}/out.git"},
                          {"name": "down", "url": f"git://127.0.0.1:{free_port()}/x.git", "retries": 0}).remotes
    config = mirror_config.model_copy(update={"remotes": remotes})  # the demo site's sources
    earlier = commit(config, {"notes.md": "from an earlier run\n"})  # a backlog from before
    stream = io.StringIO()
    summary = run_once(config, Reporter(stream=stream), RunRequest())
    head = git(config.output_dir, "rev-parse", "HEAD")
    assert summary.publish.commit == head and git(config.output_dir, "rev-parse", "HEAD~1") == earlier
    assert branch_tip(tmp_path / "out.git", "main") == head
    lines = stream.getvalue().splitlines()
    assert f"pushed out: 2 commit(s) to main {head[:10]}" in lines
    assert any(ln.startswith("PUSH FAILED down git://127.0.0.1:") and "unreachable" in ln for ln in lines)
    assert any(ln.startswith("size: history ") and "largest: " in ln for ln in lines)


@pytest.mark.parametrize("bad, expected", [
    ({"name": "x", "url": "u", "edition": "pdf"}, "remotes[0] (x).edition"),
    ({"name": "x", "url": "u", "branch": "a..b"}, "remotes[0] (x).branch"),
    ({"name": "X Y", "url": "u"}, "remotes[0] (X Y).name"),
])
def test_remote_config_errors_name_the_key(tmp_path, bad, expected):
    from newsmirror.config import ConfigError

    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, bad)
    assert expected in str(info.value)


def test_remote_and_size_keys_are_documented():
    from newsmirror.config import Remote, SizeBudgets

    reference = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text("utf-8")
    for model in (Remote, SizeBudgets):
        for key in model.model_fields:
            assert f"`{key}`" in reference, f"{model.__name__}.{key}"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "newsmirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_status_push_and_compact(tmp_path):
    bare_repo(tmp_path / "up.git")
    (tmp_path / "newsmirror.toml").write_text(
        '[mirror]\noutput = "mirror"\nstate = "state.db"\n'
        f'[[remotes]]\nname = "up"\nurl = "file://{tmp_path}/up.git"\nallow_force = true\n'
        f'[[remotes]]\nname = "down"\nurl = "git://127.0.0.1:{free_port()}/x.git"\nretries = 0\n'
    )
    config = make_config(tmp_path)
    commit(config, {"README.md": "one\n"})
    tip = commit(config, {"README.md": "two\n"})

    pushed = cli("push", cwd=tmp_path)
    assert pushed.returncode == 1  # one remote failed
    assert pushed.stdout == f"pushed up: 2 commit(s) to main {tip[:10]}\n"
    assert pushed.stderr.startswith("PUSH FAILED down git://127.0.0.1:") and pushed.stderr.count("\n") == 1
    assert cli("push", "up", cwd=tmp_path).stdout == "pushed up: up to date (main)\n"
    assert cli("push", "nope", cwd=tmp_path).returncode == 2

    status = cli("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    up = lines.index(next(ln for ln in lines if ln.strip().startswith("up ")))
    assert "up.git" in lines[up] and "markdown -> main" in lines[up]
    assert f"last pushed {tip[:10]}" in lines[up + 1] and "0 commit(s) behind; last error: none" in lines[up + 1]
    down = lines.index(next(ln for ln in lines if ln.strip().startswith("down ")))
    assert "last pushed nothing yet; 2 commit(s) behind; last error: unreachable" in lines[down + 1]
    assert any(ln.startswith("size: history ") for ln in lines)

    refused = cli("compact", cwd=tmp_path)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = cli("compact", "--yes", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("compacted the markdown edition to one commit ")
    assert "history " in done.stdout and "pushed up: 1 commit(s) to main" in done.stdout and "(forced)" in done.stdout
    assert git(tmp_path / "up.git", "rev-list", "--count", "main") == "1"


def test_rebase_keeps_deletions_and_a_host_delete_of_a_page_the_mirror_changes_conflicts(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "m.git")
    url = f"file://{srv}/m.git"
    config = make_config(tmp_path, {"name": "host", "url": url})
    commit(config, {"pages/old.md": "old\n", "pages/kept.md": "kept\n", "README.md": "home\n"})
    push(config)
    host_edit(tmp_path, url, {"campaign.md": "ours\n"})
    (config.output_dir / "pages" / "old.md").unlink()  # retention removed a page
    commit(config, {"README.md": "home 2\n"})
    assert push(config)["host"].ok
    files = git(srv / "m.git", "ls-tree", "-r", "--name-only", "main").splitlines()
    assert files == ["README.md", "campaign.md", "pages/kept.md"]

    work = tmp_path / "deleter"
    subprocess.run(["git", "clone", "-q", url, str(work)], check=True)
    git(work, "rm", "-q", "pages/kept.md")
    git(work, "-c", "user.name=Host", "-c", "user.email=h@example.org", "commit", "-q", "-m", "delete a page")
    git(work, "push", "-q", "origin", "main")
    commit(config, {"pages/kept.md": "kept, updated\n"})
    result = push(config)["host"]
    assert not result.ok and result.error == "the mirror's commits conflict with the remote's in pages/kept.md"


def test_compact_the_html_edition(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    bare_repo(srv / "pages.git")
    config = make_config(tmp_path, {"name": "pages", "url": f"file://{srv}/pages.git", "edition": "html",
                                    "allow_force": True})
    for n in range(3):
        commit(config, {"site/index.html": f"<p>{n}</p>\n"})
        push(config)
    assert git(srv / "pages.git", "rev-list", "--count", "gh-pages") == "3"
    head = git(config.output_dir, "rev-parse", "HEAD")
    with Store(config.state_path) as store:
        new, (result,) = compact(config, store, "html")
    assert result.ok and result.forced and branch_tip(srv / "pages.git", "gh-pages") == new
    assert git(srv / "pages.git", "rev-list", "--count", "gh-pages") == "1"
    assert git(srv / "pages.git", "show", "gh-pages:site/index.html") == "<p>2</p>"
    assert git(config.output_dir, "rev-parse", "HEAD") == head  # the Markdown branch is not touched
    assert git(config.output_dir, "rev-list", "--count", "HEAD") == "3"


def test_a_removed_remote_leaves_no_refs_behind(tmp_path):
    bare_repo(tmp_path / "a.git")
    bare_repo(tmp_path / "b.git")
    both = make_config(tmp_path, {"name": "a", "url": f"file://{tmp_path}/a.git"},
                       {"name": "b", "url": f"file://{tmp_path}/b.git"})
    commit(both, {"README.md": "one\n"})
    push(both)
    refs = git(both.output_dir, "for-each-ref", "--format=%(refname)", "refs/newsmirror/").splitlines()
    assert refs == ["refs/newsmirror/pushed/a", "refs/newsmirror/pushed/b", "refs/newsmirror/remote-heads/a",
                    "refs/newsmirror/remote-heads/b"]
    push(make_config(tmp_path, {"name": "b", "url": f"file://{tmp_path}/b.git"}))
    refs = git(both.output_dir, "for-each-ref", "--format=%(refname)", "refs/newsmirror/").splitlines()
    assert refs == ["refs/newsmirror/pushed/b", "refs/newsmirror/remote-heads/b"]


def test_the_scaffold_example_of_remotes_and_size_budgets_is_valid():
    import re

    from newsmirror.config import scaffold_text

    text = scaffold_text()
    start = text.index("# Remotes:")
    config = parse_config(text[:start] + re.sub(r"(?m)^# (?=\[|[a-z_]+ = )", "", text[start:]))
    (remote,) = config.remotes
    assert remote.name == "github" and remote.target_branch == "main" and not remote.allow_force
    assert config.size.file_budget_mb == 50
