"""Size governance: the repository's size and largest files, warnings at the budgets, shown after a run."""

from __future__ import annotations

import io
import os

from newsmirror.config import SizeBudgets, parse_config
from newsmirror.progress import QUIET, Reporter
from newsmirror.publish.commit import GitRepo
from newsmirror.publish.remotes import after_run
from newsmirror.publish.sizes import MB, human, measure, summary_line, warnings
from newsmirror.state.store import Store


def mirror(tmp_path, files: dict[str, bytes]):
    root = tmp_path / "mirror"
    repo = GitRepo(root)
    repo.ensure()
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    repo.commit_all("run")
    return root


FILES = {
    "README.md": b"home\n" * 10,  # 50 B
    "pages/news/a.md": b"a" * 3000,
    "site/index.html": b"h" * 2000,
    "site/pages/news/a.html": b"p" * 4000,
    "assets/ab/big.webp": os.urandom(200_000),  # incompressible: the history grows by as much
}


def test_measure_counts_tree_site_history_and_lists_the_largest(tmp_path):
    root = mirror(tmp_path, FILES)
    report = measure(root, "site", SizeBudgets(report_largest=3))
    assert report.tree_files == 5 and report.tree_bytes == sum(len(c) for c in FILES.values())
    assert report.site_bytes == 2000 + 4000 + 200_000  # site/ and assets/, not the Markdown edition
    assert report.largest == (("assets/ab/big.webp", 200_000), ("site/pages/news/a.html", 4000),
                              ("pages/news/a.md", 3000))
    assert 200_000 < report.history_bytes < 400_000
    assert report.over_file_budget == ()
    line = summary_line(report)
    assert line.startswith("size: history ") and "in 5 file(s)" in line
    assert "largest: assets/ab/big.webp 195.3 KB, site/pages/news/a.html 3.9 KB, pages/news/a.md 2.9 KB" in line
    assert measure(tmp_path / "nothing", "site", SizeBudgets()) is None
    GitRepo(tmp_path / "empty").ensure()
    assert measure(tmp_path / "empty", "site", SizeBudgets()) is None  # no commit yet


def test_budgets_warn_per_file_per_repository_and_per_site(tmp_path):
    root = mirror(tmp_path, FILES)
    budgets = SizeBudgets(file_budget_mb=0.003, repo_budget_mb=0.1, site_budget_mb=0.15)  # 3.1 KB, 100 KB, 150 KB
    report = measure(root, "site", budgets)
    assert [p for p, _ in report.over_file_budget] == ["assets/ab/big.webp", "site/pages/news/a.html"]
    lines = warnings(report, budgets)
    assert lines[0] == ("SIZE WARNING assets/ab/big.webp: 195.3 KB, over the per-file budget of 0.003 MB "
                        "(git hosts reject files over 100 MB)")
    assert lines[1].startswith("SIZE WARNING site/pages/news/a.html: 3.9 KB")
    assert lines[2].startswith("SIZE WARNING repository: history ") and "newsmirror compact" in lines[2]
    assert lines[3] == "SIZE WARNING HTML edition: 201.2 KB, over the site budget of 0.15 MB " \
                       "(static hosts cap sites near 1 GB)"
    assert len(lines) == 4
    assert warnings(report, budgets, shown=1)[1] == "SIZE WARNING 1 more file(s) over the per-file budget"
    defaults = SizeBudgets()  # 50 MB per file, 1000 MB per repository and per site
    assert warnings(measure(root, "site", defaults), defaults) == []


def test_human_sizes():
    assert [human(n) for n in (0, 1023, 1024, 1536 * 1024, 3 * MB + MB // 2, 5 << 30)] == \
        ["0 B", "1023 B", "1.0 KB", "1.5 MB", "3.5 MB", "5.0 GB"]


def test_after_a_run_the_size_line_shows_and_warnings_show_even_when_quiet(tmp_path):
    mirror(tmp_path, FILES)
    config = parse_config('[mirror]\noutput = "mirror"\nstate = "state.db"\n[size]\nfile_budget_mb = 0.1\n',
                          tmp_path / "newsmirror.toml", tmp_path)
    with Store(config.state_path) as store:
        normal, quiet = io.StringIO(), io.StringIO()
        after_run(config, store, Reporter(stream=normal))
        after_run(config, store, Reporter(QUIET, stream=quiet))
    normal_lines = normal.getvalue().splitlines()
    assert normal_lines[0].startswith("size: history ") and "largest: assets/ab/big.webp" in normal_lines[0]
    assert normal_lines[1].startswith("SIZE WARNING assets/ab/big.webp: 195.3 KB, over the per-file budget of 0.1 MB")
    assert quiet.getvalue().splitlines() == normal_lines[1:]


def test_the_report_after_a_commit_comes_from_the_diff_and_equals_a_full_listing(tmp_path):
    from newsmirror.publish.sizes import CACHE

    root = mirror(tmp_path, FILES)
    budgets = SizeBudgets(file_budget_mb=0.003, report_largest=2)
    store = Store(":memory:")
    measure(root, "site", budgets, store)  # a full listing, kept in the state with its commit
    assert store.setting(CACHE) is not None and not (root / ".git" / "newsmirror-size.json").exists()
    repo = GitRepo(root)
    steps = [
        {"pages/news/b.md": b"b" * 5000, "site/pages/news/b.html": b"q" * 9000},  # added, one over the budget
        {"pages/news/a.md": b"a" * 10, "README.md": None},  # one shrinks, one goes
        {"site/pages/news/b.html": b"q" * 100, "assets/cd/x.webp": b"x" * 7000},  # back under; a new asset
    ]
    for change in steps:
        for path, content in change.items():
            target = root / path
            if content is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        repo.commit_all("run")
        incremental = measure(root, "site", budgets, store)
        assert incremental == measure(root, "site", budgets)  # the same as listing the whole tree (no state)
    assert incremental.over_file_budget == (("assets/ab/big.webp", 200_000), ("assets/cd/x.webp", 7000),
                                            ("pages/news/b.md", 5000), ("site/pages/news/a.html", 4000))
