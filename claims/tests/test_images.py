"""Unit tests for upload validation, the metadata-free working copy and the quality check."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from claims import images
from claims.tests.factories import (
    gif_bytes,
    gps_exif,
    heic_header,
    html_bytes,
    jpeg_bytes,
    noise_array,
    pdf_bytes,
    png_bytes,
    png_header_bytes,
    svg_bytes,
    two_tone_jpeg,
    webp_bytes,
)
from config.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000


def inspect(content: bytes, **limits):
    """The facts ``ingest`` returns for an upload (the working copy is tested below)."""
    limits = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS, **limits}
    return images.ingest(io.BytesIO(content), max_side=2048, **limits)[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (jpeg_bytes(seed=1), "JPEG"),
        (png_bytes(seed=1), "PNG"),
        (webp_bytes(seed=1), "WEBP"),
        (gif_bytes(), None),
        (heic_header(), None),
        (pdf_bytes(), None),
        (svg_bytes(), None),
        (b"", None),
    ],
    ids=["jpeg", "png", "webp", "gif", "heic", "pdf", "svg", "empty"],
)
def test_sniff_format_decides_by_magic_bytes(content, expected):
    assert images.sniff_format(content[:64]) == expected


def test_ingest_returns_facts_of_a_jpeg():
    content = jpeg_bytes(120, 80, seed=3)

    info = inspect(content)

    assert info.format == "JPEG"
    assert (info.width, info.height) == (120, 80)
    assert info.size_bytes == len(content)
    assert info.sha256 == hashlib.sha256(content).hexdigest()


def test_ingest_swaps_sides_for_a_rotated_photo():
    info = inspect(two_tone_jpeg(exif=gps_exif(orientation=6)))

    assert (info.width, info.height) == (80, 120)


def test_ingest_rejects_an_empty_file():
    with pytest.raises(UnprocessableError) as exc:
        inspect(b"")

    assert exc.value.code == "empty_file"
    assert exc.value.message == images.ERR_EMPTY


def test_ingest_rejects_a_file_over_the_byte_cap():
    with pytest.raises(PayloadTooLargeError) as exc:
        inspect(jpeg_bytes(seed=4), max_bytes=100)

    assert exc.value.code == "file_too_large"
    assert exc.value.status_code == 413


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (pdf_bytes(), "a PDF document"),
        (html_bytes(), "a web page"),
        (svg_bytes(), "an SVG or XML file"),
        (gif_bytes(), "a GIF"),
        (heic_header(), "a HEIC photo; set the camera to 'Most compatible' or share as JPEG"),
        (b"just some text", "another kind of file"),
    ],
    ids=["pdf", "html", "svg", "gif", "heic", "text"],
)
def test_ingest_rejects_other_types_by_content(content, kind):
    with pytest.raises(UnsupportedMediaTypeError) as exc:
        inspect(content)

    assert exc.value.code == "unsupported_image_type"
    assert exc.value.status_code == 415
    assert exc.value.message == images.ERR_NOT_IMAGE.format(kind=kind)


def test_ingest_rejects_a_truncated_jpeg():
    content = jpeg_bytes(400, 300, seed=5)

    with pytest.raises(UnprocessableError) as exc:
        inspect(content[: len(content) // 2])

    assert exc.value.code == "image_corrupt"
    assert exc.value.message == images.ERR_CORRUPT


def test_ingest_rejects_a_jpeg_signature_followed_by_garbage():
    with pytest.raises(UnprocessableError) as exc:
        inspect(b"\xff\xd8\xff\xe0" + bytes(200))

    assert exc.value.code == "image_corrupt"


def test_ingest_rejects_pixels_over_the_cap_from_the_header():
    with pytest.raises(UnprocessableError) as exc:
        inspect(png_bytes(100, 100, seed=6), max_pixels=9_999)

    assert exc.value.code == "image_too_many_pixels"
    assert exc.value.details == {"width": 100, "height": 100, "max_pixels": 9_999}


def test_ingest_rejects_a_20000x20000_png_without_decoding_it():
    content = png_header_bytes(20_000, 20_000)
    assert len(content) < 200  # the bomb is in the header, not in the bytes

    with pytest.raises(UnprocessableError) as exc:
        inspect(content)

    assert exc.value.code == "image_too_many_pixels"
    assert exc.value.status_code == 422
    assert exc.value.message == images.ERR_PIXEL_BOMB.format(limit_mp=50)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_ingest_rejects_a_100_megapixel_png_with_its_size():
    with pytest.raises(UnprocessableError) as exc:
        inspect(png_header_bytes(10_000, 10_000))

    assert exc.value.code == "image_too_many_pixels"
    assert exc.value.message == images.ERR_TOO_MANY_PIXELS.format(
        width=10_000, height=10_000, limit_mp=50
    )


def test_working_copy_applies_orientation_and_drops_every_metadata():
    content = two_tone_jpeg(exif=gps_exif(orientation=6), comment=b"owner: J. Smith")

    working_bytes, grey = images.working_copy(io.BytesIO(content), max_side=3072)

    with Image.open(io.BytesIO(working_bytes)) as working:
        assert working.format == "JPEG"
        assert working.size == (80, 120)
        assert dict(working.getexif()) == {}
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(working.info)
        rgb = working.convert("RGB")
        # Orientation 6 turns the stored top (red) to the right and the bottom (blue) left.
        red, _, blue = rgb.getpixel((70, 60))
        assert red > 200 and blue < 60
        red, _, blue = rgb.getpixel((10, 60))
        assert blue > 200 and red < 60
    assert b"SN-0042-SECRET" not in working_bytes
    assert b"PhoneMaker" not in working_bytes
    assert grey.shape == (120, 80)


def test_working_copy_caps_the_long_side():
    content = jpeg_bytes(400, 200, seed=7)

    working_bytes, grey = images.working_copy(io.BytesIO(content), max_side=100)

    with Image.open(io.BytesIO(working_bytes)) as working:
        assert working.size == (100, 50)
    assert grey.shape == (50, 100)


def test_working_copy_flattens_a_transparent_png_onto_white():
    img = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")

    working_bytes, _ = images.working_copy(out, max_side=3072)

    with Image.open(io.BytesIO(working_bytes)) as working:
        assert working.mode == "RGB"
        assert working.getpixel((20, 15)) == pytest.approx((255, 255, 255), abs=2)


def test_working_copy_drops_png_text_chunks():
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Location", "51.5N 0.1W")
    out = io.BytesIO()
    Image.fromarray(noise_array(40, 30, seed=8)).save(out, "PNG", pnginfo=meta)

    working_bytes, _ = images.working_copy(out, max_side=3072)

    assert b"51.5N" not in working_bytes


def grey_of(array: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(array).convert("L"))


def test_quality_check_is_silent_for_a_sharp_well_exposed_photo():
    quality = images.quality_check(grey_of(noise_array(512, 400, seed=9)), width=4000, height=3000)

    assert quality.warnings == []
    assert quality.metrics["short_side"] == 3000
    assert quality.metrics["sharpness"] > images.MIN_SHARPNESS


def codes(quality) -> list[str]:
    return [w["code"] for w in quality.warnings]


def test_quality_check_warns_about_a_small_photo():
    quality = images.quality_check(grey_of(noise_array(320, 240, seed=10)), width=320, height=240)

    assert codes(quality) == ["too_small"]
    assert quality.warnings[0]["message"] == images.WARN_TOO_SMALL.format(width=320, height=240)


def test_quality_check_warns_about_a_dark_photo():
    grey = (grey_of(noise_array(512, 400, seed=11)) // 8).astype(np.uint8)

    quality = images.quality_check(grey, width=4000, height=3000)

    assert codes(quality) == ["too_dark"]
    assert quality.warnings[0]["message"] == images.WARN_TOO_DARK


def test_quality_check_warns_about_a_bright_photo():
    grey = (255 - grey_of(noise_array(512, 400, seed=12)) // 8).astype(np.uint8)

    quality = images.quality_check(grey, width=4000, height=3000)

    assert codes(quality) == ["too_bright"]
    assert quality.warnings[0]["message"] == images.WARN_TOO_BRIGHT


def test_quality_check_warns_about_a_blurry_photo():
    # A smooth horizontal gradient: well exposed, but no edges at all.
    grey = np.tile(np.linspace(60, 190, 512).astype(np.uint8), (400, 1))

    quality = images.quality_check(grey, width=4000, height=3000)

    assert codes(quality) == ["too_blurry"]
    assert quality.warnings[0]["message"] == images.WARN_TOO_BLURRY
    assert quality.metrics["sharpness"] < images.MIN_SHARPNESS
