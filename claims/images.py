"""Upload validation and the metadata-free working copy of a customer photo.

The type is decided by the file's first bytes, never by its name or the client's header; the
pixel count is checked from the header before anything is decoded (decompression bombs), and
one decode that reads every byte (at reduced scale for a JPEG) proves the file is complete and
yields the working copy. That copy is re-encoded from pixels alone, so no
EXIF (GPS, serial numbers, thumbnails), XMP, ICC or text chunk survives it.
"""

import hashlib
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import cv2
import numpy as np
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from config.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError

# Never hand back half an image: a truncated upload is an error, not a grey bottom half.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ERR_EMPTY = _("The file is empty. Choose the photo again.")
ERR_TOO_LARGE = _("The photo is larger than {limit_mb} MB. Send a smaller photo.")
ERR_NOT_IMAGE = _(
    "This file is not a JPEG, PNG or WebP photo (it looks like {kind}). Take or choose a photo."
)
ERR_TOO_MANY_PIXELS = _(
    "The image is {width}x{height} pixels, more than the {limit_mp} megapixels we accept."
)
# Pillow itself refuses a header past twice its own limit, before the size is handed to us.
ERR_PIXEL_BOMB = _("The image has more pixels than the {limit_mp} megapixels we accept.")
ERR_CORRUPT = _("The photo is damaged or incomplete (the upload may have been cut off). Try again.")

# Stored with the photo in English (staff read them too), translated when shown to a customer
# (quality_warning_text): marked for translation here, not translated here.
WARN_TOO_SMALL = gettext_noop(
    "The photo is small ({width}x{height}); damage may not be visible. Retake it closer."
)
WARN_TOO_BLURRY = gettext_noop("The photo looks blurry. Hold the phone still and retake it.")
WARN_TOO_DARK = gettext_noop("The photo is too dark. Retake it in better light.")
WARN_TOO_BRIGHT = gettext_noop(
    "The photo is too bright or has glare. Retake it out of direct light."
)
_WARNING_TEXT = {
    "too_small": WARN_TOO_SMALL,
    "too_blurry": WARN_TOO_BLURRY,
    "too_dark": WARN_TOO_DARK,
    "too_bright": WARN_TOO_BRIGHT,
}
QUALITY_WARNINGS = ("too_small", "too_blurry", "too_dark", "too_bright")  # the codes below

# Thresholds for the quality check, measured on a 512 px grey copy. A photo under 640 px on its
# short side shows a whole car panel at under 1 px per mm; blur and exposure limits are the
# usual variance-of-Laplacian and mean-luminance cut-offs, set conservatively so that only
# clearly bad photos warn (a warning never blocks).
MIN_SHORT_SIDE = 640
MIN_SHARPNESS = 30.0
MIN_BRIGHTNESS = 40.0
MAX_BRIGHTNESS = 220.0

WORKING_JPEG_QUALITY = 90

_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("JPEG", b"\xff\xd8\xff", 0),
    ("PNG", b"\x89PNG\r\n\x1a\n", 0),
)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # after EXIF orientation
    height: int
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Quality:
    warnings: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def sniff_format(head: bytes) -> str | None:
    """The image format from magic bytes: JPEG, PNG, WEBP, or None."""
    for name, magic, offset in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _describe(head: bytes) -> str:
    lowered = head[:256].lstrip().lower()
    if head.startswith(b"%PDF"):
        return gettext("a PDF document")
    if lowered.startswith((b"<!doctype html", b"<html")):
        return gettext("a web page")
    if b"<svg" in lowered or lowered.startswith(b"<?xml"):
        return gettext("an SVG or XML file")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return gettext("a HEIC photo; set the camera to 'Most compatible' or share as JPEG")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return gettext("a GIF")
    return gettext("another kind of file")


