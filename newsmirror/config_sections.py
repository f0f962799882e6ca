"""The sections of the configuration: one pydantic model per TOML table, each value checked where it is declared.

`config.py` assembles them into `Config` and loads it; import them from there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from newsmirror import config_checks as checks
from newsmirror.config_checks import CHANNEL_NAME, HttpUrl, Line

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
