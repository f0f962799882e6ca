"""EPUB digests and their OPDS catalogue, built from a real mirror of the demo site (real SQLite, real git) and
checked by the real epubcheck (Debian package `epubcheck`): 0 errors and 0 warnings for every digest."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image

from newsmirror.demo.mirror import DEMO_HOST
from newsmirror.demo.site import DemoSite
from newsmirror.editions import epub, offline, opds
from newsmirror.pipeline import run_once
from newsmirror.progress import QUIET, Reporter
from newsmirror.state.store import Store

from conftest import make_config

NOW = datetime.fromisoformat("2026-03-30T12:00:00+00:00")
SINCE = date(2026, 3, 29)  # 03-29: an English sports article; 03-30: a Chinese science article
OPF = "{http://www.idpf.org/2007/opf}"
XHTML = "{http://www.w3.org/1999/xhtml}"
ATOM = "{http://www.w3.org/2005/Atom}"


def epub_config(site: DemoSite, directory: Path, **epub_settings: object):
    config = make_config(site, directory)
    settings = config.editions.epub.model_copy(update={"enabled": True, "period": "daily", **epub_settings})
    return config.model_copy(update={"editions": config.editions.model_copy(update={"epub": settings})})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A mirror of the demo site (with its converted zh-hant edition) and the digests of 03-29 and 03-30."""
    directory = tmp_path_factory.mktemp("epub")
    with DemoSite(public_host=DEMO_HOST) as site:
        config = epub_config(site, directory)
        run_once(config, Reporter(QUIET), now=NOW)
    with Store(config.state_path) as store, store.transaction():
        result = offline.build(config, store, ["epub"], NOW, since=SINCE)
    return config, result


def epubs(config) -> list[Path]:
    return sorted((config.output_dir / "site/offline/epub").glob("*.epub"))


CHECK_ALL = Path(__file__).parent / "fixtures/epubcheck/CheckAll.java"


def epubcheck(paths: list[Path]) -> dict[str, tuple[int, str]]:
    """Debian's epubcheck on every file in one JVM (a JVM start costs seconds): name -> (code, its messages);
    code 0 = no fatal error, no error, no warning."""
    jar = Path(shutil.which("epubcheck") or "/usr/bin/epubcheck").resolve()  # Debian's is the jar itself
    done = subprocess.run(["java", "-cp", str(jar), str(CHECK_ALL), *map(str, paths)], capture_output=True,
                          text=True, timeout=600)
    messages = done.stderr.splitlines()  # epubcheck's messages; the results go to stdout
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("== "):
            name, code = line[3:].rsplit(" ", 1)
            name = Path(name).name
            found[name] = (int(code), "\n".join(m for m in messages if name in m))
    return found


def webp_digest(directory: Path) -> Path:
    """The control: a digest carrying a WebP image, as the HTML edition's assets are."""
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), (200, 10, 10)).save(buffer, "WEBP")
    image = epub.EpubImage("images/x.webp", "image/webp", buffer.getvalue())
    chapter = epub.Chapter("A", "en", "", "https://example.org/",
                           '<figure><img src="../images/x.webp" alt=""/></figure>')
    digest = epub.Digest("urn:uuid:00000000-0000-5000-8000-000000000000", "T", "en", "2026-03-02",
                         "2026-03-02T00:00:00Z", "M", "", "", "Original", (epub.Section("S", (chapter,)),), (image,))
    path = directory / "webp-control.epub"
    path.write_bytes(epub.package(digest))
    return path


@pytest.mark.timeout(900)
def test_every_digest_passes_epubcheck_without_errors_or_warnings(built, tmp_path):
    config, result = built
    files = epubs(config)
    names = {p.name for p in files}
    assert {"2026-03-29.epub", "2026-03-29-sports.epub", "2026-03-30.epub", "2026-03-30-science.epub",
            "2026-03-30.zh-hant.epub", "2026-03-30-science.zh-hant.epub"} <= names
    assert not any("city" in n for n in names if n.startswith("2026-03-30"))  # no city article that day
    checked = epubcheck([*files, webp_digest(tmp_path)])
    assert set(checked) == names | {"webp-control.epub"}
    for name in names:
        assert checked[name][0] == 0, f"{name}:\n{checked[name][1]}"
    code, messages = checked["webp-control.epub"]  # why images are JPEG/PNG: WebP needs a fallback
    assert code & 2 and "MED-003" in messages


