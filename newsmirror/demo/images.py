"""Deterministic images drawn with Pillow: JPEG "photos" (sky, sun, hills, skyline) and PNG bar charts.

Each image is seeded from its file name, so it is distinct per name and identical on every run.
"""

from __future__ import annotations

import hashlib
import io
import random

from PIL import Image, ImageDraw

from newsmirror.demo.content import IMAGE_SIZES


def _rng(name: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))


def _color(rng: random.Random, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return tuple(rng.randint(lo, hi) for _ in range(3))  # type: ignore[return-value]


def _photo(name: str) -> bytes:
    rng = _rng(name)
    width, height = IMAGE_SIZES["jpg"]
    mask = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), _color(rng, 150)),
                          Image.new("RGB", (width, height), _color(rng, 0, 120)), mask)
    draw = ImageDraw.Draw(img)
    sx, sy, r = rng.randint(80, width - 80), rng.randint(40, 200), rng.randint(25, 70)
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=_color(rng, 180))
    for layer in range(rng.randint(2, 4)):
        base_y = height // 2 + layer * 40
        ridge = [(x, base_y + rng.randint(-60, 40)) for x in range(0, width + 100, 100)]
        points = [(0, height), *ridge, (width, height)]
        draw.polygon(points, fill=_color(rng, 20 + layer * 30, 90 + layer * 40))
    x = rng.randint(0, 200)
    while x < width:
        w, h = rng.randint(20, 60), rng.randint(40, 180)
        draw.rectangle((x, height - h, x + w, height), fill=_color(rng, 10, 90))
        x += w + rng.randint(5, 90)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


def _chart(name: str) -> bytes:
    rng = _rng(name)
    width, height = IMAGE_SIZES["png"]
    img = Image.new("RGB", (width, height), (250, 250, 247))
    draw = ImageDraw.Draw(img)
    for y in range(60, height - 40, 50):
        draw.line((50, y, width - 20, y), fill=(225, 225, 225))
    draw.line((50, 20, 50, height - 40), fill=(60, 60, 60), width=2)
    draw.line((50, height - 40, width - 20, height - 40), fill=(60, 60, 60), width=2)
    bars = rng.randint(5, 12)
    step = (width - 90) // bars
    color = _color(rng, 30, 200)
    for i in range(bars):
        top = rng.randint(60, height - 60)
        draw.rectangle((60 + i * step, top, 60 + i * step + step * 2 // 3, height - 41), fill=color)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def make_image(name: str) -> tuple[bytes, str]:
    """Bytes and content type of ``/images/<name>`` (``.jpg`` or ``.png``)."""
    if name.endswith(".png"):
        return _chart(name), "image/png"
    return _photo(name), "image/jpeg"


def placeholder_gif() -> bytes:
    """The 1×1 grey GIF that lazy-loaded images show before scripts swap in ``data-src``."""
    out = io.BytesIO()
    Image.new("P", (1, 1), 0).save(out, "GIF")
    return out.getvalue()


def logo_png() -> bytes:
    img = Image.new("RGB", (200, 48), (11, 61, 92))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 8, 40, 40), fill=(255, 210, 90))
    draw.rectangle((50, 20, 190, 28), fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
