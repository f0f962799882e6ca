"""Offline editions: EPUB digests, a ZIM file of the HTML edition and their OPDS catalogue, in <html_dir>/offline/.

    build_due(config, store, now, reporter)    end of a run: builds what is due, once per period; never raises
    bundle(config, request, now)               `newsmirror bundle`: builds now, under the mirror's run lock

A kind is due when the period it was last built for (kept in the state's settings) is not the current one: the
first run of each UTC day (or ISO week) builds it; every other run pays two settings reads. A due EPUB build makes
the digests of the period just ended and of the current one so far. Only the newest `keep` periods (EPUB) or files
(ZIM) are kept; the catalogue (`catalog.xml`) and a download page (`index.html`) list what is there.

The files are large and change daily, so they stay out of the Markdown branch: the directory is listed in the
repository's `.git/info/exclude`, so no run stages it, and the HTML edition's commit (remotes.html_edition) adds
them to the tree it pushes; `compact --edition html` drops the old ones from that history.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from newsmirror import layout
from newsmirror.config import Config
from newsmirror.editions.periods import period_of, periods_between
from newsmirror.publish.commit import scratch_dir, write_atomic
from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.records import RenderedFile

if TYPE_CHECKING:
    from newsmirror.editions.opds import CatalogEntry
    from newsmirror.progress import Reporter
    from newsmirror.state.store import Store

KINDS = ("epub", "zim")
SETTING = "offline_{kind}_period"  # the period label of the last build that was due
_NAME = re.compile(r"^(?:mirror-)?(?P<period>\d{4}-\d{2}-\d{2}|\d{4}-W\d{2})(?:-(?P<channel>[a-z0-9_-]+?))?"
                   r"(?:\.(?P<edition>[a-z-]+))?\.(?P<kind>epub|zim)$")
_ISO_639_3 = {"zh": "zho", "en": "eng", "ja": "jpn", "ko": "kor", "fr": "fra", "de": "deu", "es": "spa",
              "ru": "rus", "ar": "ara", "fa": "fas", "vi": "vie", "bo": "bod", "ug": "uig", "pt": "por"}


class OfflineError(NewsmirrorError):
    def __init__(self, resource: str, reason: str):
        super().__init__(resource, Stage.PUBLISH, reason)


@dataclass(frozen=True)
class BundleRequest:
    kinds: tuple[str, ...] = ()  # () = the enabled kinds (EPUB when none is)
    channel: str | None = None  # only this channel's digest (not the whole mirror's)
    since: date | None = None  # every period from this day's to the current one


@dataclass
class OfflineResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # build time per kind

    def line(self) -> str:
        times = ", ".join(f"{kind} {s:.1f} s" for kind, s in self.seconds.items())
        return (f"offline: {len(self.written)} file(s) written, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed ({times})")


def every(config: Config, kind: str) -> str:
    return config.editions.epub.period if kind == "epub" else config.editions.zim.every


def due(config: Config, store: Store, now: datetime) -> list[str]:
    enabled = {"epub": config.editions.epub.enabled, "zim": config.editions.zim.enabled and config.editions.html}
    return [kind for kind in KINDS if enabled[kind]
            and store.setting(SETTING.format(kind=kind)) != period_of(now.date(), every(config, kind)).label]


def build_due(config: Config, store: Store, now: datetime, reporter: Reporter) -> OfflineResult | None:
    """Build what is due (in the run's transaction, so the periods built are saved with the run); a failure is
    one FAILED line and is retried by the next run, never the run's failure."""
    kinds = due(config, store, now)
    if not kinds:
        return None
    try:
        result = build(config, store, kinds, now)
    except (NewsmirrorError, OSError, ValueError) as exc:
        error = exc if isinstance(exc, NewsmirrorError) else OfflineError(
            str(getattr(exc, "filename", None) or layout.offline_dir(config)), f"offline editions: {exc}")
        reporter.failure(str(error))
        return None
    for kind in kinds:
        store.save_setting(SETTING.format(kind=kind), period_of(now.date(), every(config, kind)).label)
    reporter.note(result.line())
    return result


def bundle(config: Config, request: BundleRequest, now: datetime) -> OfflineResult:
    """`newsmirror bundle`: build the requested offline files now (due or not), holding the run lock."""
    from newsmirror.errors import StateError
    from newsmirror.state.lock import run_lock
    from newsmirror.state.store import Store

    kinds = request.kinds or tuple(k for k in KINDS if getattr(config.editions, k).enabled) or ("epub",)
    if not (config.output_dir / ".git").is_dir():  # its exclude entry keeps the files out of the first commit
        raise OfflineError(str(config.output_dir), "no mirror here yet: run `newsmirror run` first")
    if "zim" in kinds and not config.editions.html:
        raise OfflineError(str(config.path or "config"), "a ZIM file packs the HTML edition: editions.html is off")
    try:
        with run_lock(config.state_path), Store(config.state_path) as store:
            with store.transaction():
                return build(config, store, kinds, now, request.since, request.channel)
    except sqlite3.Error as exc:
        raise StateError.from_sqlite(config.state_path, exc, Stage.PUBLISH) from exc


def build(config: Config, store: Store, kinds: tuple[str, ...] | list[str], now: datetime,
          since: date | None = None, channel: str | None = None) -> OfflineResult:
    root, result = config.output_dir, OfflineResult()
    exclude_from_git(root, layout.offline_dir(config))
    if "epub" in kinds:
        from newsmirror.editions.digests import build_digests
        from newsmirror.editions.seam import listed_channels

        started = time.perf_counter()
        today = now.date()
        first = since or period_of(today, config.editions.epub.period).start - timedelta(days=1)
        names = listed_channels(config, store)
        if channel and channel not in names:
            raise NewsmirrorError(channel, Stage.CONFIG, f"no channel of that name (channels: {', '.join(names)})")
        own = [channel] if channel else (config.editions.epub.channels or names)
        for period in periods_between(first, today, config.editions.epub.period):
            _write(root, build_digests(config, store, period, names, own, whole=channel is None), result)
        result.seconds["epub"] = time.perf_counter() - started
    if "zim" in kinds:
        started = time.perf_counter()
        result.written.append(build_zim_file(config, now))
        result.seconds["zim"] = time.perf_counter() - started
    result.removed = prune(config)
    _write(root, catalog_files(config), result)
    return result


def _write(root: Path, files: list[RenderedFile], result: OfflineResult) -> None:
    scratch = scratch_dir(root)
    for file in files:
        target = root / file.path
        if target.is_file() and target.read_bytes() == file.content:
            result.unchanged.append(file.path)
            continue
        write_atomic(target, file.content, scratch)
        result.written.append(file.path)


def exclude_from_git(root: Path, directory: str) -> None:
    """List the offline directory in .git/info/exclude (once), so that no run commits it."""
    info = root / ".git" / "info"
    if not (root / ".git").is_dir():
        return
    line = f"/{directory.strip('/')}/"
    exclude = info / "exclude"
    text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    if line not in text.splitlines():
        info.mkdir(exist_ok=True)
        exclude.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n", encoding="utf-8")


# -- ZIM --------------------------------------------------------------------------------------------------


def zim_language(tag: str) -> str:
    primary = (tag or "en").split("-")[0].lower()
    return primary if len(primary) == 3 else _ISO_639_3.get(primary, "eng")


def build_zim_file(config: Config, now: datetime) -> str:
    """Pack the written HTML edition into site/offline/zim/mirror-<day>.zim (editions/zim.py does the packing)."""
    from newsmirror.editions import zim  # libzim loads only when a ZIM is built

    root = config.output_dir
    site_dir = root / layout.html_dir(config)
    if not (site_dir / "index.html").is_file():
        raise OfflineError(str(site_dir), "no HTML edition to pack yet (run newsmirror first)")
    path = layout.zim_path(config, now.date().isoformat())
    scratch = scratch_dir(root) or (root / path).parent
    temporary = scratch / f".{Path(path).name}.tmp"
    temporary.unlink(missing_ok=True)
    meta = zim.ZimMeta(title=config.mirror.title, description=config.mirror.description or config.mirror.title,
                       language=zim_language(config.mirror.language), creator=config.mirror.title,
                       publisher=config.mirror.title, main_path="index.html",
                       origins=tuple(layout.public_bases(config, html=True)), day=now.date())
    try:
        zim.build_zim(site_dir, temporary, meta, root=root)  # assets/ lives at the mirror root, whatever html_dir is
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, root / path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


# -- keep N, the catalogue --------------------------------------------------------------------------------


def _files(config: Config, kind: str) -> list[Path]:
    folder = config.output_dir / layout.offline_dir(config) / kind
    return sorted(p for p in folder.glob(f"*.{kind}") if _NAME.match(p.name)) if folder.is_dir() else []


def prune(config: Config) -> list[str]:
    """Delete digests older than the newest `editions.epub.keep` periods and ZIM files past `editions.zim.keep`."""
    removed = []
    for kind, keep in (("epub", config.editions.epub.keep), ("zim", config.editions.zim.keep)):
        files = _files(config, kind)
        periods = sorted({_NAME.match(p.name)["period"] for p in files}, reverse=True)[:keep]
        for path in files:
            if _NAME.match(path.name)["period"] not in periods:
                path.unlink()
                removed.append(path.relative_to(config.output_dir).as_posix())
    return removed


def _period_start(label: str) -> date:
    if "W" in label:
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    return date.fromisoformat(label)


def catalog_entries(config: Config) -> list[CatalogEntry]:
    """What the offline directory holds, newest first, each with its title and language."""
    from newsmirror.convert import edition_dir
    from newsmirror.editions import opds

    twins = {edition_dir(e.profile): e for e in layout.html_editions(config) if e.profile}
    label = config.editions.convert_label
    entries = []
    for kind in KINDS:
        for path in _files(config, kind):
            found = _NAME.match(path.name)
            twin = twins.get(found["edition"] or "")
            parts = [config.mirror.title] + ([config.channel_title(found["channel"])] if found["channel"] else [])
            title = " · ".join(parts + [found["period"]]) + (f" ({label})" if twin else "")
            language = (twin.lang if twin else None) or config.mirror.language
            start = _period_start(found["period"]).isoformat() + "T00:00:00Z"
            entries.append(opds.CatalogEntry(f"{kind}/{path.name}", kind, title, language, start,
                                             path.stat().st_size))
    return sorted(entries, key=lambda e: (e.updated, e.kind == "zim", e.href), reverse=True)


def catalog_files(config: Config) -> list[RenderedFile]:
    """catalog.xml (OPDS 1.2 acquisition feed) and index.html (the download page the home page links)."""
    from newsmirror.editions import opds

    entries = catalog_entries(config)
    public = layout.share_url(config, layout.opds_path(config), html=True)
    feed_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'newsmirror-offline:{config.mirror.title}')}"
    updated = max((e.updated for e in entries), default="1970-01-01T00:00:00Z")
    catalog = opds.render_catalog(config.mirror.title, config.mirror.title, feed_id, updated, entries, public)
    return [RenderedFile(layout.opds_path(config), catalog),
            RenderedFile(layout.offline_index_path(config), opds.download_page(config, entries))]