def _check_bytes(fileobj: IO[bytes], max_bytes: int) -> tuple[int, str, str]:
    """Size, format by magic bytes and SHA-256, before any decoding."""
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    if size == 0:
        raise UnprocessableError(ERR_EMPTY, code="empty_file")
    if size > max_bytes:
        raise PayloadTooLargeError(ERR_TOO_LARGE.format(limit_mb=max_bytes // (1024 * 1024)))
    head = fileobj.read(64)
    fmt = sniff_format(head)
    if fmt is None:
        raise UnsupportedMediaTypeError(
            ERR_NOT_IMAGE.format(kind=_describe(head)), code="unsupported_image_type"
        )
    fileobj.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return size, fmt, digest.hexdigest()


@contextmanager
def _decoded(fileobj: IO[bytes], fmt: str, *, max_pixels: int, max_side: int):
    """Open with the pixel cap checked from the header, then decode every byte.

    A JPEG is decoded in draft mode (libjpeg's DCT scaling at 1/2, 1/4 or 1/8) just above
    ``max_side``: still every entropy-coded byte is read, so truncation is caught, at a fraction
    of the cost of a full decode. Errors become the precise 4xx the API promises.
    """
    fileobj.seek(0)
    try:
        with Image.open(fileobj, formats=[fmt]) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise UnprocessableError(
                    ERR_TOO_MANY_PIXELS.format(
                        width=width, height=height, limit_mp=max_pixels // 1_000_000
                    ),
                    code="image_too_many_pixels",
                    details={"width": width, "height": height, "max_pixels": max_pixels},
                )
            if fmt == "JPEG":
                img.draft("RGB", draft_request(width, height, max_side))
            img.load()  # decode: a truncated or corrupt file fails here
            yield img, width, height
    except UnprocessableError:
        raise
    except Image.DecompressionBombError:
        raise UnprocessableError(
            ERR_PIXEL_BOMB.format(limit_mp=max_pixels // 1_000_000),
            code="image_too_many_pixels",
            details={"max_pixels": max_pixels},
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnprocessableError(ERR_CORRUPT, code="image_corrupt") from None
    finally:
        fileobj.seek(0)


def draft_request(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size to ask libjpeg's draft mode for, so the decoded long side lands in
    (max_side / 2, max_side]: draft picks the largest reduction whose result is at least the
    requested size, so asking for half the cap never reduces below half of it."""
    long_side = max(width, height)
    if long_side <= max_side:
        return width, height
    factor = max_side / long_side / 2
    return int(width * factor) + 1, int(height * factor) + 1


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except (ValueError, TypeError, OSError):  # a broken EXIF block must not reject the photo
        return 1


def ingest(
    fileobj: IO[bytes], *, max_bytes: int, max_pixels: int, max_side: int
) -> tuple[ImageInfo, bytes, np.ndarray]:
    """Validate, hash and make the working copy from a single (reduced) decode.

    Returns the photo's facts (size after EXIF orientation, at full resolution), the working
    copy's JPEG bytes and a small grey copy for the quality check.
    """
    size, fmt, sha256 = _check_bytes(fileobj, max_bytes)
    with _decoded(fileobj, fmt, max_pixels=max_pixels, max_side=max_side) as (img, width, height):
        orientation = _orientation(img)
        working, grey = _encode_working(img, max_side)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    info = ImageInfo(format=fmt, width=width, height=height, size_bytes=size, sha256=sha256)
    return info, working, grey


def _encode_working(img: Image.Image, max_side: int) -> tuple[bytes, np.ndarray]:
    upright = ImageOps.exif_transpose(img)
    if upright.mode in ("RGBA", "LA", "P", "PA"):
        upright = upright.convert("RGBA")
        background = Image.new("RGB", upright.size, (255, 255, 255))
        background.paste(upright, mask=upright.getchannel("A"))
        upright = background
    elif upright.mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits, not clip
        upright = upright.point(lambda v: v / 256).convert("L").convert("RGB")
    elif upright.mode != "RGB":
        upright = upright.convert("RGB")
    upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Pillow's JPEG writer copies a comment (COM) from ``info``, and exif_transpose and
    # convert carry the original's ``info`` over: empty it so only pixels are written.
    upright.info = {}
    out = io.BytesIO()
    # No exif=, icc_profile= or comment: the new file carries pixels only.
    upright.save(out, format="JPEG", quality=WORKING_JPEG_QUALITY, optimize=False)
    grey = upright.convert("L")
    grey.thumbnail((512, 512), Image.Resampling.BILINEAR)
    return out.getvalue(), np.asarray(grey)


def working_copy(fileobj: IO[bytes], *, max_side: int) -> tuple[bytes, np.ndarray]:
    """Re-encode a stored photo upright, capped at ``max_side``, without any metadata
    (used to re-create a lost working copy from the original)."""
    fileobj.seek(0)
    with Image.open(fileobj) as img:
        if img.format == "JPEG":
            img.draft("RGB", draft_request(*img.size, max_side))
        result = _encode_working(img, max_side)
    fileobj.seek(0)
    return result


def quality_check(grey: np.ndarray, *, width: int, height: int) -> Quality:
    """Warnings a customer can act on (retake), with the numbers behind them."""
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    brightness = float(grey.mean())
    metrics = {
        "sharpness": round(sharpness, 2),
        "brightness": round(brightness, 2),
        "short_side": min(width, height),
    }
    warnings = []
    if min(width, height) < MIN_SHORT_SIDE:
        warnings.append(
            {"code": "too_small", "message": WARN_TOO_SMALL.format(width=width, height=height)}
        )
    if sharpness < MIN_SHARPNESS:
        warnings.append({"code": "too_blurry", "message": WARN_TOO_BLURRY})
    if brightness < MIN_BRIGHTNESS:
        warnings.append({"code": "too_dark", "message": WARN_TOO_DARK})
    elif brightness > MAX_BRIGHTNESS:
        warnings.append({"code": "too_bright", "message": WARN_TOO_BRIGHT})
    return Quality(warnings=warnings, metrics=metrics)


def quality_warning_text(warning: dict) -> str:
    """A stored quality warning in the current language. A message this module did not write
    (another wording, an older version) is shown as stored."""
    stored = str(warning.get("message", ""))
    text = _WARNING_TEXT.get(warning.get("code", ""))
    if text is None:
        return stored
    size = re.search(r"\((\d+)x(\d+)\)", stored)  # too_small keeps the size it measured
    width, height = size.groups() if size else ("", "")
    if stored != text.format(width=width, height=height):
        return stored
    return gettext(text).format(width=width, height=height)
