"""Image localisation (transform): copy an article's images into the mirror, never hot-link the source's CDN.

    localiser = ImageLocaliser(config.images, store, fetcher, executor, root=config.output_dir)
    article, files, failures = await localiser.localise(article)

Each distinct http(s) image URL of an article (lead image, images, `<img src>` in the body) is fetched once,
recompressed (`imaging.recompress`, in the executor) and stored content-addressed under `assets/`, named by the
SHA-256 of the output bytes, so identical images at two URLs share one file. The store maps source URL -> asset
path, so a URL is downloaded once across articles and runs. The returned article points at the asset paths
(mirror-root relative, e.g. "assets/ab/abcdef0123456789.webp"); an image that fails keeps its source URL, is
recorded as failed (retried by later runs, see `Store.articles_with_failed_images`) and is reported as an
`ImageFailure`; it never fails the article.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import html as lxml_html

from newsmirror.config import ImageSettings
from newsmirror.fetch.client import Fetcher
from newsmirror.fetch.imaging import ImageError, recompress
from newsmirror.errors import NewsmirrorError, Stage
from newsmirror.layout import asset_path
from newsmirror.records import Article, ImageRef, RenderedFile
from newsmirror.state.store import Store

_IMG_SRC = re.compile(r"<img\b", re.IGNORECASE)


@dataclass(frozen=True)
class ImageFailure:
    src: str
    reason: str  # one line naming the URL and stage: "https://… [fetch] HTTP 404 Not Found"


@dataclass(frozen=True)
class _Result:
    src: str
    asset: str | None = None
    content: bytes | None = None  # set when this run made the file
    failure: ImageFailure | None = None


def image_sources(article: Article) -> list[str]:
    """Every distinct image URL of an article, in order: lead image, images, then the body's `<img src>`."""
    found = [article.lead_image.src] if article.lead_image else []
    found += [ref.src for ref in article.images]
    found += body_image_sources(article.body_html)
    return list(dict.fromkeys(s for s in found if s))


def body_image_sources(body_html: str) -> list[str]:
    if not _IMG_SRC.search(body_html):
        return []
    fragment = lxml_html.fragment_fromstring(body_html, create_parent="div")
    return [img.get("src", "").strip() for img in fragment.iter("img") if img.get("src", "").strip()]


def rewrite_image_sources(body_html: str, mapping: dict[str, str]) -> str:
    """Replace `<img src>` values found in `mapping`; a rewritten image loses `srcset`/`sizes` (more source URLs).
    Returns `body_html` unchanged (byte for byte) when no image is rewritten."""
    if not mapping or not _IMG_SRC.search(body_html):
        return body_html
    fragment = lxml_html.fragment_fromstring(body_html, create_parent="div")
    changed = False
    for img in fragment.iter("img"):
        target = mapping.get(img.get("src", "").strip())
        if target is not None:
            img.set("src", target)
            for name in ("srcset", "sizes"):
                img.attrib.pop(name, None)
            changed = True
    if not changed:
        return body_html
    return (fragment.text or "") + "".join(lxml_html.tostring(child, encoding="unicode") for child in fragment)


def _remote(src: str) -> bool:
    return src.startswith(("http://", "https://"))


class ImageLocaliser:
    """Localises the images of many articles; one instance per run (it remembers this run's downloads)."""

    def __init__(self, settings: ImageSettings, store: Store, fetcher: Fetcher, executor: Executor | None = None,
                 *, root: Path | None = None):
        """`root`: the mirror's work tree; when given, an asset the store knows but the tree lacks is made again."""
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.executor = executor
        self.root = root
        self._tasks: dict[str, asyncio.Task[_Result]] = {}
        self._emitted: set[str] = set()

    async def localise(self, article: Article) -> tuple[Article, list[RenderedFile], list[ImageFailure]]:
        """The article with local image paths, the asset files to write (each new file once per localiser)
        and the images that failed (which keep their source URL). Never raises for a per-image problem."""
        srcs = [s for s in image_sources(article) if _remote(s)]
        if not srcs:
            self.store.set_image_uses(article.url, [])
            return article, [], []
        known = self.store.image_assets([s for s in srcs if s not in self._tasks])
        results = await asyncio.gather(*(self._result(src, known.get(src)) for src in srcs))
        mapping: dict[str, str] = {}
        files: list[RenderedFile] = []
        failures: list[ImageFailure] = []
        for result in results:
            if result.failure is not None:
                failures.append(result.failure)
                continue
            assert result.asset is not None
            mapping[result.src] = result.asset
            if result.content is not None and result.asset not in self._emitted:
                self._emitted.add(result.asset)
                files.append(RenderedFile(result.asset, result.content))
            if result.content is not None:  # remember the path only: a run must not keep every image's bytes
                done = asyncio.get_running_loop().create_future()
                done.set_result(_Result(result.src, result.asset))
                self._tasks[result.src] = done
        self.store.set_image_uses(article.url, [f.src for f in failures])
        return localised(article, mapping), files, failures

    def _result(self, src: str, known: str | None) -> asyncio.Task[_Result]:
        task = self._tasks.get(src)
        if task is None:
            if known is not None and (self.root is None or (self.root / known).is_file()):
                task = asyncio.get_running_loop().create_future()
                task.set_result(_Result(src, known))
            else:
                task = asyncio.ensure_future(self._download(src))
            self._tasks[src] = task
        return task

    async def _download(self, src: str) -> _Result:
        try:
            page = await self.fetcher.fetch(src)
            loop = asyncio.get_running_loop()
            try:
                data, ext = await loop.run_in_executor(self.executor, recompress, page.body, self.settings)
            except ImageError as exc:
                note = f" (Content-Type {page.content_type})" if page.content_type and \
                    not page.content_type.startswith("image/") else ""
                raise ImageError(exc.reason + note, src) from exc
        except NewsmirrorError as exc:
            error = exc if exc.resource == src else NewsmirrorError(src, exc.stage, exc.reason)
            return self._failed(src, str(error))
        except Exception as exc:  # a library bug or a broken worker pool: this image fails, the run goes on
            return self._failed(src, str(NewsmirrorError(src, Stage.TRANSFORM,
                                                         f"unexpected error: {type(exc).__name__}: {exc}")))
        digest = hashlib.sha256(data).hexdigest()
        path = asset_path(digest, ext)
        self.store.save_image(src, path, digest)
        return _Result(src, path, content=data)

    def _failed(self, src: str, reason: str) -> _Result:
        self.store.fail_image(src, reason)
        return _Result(src, failure=ImageFailure(src, reason))


def localised(article: Article, mapping: dict[str, str]) -> Article:
    """The article with every image URL in `mapping` replaced by its asset path (alt text and captions kept)."""
    if not mapping:
        return article

    def ref(image: ImageRef | None) -> ImageRef | None:
        if image is None or image.src not in mapping:
            return image
        return replace(image, src=mapping[image.src])

    return replace(
        article,
        lead_image=ref(article.lead_image),
        images=tuple(ref(i) for i in article.images),  # type: ignore[misc]
        body_html=rewrite_image_sources(article.body_html, mapping),
    )
