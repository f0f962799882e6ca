"""The package's import layering, read from the source with `ast` (no module is imported).

Units: each subpackage (sources, fetch, ...), the foundation modules taken together, and every other top-level
module (cli, pipeline, status) on its own. (a) No import cycle between units (imports under `if TYPE_CHECKING:`
run never and are left out of this check). (b) A stage package imports only the foundation and itself, every
import counted (inside functions and under TYPE_CHECKING too), except the pairs listed in EXCEPTIONS. (c) The
foundation imports only the foundation.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsmirror"
STAGES = {"sources", "fetch", "extract", "editions", "publish", "state", "views"}
FOUNDATION = {"records", "errors", "config", "config_checks", "config_sections", "layout", "clock", "ids",
              "convert",
              "__init__",  # the package itself: `__version__`
              "progress"}  # the Reporter a run hands every stage; it imports only errors and records

# (stage, what it imports) -> why; keep it short: a new entry needs a reason a reviewer accepts
EXCEPTIONS = {
    ("editions", "state"): "editions render from the records and lists the state database keeps",
    ("views", "state"): "the counter and the log import add view counts to the state database",
    ("publish", "state"): "push results, retention and the size report are kept in the state database",
    ("sources", "state"): "feeds are fetched with conditional GET; their validators are the state's fetch cache",
    ("fetch", "state"): "image localisation remembers each image's asset and failures in the state database",
    ("sources", "fetch"): "feeds, sitemaps, listings and robots.txt are fetched with the fetch client",
    ("sources", "extract"): "feed and listing bytes are decoded as pages are (extract.decode)",
    ("editions", "extract"): "renderers reuse the sanitizer's allowed tags and the link rewriting (extract.transform)",
    ("editions", "views"): "the hot list is ranked by views.hot",
    ("publish", "views"): "retention keeps hot pages (views.hot)",
    ("editions", "publish"): "finish steps and side files use publish's git runner, atomic writes, signed list",
    ("editions", "run"): "a failed page's retry time comes from run.plan's back-off",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "newsmirror.state.store"
    target: str  # the imported module, e.g. "newsmirror.records"
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    type_only = {id(n) for node in ast.walk(tree)
                 if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    name, found = module_name(path), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("newsmirror"):
            targets = [node.module] if node.module != "newsmirror" else [f"newsmirror.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("newsmirror")]
        else:
            continue
        found += [Import(name, target, node.lineno, id(node) in type_only) for target in targets]
    return found


def unit(module: str) -> str:
    """'newsmirror.state.store' -> 'state'; a foundation module -> 'foundation'; 'newsmirror.cli' -> 'cli'."""
    first = module.split(".")[1] if "." in module else "__init__"
    if not (PACKAGE / first).is_dir() and not (PACKAGE / f"{first}.py").is_file():
        first = "__init__"  # `from newsmirror import __version__`: a name of the package itself
    return "foundation" if first in FOUNDATION else first


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_every_module():
    imports = all_imports()
    assert len({imp.module for imp in imports}) > 40  # the walk found the package
    assert any(imp.type_only for imp in imports)  # and tells annotations apart


def test_no_import_cycle_between_units():
    edges = {(unit(imp.module), unit(imp.target)) for imp in all_imports() if not imp.type_only}
    assert cycles({(a, b) for a, b in edges if a != b}) == []


def test_stage_packages_import_only_the_foundation_and_themselves():
    used: set[tuple[str, str]] = set()
    wrong = []
    for imp in all_imports():
        here, there = unit(imp.module), unit(imp.target)
        if here not in STAGES or there in (here, "foundation"):
            continue
        if (here, there) in EXCEPTIONS:
            used.add((here, there))
        else:
            wrong.append(f"{imp.module}:{imp.line} imports {imp.target}")
    assert wrong == []
    assert set(EXCEPTIONS) - used == set(), "an exception no import needs any more: remove it"


def test_the_foundation_imports_only_the_foundation():
    wrong = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in all_imports()
             if unit(imp.module) == "foundation" and unit(imp.target) != "foundation"]
    assert wrong == []


def test_a_cycle_and_a_stray_import_are_seen():
    assert cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert cycles({("a", "b"), ("b", "c")}) == []
    assert unit("newsmirror.state.store") == "state" and unit("newsmirror.records") == "foundation"
    assert unit("newsmirror.pipeline") == "pipeline" and unit("newsmirror.__version__") == "foundation"
