"""Typed, immutable records handed from one pipeline stage to the next.

Candidate (discover) -> FetchTask (plan) -> FetchedPage (fetch) -> Article (extract/transform)
-> RenderedFile (render) -> PublishResult (publish). A per-item failure is an ItemResult, never an abort.
ArticleState is what the state database knows about a stored article (plan, decide and the editions read it).
ArticleUpdate is one intent of `decide` for one article, which `Store.apply` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsmirror.errors import NewsmirrorError, Stage


@dataclass(frozen=True)
class Candidate:
    """An article URL a source announced, with what the source says about it."""

    url: str
    channel: str
    source: str
    title: str | None = None
    published: str | None = None  # ISO 8601, UTC where known
    updated: str | None = None
    # Fingerprint of the source's entry (e.g. feed <updated>/<guid>); a change means "re-fetch".
    source_version: str | None = None


@dataclass(frozen=True)
class FetchTask:
    """Plan's decision: fetch this URL, store it as `article_id`, list it in `channels`."""

    url: str
    article_id: str
    channels: tuple[str, ...]
    reason: str  # "new" | "changed" | "retry" | "manual"
    candidate: Candidate


@dataclass(frozen=True)
class FetchedPage:
    url: str  # what was asked for
    final_url: str  # after redirects
    status: int
    content_type: str | None = None
    charset: str | None = None  # from the Content-Type header only; None if absent
    etag: str | None = None
    last_modified: str | None = None
    body: bytes = b""
    not_modified: bool = False


@dataclass(frozen=True)
class ImageRef:
    src: str  # absolute URL at the source, or a mirror-relative asset path once localised
    alt: str = ""
    caption: str = ""


@dataclass(frozen=True)
class Article:
    """An extracted article. `body_html` is clean structured HTML (p, h2-h4, lists, blockquote, figure/img,
    a, strong/em, table); `text` is the running text only (no headline, captions or byline)."""

    url: str
    title: str
    text: str
    body_html: str
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    lead_image: ImageRef | None = None
    images: tuple[ImageRef, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class PageResult:
    """What fetching and extracting one planned article gave: the article (with the image files it brought, already
    in the work tree), a 304, or the error that stopped it."""

    task: FetchTask
    article: Article | None = None
    error: NewsmirrorError | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    assets: tuple[str, ...] = ()  # mirror paths of the image files made for it (content-addressed)
    image_failures: tuple[tuple[str, str], ...] = ()  # (image URL, reason) for images that could not be copied


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one article URL in one run."""

    url: str
    stage: Stage
    ok: bool
    article_id: str | None = None
    outcome: str = ""  # "new" | "updated" | "unchanged" | "failed"
    error: str | None = None


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the mirror root, POSIX separators
    content: bytes


@dataclass(frozen=True)
class PublishResult:
    written: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    commit: str | None = None  # None when nothing changed


@dataclass
class RunSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    sources_read: int = 0
    sources_failed: int = 0
    failures: list[ItemResult] = field(default_factory=list)
    publish: PublishResult = field(default_factory=PublishResult)
    output: str = ""
    removed: int = 0  # pages retention took out of the work tree
    gone: int = 0  # articles first found removed at the source in this run (their pages stay, with a notice)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> {"new": n, "updated": n, ...}

    def count(self, channel: str, kind: str) -> None:
        counts = self.by_channel.setdefault(channel, {})
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "removed":
            self.removed += 1

    @property
    def published_anything(self) -> bool:
        return self.new + self.updated + self.unchanged > 0 or bool(self.publish.commit)


@dataclass(frozen=True)
class ArticleState:
    """What plan and render need to know about a stored article."""

    id: str
    url: str
    channel: str
    channels: tuple[str, ...]
    title: str | None
    published: str | None
    status: str
    attempts: int
    next_retry: str | None
    source_version: str | None
    content_hash: str | None
    first_seen: str
    retired: str | None = None  # when retention removed its page (the entry then links to the original URL)
    removed_at: str | None = None  # when the original answered 404/410 (the page stays, with a notice)
    edited_at: str | None = None  # when a re-fetch last found the original edited
    source: str | None = None  # the configured source that announced it ("" for `add`; None: not recorded)

    @property
    def date(self) -> str:
        return self.published or self.first_seen


@dataclass(frozen=True)
class ArticleUpdate:
    """One intent for one article, applied by `Store.apply` exactly as it says."""

    kind: str  # new | updated | unchanged | not_modified | removed | failed | channels
    article_id: str
    url: str
    channels: tuple[str, ...]  # primary first
    source: str = ""
    article: Article | None = None
    content_hash: str | None = None
    source_version: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    stage: str | None = None  # removed / failed: where, why, and (failed) when to try again
    reason: str | None = None
    retry_at: str | None = None
    newly: bool = False  # removed: first seen gone this run (the page gains its notice)
    image_failures: tuple[tuple[str, str], ...] = ()
    rerender: bool = False  # its page, and the index pages listing it, must be rendered this run

    @property
    def channel(self) -> str:
        return self.channels[0]
