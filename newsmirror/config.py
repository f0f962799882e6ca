"""Typed configuration, loaded from TOML and validated all at once.

A config error names the file, the key, what was expected and what was found, for every bad key.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsmirror import config_checks as checks
from newsmirror.config_checks import BRANCH_NAME, CHANNEL_NAME, HttpUrl, Line, check_channel_name  # noqa: F401
from newsmirror.errors import NewsmirrorError, Stage

# Bounds no real mirror reaches, so that no value can overflow a date, a sleep or a size computation.
MAX_DAYS = 36_500  # keep_days: a hundred years
MAX_PAGES = 100_000_000  # keep_newest
MAX_SECONDS = 3600.0  # timeouts, delays, back-off


class _Strict(BaseModel):
    # every float is finite: inf/nan would hang a sleep or poison a comparison
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Labels(_Strict):
    home: str = "Home"
    hot: str = "Most read"
    original: str = "Original URL"
    share: str = "Share this page"
    channels: str = "Channels"
    newer: str = "Newer"
    older: str = "Older"
    hot_empty: str = "No view counts yet: this list fills up once readers open pages."
    updated: str = "Updated"
    removed: str = "The original was removed from its site on"  # + the date, on pages whose original is gone
    more: str = "More"
    image_unavailable: str = "Image not available"
    search: str = "Search"
    search_noscript: str = "Search needs JavaScript; every page is also listed in the channel indexes."
    mirrors: str = "Other mirrors"
    mirror_list: str = "Signed mirror list"  # the link to mirrors.json (with a signing key)
    served_from: str = "Served from"  # the service worker's notice on a page it fetched from another mirror
    offline: str = "Download for offline reading"
    edited: str = "Edited at the source on"  # + the date and "(N versions)", linking to the revisions page
    versions: str = "versions"
    revisions: str = "Revisions"  # the revisions page's heading
    version: str = "Version"
    unchanged: str = "unchanged paragraphs"  # on revisions pages, between changes
    removed_list: str = "Removed at the source"  # the removed list's heading


class MenuLink(_Strict):
    label: str
    url: HttpUrl


class FetchSettings(_Strict):
    user_agent: Line = "newsmirror/0.1 (+https://example.invalid/newsmirror)"
    timeout: float = Field(20.0, gt=0, le=MAX_SECONDS)
    per_host_concurrency: int = Field(2, ge=1, le=32)
    total_concurrency: int = Field(16, ge=1, le=256)
    delay: float = Field(0.0, ge=0, le=MAX_SECONDS, description="seconds between requests to one host")
    retries: int = Field(3, ge=0, le=10)
    backoff: float = Field(0.5, ge=0, le=MAX_SECONDS, description="first retry delay in seconds; doubles each retry")
    max_bytes: int = Field(10_000_000, ge=1024, le=1_000_000_000)
    max_redirects: int = Field(5, ge=0, le=20)
    max_retry_after: float = Field(60.0, ge=0, le=86_400, description="cap in seconds on a server's Retry-After")
    # after this many URLs in a row on one host got no answer (timeouts, refused, reset), the host's other URLs
    # fail at once for this run (and are retried by the next); 0 = never give up on a host
    host_failure_limit: int = Field(3, ge=0, le=10_000)
    # connect to another address for a host, like curl --resolve: {"news.example.org" = "127.0.0.1:8080"}
    resolve: Annotated[dict[str, str], AfterValidator(checks.check_resolve)] = {}


class EpubSettings(_Strict):
    """EPUB digests of each period's articles, under <html_dir>/offline/ (editions/offline.py)."""

    enabled: bool = False
    period: Literal["daily", "weekly"] = "daily"
    keep: int = Field(7, ge=1, le=10_000)  # the newest periods kept
    channels: list[Annotated[str, AfterValidator(checks.check_channel_name)]] = []  # own digests; [] = every channel
    max_articles: int = Field(300, ge=1, le=100_000)  # per digest, the newest of the period


class ZimSettings(_Strict):
    """A ZIM file of the HTML edition for Kiwix, under <html_dir>/offline/ (editions/offline.py)."""

    enabled: bool = False
    every: Literal["daily", "weekly"] = "daily"
    keep: int = Field(7, ge=1, le=10_000)


class Editions(_Strict):
    markdown: bool = True
    html: bool = True
    html_dir: Annotated[str, AfterValidator(checks.check_mirror_dir)] = "site"  # the HTML edition, in the work tree
    # public addresses of the HTML edition (a static host or a pages branch serving the mirror root, so pages are at
    # "<base>site/..."); the share block, QR code and failover links of HTML pages use them; [] = public_base_urls
    html_public_base_urls: list[HttpUrl] = []
    # OpenCC profile for a second, converted edition (e.g. "s2t", "s2twp", "t2s"); "" = none
    convert: Annotated[str, AfterValidator(checks.check_profile)] = ""
    convert_label: str = "繁體"  # the switch link to the converted edition
    original_label: str = "简体"  # the switch link back
    search: bool = True  # Pagefind full-text search in the HTML edition
    # minutes between search index rebuilds (Pagefind re-reads every page: ~1 s per 1,000); 0 = every run that
    # changed HTML pages. Pages changed in between are indexed by the next run that is due.
    search_every: float = Field(0.0, ge=0, le=525_600)  # at most a year
    feed_size: int = Field(50, ge=1, le=1000)  # entries per Atom feed
    # the HTML edition's service worker: offline copies of opened pages, failover to the signed list's mirrors
    service_worker: bool = True
    offline_cache_mb: float = Field(30.0, gt=0, le=1000)  # cap on the offline copies in each reader's browser
    epub: EpubSettings = EpubSettings()
    zim: ZimSettings = ZimSettings()


