"""factory_boy factories for the claims app, and builders of the image bytes tests upload."""

import hashlib
import io
import itertools
import struct
import uuid
import zlib
from datetime import timedelta

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone
from factory.django import DjangoModelFactory
from PIL import Image

from claims.models import Claim, Photo
from claims.roles import Role

PASSWORD = "a-Long-test-passphrase-42"

_seeds = itertools.count(1)


# --- image bytes ------------------------------------------------------------------------


def noise_array(width: int, height: int, *, seed: int | None = None) -> np.ndarray:
    """Mid-grey noise: sharp and well exposed, so the quality check has nothing to say."""
    rng = np.random.default_rng(next(_seeds) if seed is None else seed)
    return rng.integers(60, 200, size=(height, width, 3), dtype=np.uint8)


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def jpeg_bytes(width: int = 96, height: int = 64, *, seed: int | None = None, **params) -> bytes:
    """A small JPEG, different on every call unless ``seed`` is given."""
    return encode(Image.fromarray(noise_array(width, height, seed=seed)), "JPEG", **params)


def png_bytes(width: int = 96, height: int = 64, *, mode: str = "RGB", seed=None) -> bytes:
    img = Image.fromarray(noise_array(width, height, seed=seed)).convert(mode)
    return encode(img, "PNG")


def webp_bytes(width: int = 96, height: int = 64, *, seed: int | None = None) -> bytes:
    return encode(Image.fromarray(noise_array(width, height, seed=seed)), "WEBP")


def gif_bytes() -> bytes:
    return encode(Image.new("P", (16, 16)), "GIF")


def heic_header() -> bytes:
    """The start of an iPhone HEIC file: an ISO-BMFF ``ftyp`` box with brand ``heic``."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + bytes(64)


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def html_bytes() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def svg_bytes() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_bytes(width: int, height: int) -> bytes:
    """A valid-looking PNG that declares ``width`` x ``height`` but holds one tiny row.

    A decompression bomb in miniature: the header is all a decoder needs to allocate the
    declared pixels, so the test never builds them.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + bytes(3 * min(width, 16)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def two_tone_jpeg(*, exif: Image.Exif | None = None, **params) -> bytes:
    """120x80 as stored: red top half, blue bottom half (for orientation checks)."""
    img = Image.new("RGB", (120, 80), (255, 0, 0))
    img.paste((0, 0, 255), (0, 40, 120, 80))
    if exif is not None:
        params["exif"] = exif
    return encode(img, "JPEG", quality=95, **params)


def gps_exif(*, orientation: int = 6) -> Image.Exif:
    """EXIF as a phone writes it: orientation, camera, serial number and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15"
    exif[0x8769] = {0xA431: "SN-0042-SECRET"}  # Exif IFD: BodySerialNumber
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 40.0)}  # GPS IFD
    return exif


# --- models -----------------------------------------------------------------------------


def _add_roles(user, roles) -> None:
    for role in roles or ():
        group, _ = Group.objects.get_or_create(name=str(role))
        user.groups.add(group)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            _add_roles(obj, extracted)


class CustomerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"customer{n}")

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            _add_roles(obj, [Role.CUSTOMER] if extracted is None else extracted)


class AdjusterFactory(UserFactory):
    username = factory.Sequence(lambda n: f"adjuster{n}")

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            _add_roles(obj, [Role.ADJUSTER] if extracted is None else extracted)


class SeniorAdjusterFactory(UserFactory):
    username = factory.Sequence(lambda n: f"senior{n}")

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            _add_roles(obj, [Role.SENIOR_ADJUSTER] if extracted is None else extracted)


class DataTeamFactory(UserFactory):
    username = factory.Sequence(lambda n: f"data{n}")

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create:
            _add_roles(obj, [Role.DATA_TEAM] if extracted is None else extracted)


class ClaimFactory(DjangoModelFactory):
    class Meta:
        model = Claim

    class Params:
        submitted = factory.Trait(
            status=Claim.Status.SUBMITTED,
            submitted_at=factory.LazyFunction(timezone.now),
            enqueued_at=factory.LazyFunction(timezone.now),
        )

    owner = factory.SubFactory(CustomerFactory)
    reference = factory.Sequence(lambda n: f"CLM-2025-T{n:05d}")
    policy_number = factory.Sequence(lambda n: f"POL-{n:06d}")
    vehicle_make = "Toyota"
    vehicle_model = "Corolla"
    vehicle_year = 2019
    incident_date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=2))
    description = "Rear bumper dented in a car park."


class PhotoFactory(DjangoModelFactory):
    """A stored photo: original and working copy on disk under generated names."""

    class Meta:
        model = Photo

    class Params:
        content = factory.LazyFunction(jpeg_bytes)

    id = factory.LazyFunction(uuid.uuid4)
    claim = factory.SubFactory(ClaimFactory)
    original = factory.LazyAttribute(
        lambda o: ContentFile(o.content, name=f"{o.claim.pk}/{o.id}.jpg")
    )
    working = factory.LazyAttribute(
        lambda o: ContentFile(o.content, name=f"{o.claim.pk}/{o.id}.jpg")
    )
    original_name = "bumper.jpg"
    image_format = "JPEG"
    size_bytes = factory.LazyAttribute(lambda o: len(o.content))
    width = 96
    height = 64
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.content).hexdigest())