def read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_a_digest_holds_the_period_articles_in_channel_order_with_a_table_of_contents(built):
    config, _ = built
    entries = read(config.output_dir / "site/offline/epub/2026-03-30.epub")
    assert list(entries)[0] == "mimetype" and entries["mimetype"] == b"application/epub+zip"
    nav = etree.fromstring(entries["EPUB/nav.xhtml"])
    toc = [a.text for a in nav.iter(f"{XHTML}a")]
    assert toc[0] == "2026-03-30" and "Science & Technology" in toc
    assert "梅雨季将提前到来，市民需注意防潮" in toc
    chapters = sorted(n for n in entries if n.startswith("EPUB/text/"))
    chinese = next(entries[n].decode() for n in chapters if "梅雨季" in entries[n].decode())
    page = etree.fromstring(chinese.encode())
    assert page.get("{http://www.w3.org/XML/1998/namespace}lang").startswith("zh")
    assert "https://" + DEMO_HOST in chinese or f"http://{DEMO_HOST}" in chinese  # the original URL
    assert config.labels.original in chinese
    assert etree.fromstring(entries["EPUB/package.opf"]).find(
        f"{OPF}metadata/{{http://purl.org/dc/elements/1.1/}}language").text == "en"


def test_a_digest_packs_the_local_images_as_jpeg_with_their_captions(built):
    config, _ = built
    entries = read(config.output_dir / "site/offline/epub/2026-03-29.epub")  # a sports article with photos
    chapters = sorted(n for n in entries if n.startswith("EPUB/text/"))
    opf = etree.fromstring(entries["EPUB/package.opf"])
    types = {item.get("media-type") for item in opf.iter(f"{OPF}item")}
    assert "image/webp" not in types and types & {"image/jpeg", "image/png"}
    for item in opf.iter(f"{OPF}item"):  # every manifest item is in the file, every image is in the manifest
        assert "EPUB/" + item.get("href") in entries
    images = {n for n in entries if n.startswith("EPUB/images/")}
    assert images == {"EPUB/" + i.get("href") for i in opf.iter(f"{OPF}item") if i.get("href").startswith("images/")}
    shown = set(re.findall(r'src="\.\./(images/[^"]+)"', "".join(entries[n].decode() for n in chapters)))
    assert shown and {"EPUB/" + s for s in shown} == images
    assert "<figcaption>" in "".join(entries[n].decode() for n in chapters)  # captions kept
    title = entries["EPUB/title.xhtml"].decode()
    assert "<strong>mirror</strong>" in title  # the mirror's promo


def test_the_converted_digest_is_converted(built):
    config, _ = built
    converted = read(config.output_dir / "site/offline/epub/2026-03-30-science.zh-hant.epub")
    text = "".join(data.decode() for name, data in converted.items() if name.startswith("EPUB/text/"))
    assert "梅雨季將提前到來" in text and "梅雨季将提前到来" not in text
    assert 'xml:lang="zh-Hant"' in text


def test_rebuilding_the_same_periods_gives_the_same_bytes(built):
    config, _ = built
    before = {p.name: p.read_bytes() for p in epubs(config)}
    with Store(config.state_path) as store, store.transaction():
        again = offline.build(config, store, ["epub"], NOW, since=SINCE)
    assert not [p for p in again.written if p.endswith(".epub")]
    assert {p.name: p.read_bytes() for p in epubs(config)} == before
    assert sorted(p for p in again.unchanged if p.endswith(".epub")) == sorted(
        p.relative_to(config.output_dir).as_posix() for p in epubs(config))


def test_the_opds_catalogue_lists_every_digest_with_a_working_acquisition_link(built):
    config, _ = built
    folder = config.output_dir / "site/offline"
    feed = etree.parse(str(folder / "catalog.xml")).getroot()
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert (feed.findtext(f"{ATOM}{name}") or "").strip(), name
    rels = {link.get("rel"): link.get("type") for link in feed.findall(f"{ATOM}link")}
    assert rels["self"] == rels["start"] == opds.CATALOG_TYPE
    listed = set()
    for entry in feed.findall(f"{ATOM}entry"):
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.findtext(f"{ATOM}updated"))
        assert entry.findtext("{http://purl.org/dc/terms/}language")
        (link,) = [ln for ln in entry.findall(f"{ATOM}link") if ln.get("rel") == opds.ACQUISITION]
        target = folder / link.get("href")
        assert target.is_file() and link.get("type") == "application/epub+zip"
        assert int(link.get("length")) == target.stat().st_size
        listed.add(target.name)
    assert listed == {p.name for p in epubs(config)}
    page = (folder / "index.html").read_text()
    assert 'id="epub"' in page and all(f'href="epub/{name}"' in page for name in listed)
    home = (config.output_dir / "site/index.html").read_text()
    assert f"{config.labels.offline}: <a href=\"offline/index.html#epub\">EPUB</a>" in home