class ImageSettings(_Strict):
    localise: bool = True  # copy images next to the articles (assets/), never hot-link them
    max_width: int = Field(1024, ge=64, le=4096)
    format: Literal["webp", "jpeg"] = "webp"
    quality: int = Field(75, ge=10, le=100)
    max_bytes: int = Field(150_000, ge=5_000, le=100_000_000)  # recompress harder until an image fits
    # the Markdown edition may load images from these bases instead of relative paths (first one used)
    asset_base_urls: list[HttpUrl] = []


def _check_recheck_hours(hours: list[float]) -> list[float]:
    if any(h <= 0 for h in hours) or hours != sorted(set(hours)):
        raise ValueError("hours after first seen, each more than 0, ascending, no repeats")
    return hours


RecheckHours = Annotated[list[Annotated[float, Field(le=87_600)]], AfterValidator(_check_recheck_hours)]


class RevisionSettings(_Strict):
    """Re-checks of published articles (run/recheck.py): edits become versions, removals enter the removed list."""

    recheck_hours: RecheckHours = [1, 6, 24, 72, 168]  # after first seen; [] = no re-checks
    max_per_run: int = Field(200, ge=0, le=1_000_000)  # re-checks per run at most; the rest wait for the next run


class Channel(_Strict):
    title: str | None = None
    description: str = ""
    revisions: bool = True  # its pages link to a revisions page once edited at the source
    removed_list: bool = True  # its articles removed at the source enter the removed list
    # retention for pages that live in this channel (overrides [mirror] keep_newest / keep_days)
    keep_newest: int | None = Field(None, ge=1, le=MAX_PAGES)
    keep_days: int | None = Field(None, ge=1, le=MAX_DAYS)


class Source(_Strict):
    name: Annotated[str, AfterValidator(checks.check_source_name)]
    kind: Literal["feed", "sitemap", "listing", "urls"]
    channel: Annotated[str, AfterValidator(checks.check_channel_name)]
    url: HttpUrl | None = None
    urls: list[Annotated[str, AfterValidator(checks.check_url_on_load)]] = []
    # listing pages: CSS selector for article links, optional one for their titles
    link_selector: str = "a"
    title_selector: str | None = None
    # ids: a regex whose first group (or whole match) becomes the article id
    id_pattern: Annotated[str | None, AfterValidator(checks.check_regex)] = None
    max_items: int = Field(200, ge=1, le=10_000_000)  # sitemaps can list millions
    enabled: bool = True
    # extraction help: a site-rules file (fivefilters directive subset), relative to the config file
    rules: Line | None = None
    # fetch articles through headless Chromium and extract from the rendered DOM (JS-built pages)
    render_js: bool = False
    # OpenCC profile for this source's articles in the converted edition, overriding editions.convert
    convert: Annotated[str | None, AfterValidator(checks.check_profile)] = None
    # obey the site's robots.txt (fetch.user_agent) for the source and its articles
    robots: bool = False
    # re-check hours after first seen for this source's articles, instead of [revisions] recheck_hours
    recheck_hours: RecheckHours | None = None

    @model_validator(mode="after")
    def _needs_location(self) -> "Source":
        if self.kind == "urls":
            if not self.urls:
                raise ValueError("kind 'urls' needs a non-empty 'urls' list")
        elif not self.url:
            raise ValueError(f"kind '{self.kind}' needs 'url'")
        return self


