"""Docs that cannot drift from the code.

- docs/configuration.md has one table per configuration model reachable from `Config` (nested tables, arrays of
  tables, tables of tables), one row per key, with the type and default rendered from the model exactly as
  `type_text` and `default_text` below render them; no section or row names anything the models lack.
- README.md's commands table has one row per command (walked from click's `main`); each row names every option of
  its command, unless the shared-options table lists that command for the option; nothing names a command or an
  option that does not exist.
- Every relative link in README.md, docs/*.md and benchmarks/README.md resolves: the file exists and the anchor is
  a heading of it (GitHub's anchor rules); README.md links every detail document and stays a front door (15 KB).
- docs/site-rules.md lists exactly the directives the site-rules parser reads, and its example parses.
- The quick start is two commands, and CI runs the test one.

`python tests/test_docs.py` prints the expected `| key | type | default |` cells of every section, to paste when a
model changes (the meaning column is written by hand).
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import annotated_types
import click
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from newsmirror.cli import main
from newsmirror.config import Config

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
README_BUDGET = 15 * 1024


def _read(path: Path) -> str:
    return path.read_text("utf-8")


# -- configuration models -> expected sections and rows -----------------------------------------------------------


def _submodel(annotation) -> tuple[str, type[BaseModel]] | None:
    """("table" | "array" | "map", model) when a field's annotation holds a model: a nested table, an array of
    tables (list[Model]) or a table of tables (dict[str, Model])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _submodel(args[0])
    if origin in (list, tuple, set, frozenset) and args:
        inner = _submodel(args[0])
        return ("array", inner[1]) if inner else None
    if origin is dict and len(args) == 2:
        inner = _submodel(args[1])
        return ("map", inner[1]) if inner else None
    if origin in (typing.Union, types.UnionType):
        found = [m for m in map(_submodel, args) if m]
        return found[0] if found else None
    return None


def _documented_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {name: field for name, field in model.model_fields.items() if not field.exclude}


def config_sections(model: type[BaseModel] = Config, path: str = "") -> dict[str, dict[str, FieldInfo]]:
    """Section heading (`[mirror]`, `[[sources]]`, `[channels.<name>]` ...) -> its keys, for `model` and every
    model reachable from it. Keys holding a model are sections of their own, not rows."""
    sections: dict[str, dict[str, FieldInfo]] = {}
    rows = {}
    for name, field in _documented_fields(model).items():
        sub = _submodel(field.annotation)
        if sub is None:
            rows[name] = field
            continue
        form, child = sub
        child_path = f"{path}.{name}" if path else name
        heading = {"table": f"[{child_path}]", "array": f"[[{child_path}]]", "map": f"[{child_path}.<name>]"}[form]
        if form == "map":
            child_path = f"{child_path}.<name>"
        nested = config_sections(child, child_path)
        sections[heading] = nested.pop("", {})
        sections.update(nested)
    if rows:
        sections[""] = rows  # keys of this model itself (at the top level: a "top level" section)
    return dict(sorted(sections.items(), key=lambda item: item[0] != "")) if path else sections


_URL_CHECKS = {"check_http_url", "check_url_on_load"}


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _type_name(annotation, metadata: list) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], [*metadata, *annotation.__metadata__])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a, metadata) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0], [])}s"
    if origin is dict:
        return f"table of {_type_name(args[1], [])}s"
    if any(getattr(getattr(m, "func", None), "__name__", "") in _URL_CHECKS for m in metadata):
        return "URL"
    return {bool: "bool", int: "integer", float: "number", str: "string"}[annotation]


def type_text(field: FieldInfo) -> str:
    """`integer, 1–32`, `number, > 0, ≤ 3,600`, `one of `a`, `b``, `list of URLs` ..."""
    text = _type_name(field.annotation, list(field.metadata))
    low = high = None
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            low = ("", item.ge)
        elif isinstance(item, annotated_types.Gt):
            low = ("> ", item.gt)
        elif isinstance(item, annotated_types.Le):
            high = ("≤ ", item.le)
        elif isinstance(item, annotated_types.Lt):
            high = ("< ", item.lt)
    if low and high and not low[0] and high[0] == "≤ ":
        return f"{text}, {_number(low[1])}–{_number(high[1])}"
    bounds = [f"{low[0]}{_number(low[1])}" if low and low[0] else f"≥ {_number(low[1])}"] if low else []
    bounds += [f"{high[0]}{_number(high[1])}"] if high else []
    return ", ".join([text, *bounds])


