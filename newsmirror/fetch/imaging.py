"""Image recompression (pure): bytes in, small web-ready bytes out, or an `ImageError` saying why not.

    data, ext = recompress(raw, settings.images)    # -> (b"RIFF....WEBP...", "webp")

The first frame only, EXIF orientation applied, then every piece of metadata dropped (EXIF, XMP, ICC, comments:
they can carry GPS positions and camera serials). Colours are converted to sRGB when the image carries another ICC
profile. Wider than `max_width` is scaled down (never up), then encoded as WebP (alpha kept) or JPEG (alpha
flattened on white), lowering quality and then dimensions stepwise until the result fits `max_bytes`. The same input
bytes and settings give the same output bytes. No process-wide Pillow setting is changed.
"""

from __future__ import annotations

import io
import math
import struct

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from newsmirror.config import ImageSettings
from newsmirror.errors import NewsmirrorError, Stage

MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)
MAX_WEBP_SIDE = 16_383  # the WebP format's limit per side
MIN_QUALITY = 30
MIN_WIDTH = 48
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, struct.error,
                 Image.DecompressionBombError)
FORMATS = {"webp": ("WEBP", "webp"), "jpeg": ("JPEG", "jpg")}


class ImageError(NewsmirrorError):
    """An image that cannot be used; `resource` is its URL when the caller knows it."""

    def __init__(self, reason: str, resource: str = "<image>"):
        super().__init__(resource, Stage.TRANSFORM, reason)


def recompress(data: bytes, settings: ImageSettings) -> tuple[bytes, str]:
    """Web-ready image bytes and their file extension ("webp" or "jpg"); raises ImageError."""
    image = _decode(data, settings.max_width)
    pil_format, ext = FORMATS[settings.format]
    image = _fit(image, settings.max_width, MAX_WEBP_SIDE if ext == "webp" else 65_500)
    scaled, scale = image, 1.0
    while True:
        for quality in quality_steps(settings.quality):
            out = _encode(scaled, pil_format, quality)
            if len(out) <= settings.max_bytes:
                return out, ext
        # Still too big at the lowest quality: shrink by the area the budget allows (bytes ~ pixels), and retry.
        scale *= min(0.85, math.sqrt(settings.max_bytes / len(out)) * 0.95)
        if image.width * scale < MIN_WIDTH:
            raise ImageError(f"cannot make it fit {settings.max_bytes} bytes "
                             f"({scaled.width}x{scaled.height} at quality {MIN_QUALITY} is {len(out)} bytes)")
        scaled = _resize(image, scale)


def quality_steps(quality: int) -> list[int]:
    """The configured quality, then two to three lower steps down to MIN_QUALITY."""
    steps = [quality] + [q for q in (65, 50, 40) if MIN_QUALITY < q < quality - 4]
    return steps + [MIN_QUALITY] if steps[-1] > MIN_QUALITY else steps


def _decode(data: bytes, max_width: int) -> Image.Image:
    if not data:
        raise ImageError("not an image: empty response")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(f"not an image: unrecognised data starting {data[:16]!r}") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"decompression bomb refused: {exc}") from exc
    except DECODE_ERRORS as exc:
        raise ImageError(f"unreadable image: {type(exc).__name__}: {exc}") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"decompression bomb refused: {width}x{height} pixels is more than "
                         f"{MAX_PIXELS // 1_000_000} MP")
    if width < 1 or height < 1:
        raise ImageError(f"unreadable image: size {width}x{height}")
    try:
        if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that still covers the target width
            image.draft(image.mode, _draft_size(image, max_width))
        image.seek(0)  # animated: the first frame
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return _to_srgb(image)
    except DECODE_ERRORS as exc:
        raise ImageError(f"unreadable {image.format or 'image'}: {type(exc).__name__}: {exc}") from exc


def _draft_size(image: Image.Image, max_width: int) -> tuple[int, int]:
    """The smallest decode size that still gives `max_width` after the EXIF rotation (which may swap sides)."""
    width, height = image.size
    if image.getexif().get(0x0112) in (5, 6, 7, 8):
        return math.ceil(width * max_width / height), max_width
    return max_width, math.ceil(height * max_width / width)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "RGBa", "La", "PA") or "transparency" in image.info


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA pixels in sRGB, with no metadata left."""
    mode = "RGBA" if _has_alpha(image) else "RGB"
    icc = image.info.get("icc_profile")
    converted = None
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            out_mode = mode if image.mode != "CMYK" else "RGB"
            converted = ImageCms.profileToProfile(image, source, target, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken profile: use the pixel values as they are
    if converted is None:
        if image.mode.startswith(("I", "F")):  # 16-bit/float greyscale: scale to 8 bits
            image = image.convert("I").point(lambda v: v / 256).convert("L")
        converted = image.convert(mode)
    if converted.mode != mode:
        converted = converted.convert(mode)
    if converted is image:
        converted = image.copy()
    converted.info = {}  # EXIF, XMP, ICC, comments: never copied to the output
    return converted


def _fit(image: Image.Image, max_width: int, max_side: int) -> Image.Image:
    width, height = image.size
    factor = min(1.0, max_width / width, max_side / height)
    if factor >= 1.0:
        return image
    return _resize(image, factor)


def _resize(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    resized = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    resized.info = {}
    return resized


def _encode(image: Image.Image, pil_format: str, quality: int) -> bytes:
    out = io.BytesIO()
    if pil_format == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4, exif=b"", icc_profile=None, xmp=b"")
    else:
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True, exif=b"", icc_profile=None)
    return out.getvalue()