class MirrorSettings(_Strict):
    title: str = "News mirror"
    description: str = ""
    language: str = "en"
    # git work tree, relative to the config file
    output: Annotated[str, AfterValidator(checks.check_output_path)] = "mirror"
    state: Line = "newsmirror.db"  # SQLite file, relative to the config file
    # the mirror's public addresses, in order: the first is the primary (share block, QR code); every page links to
    # the others (its own path appended) so a reader whose host is blocked can switch
    public_base_urls: list[HttpUrl] = []
    # e.g. "https://counter.example/p/{path}"; {path} = page path, {id}, {channel}
    counter_pixel: Annotated[str | None, AfterValidator(checks.check_pixel)] = None
    # a suffix appended to links between mirror pages, to dodge exact-URL blocklists: a template with {id} (the
    # linking page's article id, or "home", "hot", the channel name); true = "?{id}"; false/"" = off
    link_variation: bool | str = False
    in_body_links: Literal["keep", "text", "neutralise"] = "keep"
    index_page_size: int = Field(30, ge=2, le=1000)
    home_per_channel: int = Field(5, ge=1, le=100)
    hot_size: int = Field(20, ge=1, le=500)
    hot_days: int = Field(7, ge=1, le=365)
    retry_base_minutes: float = Field(30.0, ge=0, le=1440)  # retries back off to at most a day anyway
    max_attempts: int = Field(8, ge=1, le=100)
    # retention defaults for every channel: keep the newest N pages and/or the last D days (unset: keep all);
    # older pages leave the work tree, their entries stay on archive pages and link to the original URL
    keep_newest: int | None = Field(None, ge=1, le=MAX_PAGES)
    keep_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    commit_author: Annotated[str, AfterValidator(checks.check_author)] = "newsmirror <newsmirror@localhost>"
    promo_markdown: str = ""  # shown under the menu on every article page
    # minisign secret key (`newsmirror keygen`), relative to the config file and outside the mirror: each run then
    # publishes mirrors.json and its signature; "" = no signed list
    signing_key: Line = ""
    # more addresses for the signed list and the "Other mirrors" line (e.g. an onion address), as given
    other_addresses: list[HttpUrl] = []

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: object) -> object:
        # `public_urls` was the first name of `public_base_urls`; configs that use it keep working
        if isinstance(data, dict) and "public_urls" in data and "public_base_urls" not in data:
            data = {("public_base_urls" if k == "public_urls" else k): v for k, v in data.items()}
        return data

    @field_validator("link_variation")
    @classmethod
    def _suffix_template(cls, value: bool | str) -> bool | str:
        if isinstance(value, str) and value:
            checks.check_template(value, ("id",))
            if any(c in "#\"<>" or c.isspace() or not c.isprintable() for c in value):
                raise ValueError("a URL suffix without spaces, '#', quotes or angle brackets")
        return value

    def link_suffix(self, key: str | None) -> str:
        """What to append to a link on the page identified by `key` ("" when link variation is off)."""
        if key is None or self.link_variation is False or self.link_variation == "":
            return ""
        template = "?{id}" if self.link_variation is True else str(self.link_variation)
        return template.format(id=key)


class Remote(_Strict):
    """A git remote the mirror is pushed to after every run (remotes.py)."""

    name: str
    url: Line  # any URL git understands; ${VAR} is replaced from the environment at push time (tokens)
    edition: Literal["markdown", "html"] = "markdown"  # html: a commit of site/ + assets/ only
    branch: str | None = None  # default: "main" (markdown), "gh-pages" (html)
    timeout: float = Field(120.0, gt=0, le=86_400)  # seconds per git command
    retries: int = Field(2, ge=0, le=10)  # more attempts after a transient failure (unreachable, timeout)
    backoff: float = Field(2.0, ge=0, le=MAX_SECONDS)  # first retry delay in seconds; doubles each retry
    allow_force: bool = False  # `newsmirror compact` may force-push a rewritten history here

    @field_validator("name")
    @classmethod
    def _remote_name(cls, value: str) -> str:
        if not CHANNEL_NAME.fullmatch(value):
            raise ValueError(f"a remote name: {checks.CHANNEL_RULE}")
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        return checks.check_branch(value)

    @property
    def target_branch(self) -> str:
        return self.branch or ("gh-pages" if self.edition == "html" else "main")


class SizeBudgets(_Strict):
    """Warn after a run when the mirror outgrows what hosts accept (sizes.py)."""

    file_budget_mb: float = Field(50.0, gt=0, le=1e6)  # per file: git hosts warn at 50 MB and reject 100 MB
    repo_budget_mb: float = Field(1000.0, gt=0, le=1e6)  # the repository with its history (.git)
    site_budget_mb: float = Field(1000.0, gt=0, le=1e6)  # the HTML edition (site/ + assets/): Pages caps near 1 GB
    report_largest: int = Field(5, ge=0, le=100)  # how many of the largest files to list


class CounterSettings(_Strict):
    """`newsmirror serve-counter` (counter.py) and the hot list's ranking (hot.py)."""

    host: Line = "127.0.0.1"
    port: int = Field(8090, ge=0, le=65535)
    processes: int = Field(1, ge=1, le=64)  # workers sharing one listening socket (one per core is fastest)
    flush_seconds: float = Field(1.0, gt=0, le=3600)  # counts are written this often; a hard crash loses at most this
    refresh_seconds: float = Field(60.0, ge=1, le=86_400)  # how often the set of countable pages is reloaded
    timeout: float = Field(10.0, gt=0, le=MAX_SECONDS)  # a connection completing no request for this long is closed
    max_connections: int = Field(10000, ge=1, le=1_000_000)  # per process; more are refused at once
    # a view's weight halves every N days in the hot list; 0 = no decay
    hot_half_life_days: float = Field(2.0, ge=0, le=3650)


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