def default_text(field: FieldInfo) -> str:
    """`required`, `unset` (None), or the default as TOML writes it, in backticks."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, (str, list, dict)):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    return f"`{value}`"


def expected_row(key: str, field: FieldInfo) -> tuple[str, str, str]:
    return key, type_text(field), default_text(field)


# -- docs/configuration.md -> documented sections and rows ---------------------------------------------------------

_HEADING = re.compile(r"^## `(\[.+?\])`\s*$")
_ROW = re.compile(r"^\| `([A-Za-z0-9_]+)` \| (.+?) \| (.+?) \| (.+) \|$")


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def documented_sections(text: str) -> dict[str, dict[str, tuple[str, str, str]]]:
    """Heading -> key -> (key, type, default) of the rows under each `## `[section]`` heading."""
    sections: dict[str, dict[str, tuple[str, str, str]]] = {}
    current = None
    for line in _without_code_blocks(text).splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = sections.setdefault(heading.group(1), {})
            continue
        if line.startswith("## "):
            current = None  # a section that is no config table (introduction, notes)
            continue
        row = _ROW.match(line)
        if row and current is not None:
            key, type_cell, default_cell, _meaning = row.groups()
            assert key not in current, f"{key} twice in one section"
            current[key] = (key, type_cell, default_cell)
    return sections


def test_configuration_reference_covers_every_model_and_key():
    expected = config_sections()
    assert "" not in expected, "Config has keys of its own now: add a top-level section to docs/configuration.md"
    assert list(documented_sections(_read(CONFIG_DOC))) == list(expected), \
        "sections of docs/configuration.md (one per model, in Config's order)"
    check_rows(_read(CONFIG_DOC))


def check_rows(text: str) -> None:
    """Every key of every section has its row, with the model's type and default; no row names another key."""
    documented = documented_sections(text)
    for heading, fields in config_sections().items():
        rows = documented.get(heading, {})
        missing, extra = sorted(set(fields) - set(rows)), sorted(set(rows) - set(fields))
        assert not missing and not extra, f"{heading}: missing rows {missing}, rows for no key {extra}"
        for key, field in fields.items():
            assert rows[key] == expected_row(key, field), f"{heading} {key}: (key, type, default) differ"


def test_every_config_model_is_reached():
    """The walk reaches every model config.py and config_sections.py define (so every one has its section)."""
    from newsmirror import config, config_sections

    defined = {obj for module in (config, config_sections) for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
               and not obj.__name__.startswith("_") and obj is not Config}
    reached = set()

    def walk(model: type[BaseModel]) -> None:
        for field in _documented_fields(model).values():
            sub = _submodel(field.annotation)
            if sub and sub[1] not in reached:
                reached.add(sub[1])
                walk(sub[1])

    walk(Config)
    assert len(defined) >= 11 and reached == defined


def test_the_check_fails_on_a_missing_or_extra_row():
    text = _read(CONFIG_DOC)
    without = re.sub(r"^\| `timeout` \|.*\n", "", text, count=1, flags=re.M)  # [fetch] comes first
    assert without != text
    with pytest.raises(AssertionError, match=r"missing rows \['timeout'\]"):
        check_rows(without)
    extra = text.replace("| `retries` |", "| `no_such_key` | bool | `false` | invented |\n| `retries` |", 1)
    with pytest.raises(AssertionError, match=r"rows for no key \['no_such_key'\]"):
        check_rows(extra)
    wrong = re.sub(r"^(\| `delay` \| [^|]+ \| )`0`", r"\g<1>`1`", text, count=1, flags=re.M)
    assert wrong != text
    with pytest.raises(AssertionError, match="delay"):
        check_rows(wrong)


# -- commands and options ----------------------------------------------------------------------------------------


def commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    """Every runnable command by its full name ("views import"); groups are walked, not listed."""
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def _table(text: str, header: str) -> list[list[str]]:
    """The rows (cells, unescaped) of the table whose header line starts with `header`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def _command_of(cell: str, names: list[str]) -> str | None:
    spec = re.match(r"`([^`]+)`", cell)
    if not spec:
        return None
    text = spec.group(1)
    matches = [n for n in names if text == n or text.startswith(n + " ")]
    return max(matches, key=len) if matches else None


def test_every_command_and_option_is_documented():
    text = _read(README)
    everything = "\n".join(_read(path) for path in DOCUMENTS)
    known = commands()
    rows = {}
    for cells in _table(text, "| command |"):
        name = _command_of(cells[0], list(known))
        assert name is not None, f"commands table names no command: {cells[0]}"
        assert name not in rows, f"{name} has two rows"
        rows[name] = " ".join(cells)
    assert sorted(rows) == sorted(known), "one row per command in README.md's commands table"

    shared: dict[str, set[str]] = {}  # option -> the commands the shared-options table lists for it
    for cells in _table(text, "| option |"):
        options = re.findall(r"`(-[-\w]+)", cells[0])
        listed = set(re.findall(r"`([a-z][a-z -]*?)`", cells[1]))
        assert options and listed, cells
        for option in options:
            shared[option] = listed

    for name, command in known.items():
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for opt in param.opts + param.secondary_opts:
                assert _names(opt, everything), f"{name} {opt} is not documented"
            long = max(param.opts, key=len)
            if long in shared:
                assert name in shared[long], f"shared-options table: {long} does not list {name}"
            else:
                assert _names(long, rows[name]), f"commands table row of {name} does not name {long}"
    for option, listed in shared.items():
        for name in listed:
            assert name in known, f"shared-options table names no command: {name}"
            opts = {o for p in known[name].params if isinstance(p, click.Option) for o in p.opts}
            assert option in opts, f"shared-options table: {name} takes no {option}"
    for param in main.params:  # --version
        for opt in getattr(param, "opts", []):
            assert _names(opt, text), opt


def _names(option: str, text: str) -> bool:
    """`text` names `option` as a whole word (`--port` is not named by `--portal`)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_site_rules_doc_matches_the_parser():
    """docs/site-rules.md lists exactly the directives SiteRules reads, and its example parses and sets each."""
    from dataclasses import fields

    from newsmirror.extract.siterules import SiteRules

    text = _read(ROOT / "docs" / "site-rules.md")
    directives = {re.match(r"`(\w+)`", cells[0]).group(1) for cells in _table(text, "| directive |")}
    assert directives == {f.name for f in fields(SiteRules)}
    example = re.search(r"^## Example\n\n```\n(.*?)^```", text, re.S | re.M).group(1)
    rules, default = SiteRules.from_text(example, "docs/site-rules.md"), SiteRules()
    assert all(getattr(rules, f.name) != getattr(default, f.name) for f in fields(SiteRules))


# -- links ------------------------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercased, punctuation dropped (letters, digits, '-', '_' and spaces stay),
    spaces become '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link's text only
    text = text.lower()
    text = "".join(c for c in text if c.isalnum() or c in "-_ ")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in _without_code_blocks(_read(path)).splitlines():
        heading = re.match(r"^#{1,6} (.+)$", line)
        if heading:
            base = slug(heading.group(1))
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document):
    assert document.is_file(), document
    text = re.sub(r"`[^`\n]*`", "", _without_code_blocks(_read(document)))
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file_part, _, anchor = target.partition("#")
        path = (document.parent / file_part).resolve() if file_part else document
        assert path.exists(), f"{document.name}: {target} (no such file)"
        if anchor:
            assert path.suffix == ".md", f"{document.name}: {target} (anchor into a non-Markdown file)"
            assert anchor in anchors(path), f"{document.name}: {target} (no such heading in {path.name})"


def test_readme_is_a_front_door():
    text = _read(README)
    assert len(text.encode()) <= README_BUDGET, f"README.md is {len(text.encode())} bytes; move detail to docs/"
    for document in DOCUMENTS[1:]:
        link = document.relative_to(ROOT).as_posix()
        assert f"]({link}" in text, f"README.md does not link {link}"


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    block = re.search(r"^## Quick start.*?```sh\n(.*?)```", _read(README), re.S | re.M).group(1)
    commands_ = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands_ == ["./dev demo", "./dev test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in ci


if __name__ == "__main__":  # the cells to paste into docs/configuration.md
    for heading, fields in config_sections().items():
        print(f"\n## `{heading}`\n\n| key | type | default | meaning |\n|---|---|---|---|")
        for key, field in fields.items():
            print("| `{}` | {} | {} | |".format(*expected_row(key, field)))
