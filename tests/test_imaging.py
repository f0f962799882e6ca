"""imaging.recompress: resize, format, metadata stripping, size budget, determinism, bad input."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms

from newsmirror.config import ImageSettings
from newsmirror.fetch.imaging import MAX_PIXELS, ImageError, quality_steps, recompress

GPS_IFD = 0x8825


def photo(width: int = 3000, height: int = 2000, exif: bool = True, orientation: int | None = None) -> bytes:
    """A photo-like JPEG: gradients plus noise, so it does not compress trivially; with camera and GPS EXIF."""
    gradient = Image.linear_gradient("L").resize((width, height))
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    noisy_gradient = ImageChops.add(gradient, Image.effect_noise((width, height), 30), 1, -64)
    image = Image.merge("RGB", (noisy_gradient, Image.effect_noise((width, height), 60), across))
    out = io.BytesIO()
    meta = Image.Exif()
    if exif:
        meta[0x010F] = "SpyCam"  # Make
        meta[0x0110] = "Model X"
        meta.get_ifd(GPS_IFD)[2] = (48.0, 51.0, 29.0)  # GPSLatitude
    if orientation:
        meta[0x0112] = orientation
    image.save(out, "JPEG", quality=90, exif=meta.tobytes(), comment=b"secret comment")
    return out.getvalue()


def alpha_png(width: int = 300, height: int = 200) -> bytes:
    image = Image.new("RGBA", (width, height), (255, 0, 0, 0))
    for x in range(width // 2):
        for y in range(height):
            image.putpixel((x, y), (0, 0, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (120, 80), color) for color in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return photo()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_big_photo_is_resized_to_webp_within_budget_without_metadata(big_photo):
    assert len(big_photo) > 1_000_000
    data, ext = recompress(big_photo, ImageSettings())
    image = opened(data)
    assert (ext, image.format) == ("webp", "WEBP")
    assert image.size == (1024, 683)
    assert 100_000 < len(data) <= 150_000  # quality 75 gives ~160 kB for this photo: one step down was needed
    assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
    assert b"SpyCam" not in data and b"secret comment" not in data


def test_jpeg_when_configured(big_photo):
    data, ext = recompress(big_photo, ImageSettings(format="jpeg", max_width=800))
    image = opened(data)
    assert (ext, image.format, image.size) == ("jpg", "JPEG", (800, 533))
    assert len(data) <= 150_000
    assert not image.getexif() and "comment" not in image.info and "icc_profile" not in image.info
    assert b"SpyCam" not in data and b"secret comment" not in data


def test_output_is_deterministic(big_photo):
    for fmt in ("webp", "jpeg"):
        settings = ImageSettings(format=fmt)
        assert recompress(big_photo, settings) == recompress(big_photo, settings)


def test_tighter_budget_lowers_quality_then_size(big_photo):
    data, _ = recompress(big_photo, ImageSettings(max_bytes=20_000))
    image = opened(data)
    assert len(data) <= 20_000
    assert image.width < 1024  # a noisy 1024-wide photo cannot fit 20 kB even at the lowest quality


def test_small_image_is_never_upscaled():
    data, _ = recompress(photo(400, 300, exif=False), ImageSettings())
    assert opened(data).size == (400, 300)


def test_exif_orientation_is_applied_before_stripping():
    data, _ = recompress(photo(400, 300, orientation=6), ImageSettings())  # 6: rotate 90° clockwise to view
    image = opened(data)
    assert image.size == (300, 400)
    assert not image.getexif()


def test_alpha_png_keeps_alpha_in_webp_and_flattens_on_white_in_jpeg():
    data, ext = recompress(alpha_png(), ImageSettings())
    image = opened(data)
    assert ext == "webp" and image.mode == "RGBA"
    assert image.getpixel((250, 100))[3] == 0 and image.getpixel((10, 100))[3] == 255
    data, ext = recompress(alpha_png(), ImageSettings(format="jpeg"))
    image = opened(data).convert("RGB")
    assert ext == "jpg"
    assert all(channel > 240 for channel in image.getpixel((250, 100)))  # transparent -> white
    red, green, blue = image.getpixel((10, 100))
    assert blue > 200 and red < 40 and green < 40


def test_animated_gif_becomes_its_first_frame():
    data, ext = recompress(animated_gif(), ImageSettings())
    image = opened(data)
    assert ext == "webp" and image.size == (120, 80)
    assert getattr(image, "n_frames", 1) == 1


def test_cmyk_and_icc_tagged_images_become_plain_srgb():
    cmyk = Image.new("CMYK", (200, 100), (0, 255, 255, 0))  # red
    out = io.BytesIO()
    cmyk.save(out, "JPEG")
    data, _ = recompress(out.getvalue(), ImageSettings())
    red, green, blue = opened(data).convert("RGB").getpixel((100, 50))
    assert red > 200 and green < 60 and blue < 60
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 200, 30)).save(out, "PNG", icc_profile=srgb)
    data, _ = recompress(out.getvalue(), ImageSettings())
    image = opened(data)
    assert "icc_profile" not in image.info
    assert all(abs(a - b) < 12 for a, b in zip(image.convert("RGB").getpixel((100, 50)), (10, 200, 30)))


@pytest.mark.parametrize("data, reason", [
    (b"<!doctype html><html><body>Not found</body></html>", "not an image"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image"),  # a PNG signature with garbage after it
])
def test_non_images_raise_image_error(data, reason):
    with pytest.raises(ImageError) as caught:
        recompress(data, ImageSettings())
    assert reason in str(caught.value)
    assert "[transform]" in str(caught.value)


def test_truncated_jpeg_raises_image_error(big_photo):
    with pytest.raises(ImageError, match="unreadable"):
        recompress(big_photo[: len(big_photo) // 3], ImageSettings())


@pytest.mark.parametrize("side", [7000, 20000])  # 49 MP: our cap; 400 MP: Pillow's own bomb error too
def test_decompression_bomb_is_refused_before_decoding(side):
    assert side * side > MAX_PIXELS
    with pytest.raises(ImageError, match="decompression bomb"):
        recompress(png_claiming(side, side), ImageSettings())


def test_quality_steps():
    assert quality_steps(75) == [75, 65, 50, 40, 30]
    assert quality_steps(30) == [30]
    assert quality_steps(10) == [10]
    assert quality_steps(33) == [33, 30]


def test_image_error_survives_a_worker_process_boundary():
    import pickle

    error = pickle.loads(pickle.dumps(ImageError("not an image: x", "https://i.example/a.jpg")))
    assert (error.reason, error.resource) == ("not an image: x", "https://i.example/a.jpg")
    assert str(error) == "https://i.example/a.jpg [transform] not an image: x"