def photo(width: int, height: int, alpha: bool = False, seed: int = 0) -> bytes:
    """A photo-like WebP (grain over soft shapes), as large as the mirror's assets get (≤ 1024 px wide)."""
    from PIL import ImageDraw, ImageFilter

    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for n in range(12):
        x, y = (seed * 37 + n * 151) % width, (seed * 53 + n * 97) % height
        draw.ellipse((x, y, x + width // 4, y + height // 3), fill=((n * 40 + seed) % 256, n * 19 % 256, 90))
    grain = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(3)), grain, 0.25)
    if alpha:
        image = image.convert("RGBA")
        image.putalpha(128)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=75)
    return out.getvalue()


def test_webp_becomes_jpeg_or_png_with_transparency_and_fits_an_e_reader():
    packed = epub.epub_image(photo(1200, 800))
    assert packed.media_type == "image/jpeg" and packed.name.endswith(".jpg")
    assert len(packed.data) <= epub.IMAGE_MAX_BYTES
    with Image.open(io.BytesIO(packed.data)) as image:
        assert image.format == "JPEG" and image.width <= epub.IMAGE_MAX_WIDTH
        assert abs(image.height / image.width - 800 / 1200) < 0.01
    clear = epub.epub_image(photo(300, 200, alpha=True))
    assert clear.media_type == "image/png" and Image.open(io.BytesIO(clear.data)).mode == "RGBA"
    with pytest.raises(OSError):
        epub.epub_image(b"not an image")


def test_bodies_become_xhtml_without_links_or_images_the_book_lacks():
    image = epub.EpubImage("images/abc.jpg", "image/jpeg", b"")
    body = epub.body_xhtml('<p>a<br>b <a href="/pages/x.html">inner</a> <a href="https://example.org/">out</a></p>'
                           '<figure><img src="assets/ab/x.webp" width="100%"><figcaption>c</figcaption></figure>'
                           '<p><img src="https://elsewhere.example/y.jpg" alt="chart"></p>',
                           lambda src: image if src == "assets/ab/x.webp" else None, "Image not available")
    etree.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>')  # well-formed XML
    assert "<br/>" in body and '<a>inner</a>' in body and 'href="https://example.org/"' in body
    assert '<img src="../images/abc.jpg" alt=""/>' in body and "width" not in body
    assert "elsewhere" not in body and "[Image not available: chart]" in body


@pytest.mark.timeout(600)
def test_a_daily_digest_of_100_articles_with_photos_stays_under_5_mb():
    """The issue's budget, with photos as large as the mirror's assets get (WebP ~140 KB at 1024 px)."""
    bases = [Image.open(io.BytesIO(photo(1064, 693, seed=n))).convert("RGB") for n in range(10)]
    chapters, images = [], []
    for n in range(100):  # a hundred different photos: ten scenes, each cropped ten ways
        buffer = io.BytesIO()
        bases[n % 10].crop((n // 10 * 4, n // 10, n // 10 * 4 + 1024, n // 10 + 683)).save(buffer, "WEBP", quality=75)
        packed = epub.epub_image(buffer.getvalue())
        images.append(packed)
        body = f'<p>{"Paragraph text of the article. " * 60}</p><figure><img src="../{packed.name}" alt=""/>' \
               f'<figcaption>Caption {n}</figcaption></figure>'
        chapters.append(epub.Chapter(f"Article {n}", "en", "2026-03-02", f"https://example.org/{n}", body))
    digest = epub.Digest("urn:uuid:00000000-0000-5000-8000-000000000000", "Budget", "en", "2026-03-02",
                         "2026-03-02T00:00:00Z", "Mirror", "", "", "Original URL",
                         (epub.Section("News", tuple(chapters)),), epub.unique_images(images))
    data = epub.package(digest)
    assert len({i.name for i in images}) == 100
    assert len(data) <= 5 * 1024 * 1024, len(data)
    assert len(read_bytes(data)) == 6 + 100 + 100  # fixed files, chapters, photos


def read_bytes(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()
