"""Typed configuration, loaded from TOML and validated all at once (the section models: config_sections.py).

A config error names the file, the key, what was expected and what was found, for every bad key.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from newsmirror import config_checks as checks
from newsmirror.config_checks import CHANNEL_NAME, check_channel_name  # noqa: F401 - check_channel_name for the CLI
from newsmirror.config_sections import (  # noqa: F401 - the section models are part of this module's interface
    Channel,
    CounterSettings,
    Editions,
    EpubSettings,
    FetchSettings,
    ImageSettings,
    Labels,
    MenuLink,
    MirrorSettings,
    Remote,
    RevisionSettings,
    SizeBudgets,
    Source,
    ZimSettings,
    _Strict,
)
from newsmirror.errors import NewsmirrorError, Stage


class Config(_Strict):
    mirror: MirrorSettings = MirrorSettings()
    labels: Labels = Labels()
    menu: list[MenuLink] = []
    fetch: FetchSettings = FetchSettings()
    editions: Editions = Editions()
    images: ImageSettings = ImageSettings()
    channels: dict[str, Channel] = {}
    sources: list[Source] = []
    remotes: list[Remote] = []
    size: SizeBudgets = SizeBudgets()
    counter: CounterSettings = CounterSettings()
    revisions: RevisionSettings = RevisionSettings()

    # Set by load_config, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("channels")
    @classmethod
    def _channel_keys(cls, value: dict[str, Channel]) -> dict[str, Channel]:
        bad = [name for name in value if not CHANNEL_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"channel names of {checks.CHANNEL_RULE} (not {', '.join(map(repr, bad))})")
        return value

    @model_validator(mode="after")
    def _unique_sources(self) -> "Config":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _unique_remotes(self) -> "Config":
        names = [r.name for r in self.remotes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"remote names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def output_dir(self) -> Path:
        return (self.base_dir / self.mirror.output).resolve()

    @property
    def state_path(self) -> Path:
        return (self.base_dir / self.mirror.state).resolve()

    def channel_title(self, name: str) -> str:
        channel = self.channels.get(name)
        return channel.title if channel and channel.title else name.replace("-", " ").replace("_", " ").title()

    def channel_names(self) -> list[str]:
        names = list(self.channels)
        for source in self.sources:
            if source.channel not in names:
                names.append(source.channel)
        return names


class ConfigError(NewsmirrorError):
    """Every problem in one config file, reported at once."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.problems = problems
        super().__init__(str(path), Stage.CONFIG, "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"{self.resource}: {len(self.problems)} configuration error(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _key(loc: tuple, data: dict) -> str:
    parts: list[str] = []
    node: object = data
    for item in loc:
        if isinstance(item, int):
            name = None
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
            label = name if isinstance(name, str) and name.isprintable() else repr(name)
            parts[-1] = parts[-1] + (f"[{item}]" + (f" ({label})" if name else ""))
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:  # a key that is no bare TOML key is quoted: fetch.resolve."news.example.org"
            parts.append(str(item) if re.fullmatch(r"[A-Za-z0-9_-]+", str(item)) else json.dumps(str(item)))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _describe(error: dict, data: dict) -> str:
    key = _key(tuple(error["loc"]), data)
    message = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    for bound, words in (("less than or equal to", "at most"), ("greater than or equal to", "at least"),
                         ("greater than", "more than")):
        message = message.replace(bound, words)
    if error["type"] == "extra_forbidden":
        return f"key '{key}': unknown key (found {error['input']!r})"
    if error["type"] == "missing":
        return f"key '{key}': required, but missing"
    if error["type"] == "value_error" and not error["loc"]:  # a rule across keys (unique names ...)
        return message
    found = error.get("input")
    found_text = repr(found) if not isinstance(found, dict) else "a table"
    return f"key '{key}': expected {message[0].lower() + message[1:]}; found {found_text}"


def parse_config(text: str, path: Path | str = "<config>", base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    try:
        config = Config.model_validate(data, context={"file": str(path)})  # also runs the load-only checks
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e, data) for e in exc.errors()]) from exc
    base = base_dir if base_dir is not None else Path(path).resolve().parent
    config = config.model_copy(update={"base_dir": base, "path": Path(path)})
    problems = _path_problems(config)
    if problems:
        raise ConfigError(path, problems)
    return config


def _path_problems(config: Config) -> list[str]:
    """The mirror's work tree is committed wholesale (`git add -A`): it must not hold the project directory
    (config file, state) nor the state database, nor be (inside) a git directory."""
    output, project = config.output_dir, config.base_dir.resolve()
    problems = []
    if ".git" in (part.casefold() for part in output.parts):
        problems.append(f"key 'mirror.output': a directory outside any '.git' directory; found "
                        f"{config.mirror.output!r} ({output})")
    elif project == output or project.is_relative_to(output):
        problems.append(f"key 'mirror.output': a directory apart from the project, whose config and state it would "
                        f"commit; found {config.mirror.output!r} ({output})")
    elif config.state_path.is_relative_to(output):
        problems.append(f"key 'mirror.state': a file outside the mirror's work tree; found {config.mirror.state!r}")
    return problems


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found (create one with `newsmirror init DIR`)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from exc
    return parse_config(text, path, path.resolve().parent)


CONFIG_NAME = "newsmirror.toml"


def scaffold_text() -> str:
    from importlib.resources import files

    return files("newsmirror").joinpath("templates/newsmirror.toml").read_text(encoding="utf-8")


def init_config(directory: Path | str) -> Path:
    """Write a commented newsmirror.toml into `directory` (created if needed); never overwrites."""
    target = Path(directory) / CONFIG_NAME
    if target.exists():
        raise ConfigError(target, ["already exists; not overwritten"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scaffold_text(), encoding="utf-8")
    return target
