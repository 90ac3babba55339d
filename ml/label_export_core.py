"""The shared core of ``ml.label_export``: formats, splits and sources, the records a caller
passes in, masks at image resolution and their polygons, and the zip plumbing every format
writes its members through (fixed timestamps and modes, spooled JSON arrays)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import cv2
import numpy as np

from ml.labels import LabelMap

FORMATS = ("coco", "voc", "yolo", "labelstudio", "csv")
SPLITS = ("train", "eval")
# model: a prediction; human: drawn or changed by a person; accepted: a prediction a person
# accepted unchanged (it keeps the model's score, and is no evidence a person drew it).
SOURCES = ("model", "human", "accepted")
FORMAT_VERSION = 1

# Zip entries carry this timestamp (the zip epoch) and mode, never the time of the export.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644  # regular file, rw-r--r--
# Copy buffer for streamed members: large enough for throughput, small enough for any worker.
CHUNK_BYTES = 1024 * 1024

ERR_FORMAT = "unknown export format {name!r}; choose from " + ", ".join(FORMATS)
ERR_SPLIT = "split must be one of train, eval"
ERR_SOURCE = "region source must be model, human or accepted"
ERR_SHAPE = "region mask {shape} does not match the image ({height}, {width})"
ERR_CLOSED = "the export is closed"


@dataclass(eq=False)
class ExportRegion:
    """One region at image resolution. ``source``: ``model`` (a prediction), ``human`` (drawn
    or changed by a person) or ``accepted`` (a prediction a person accepted unchanged)."""

    index: int
    label: str
    mask: np.ndarray  # bool, image height x width
    severity: str | None
    source: str
    score: float | None = None
    model_version: str | None = None
    reviewer: str | None = None
    source_index: int | None = None  # for human regions: the prediction it started from
    part: str | None = None  # the car part it sits on (ml.labels.PartMap name), where known

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(ERR_SOURCE)

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    def bbox(self) -> list[int]:
        """``[x, y, w, h]`` in image pixels; zeros for an empty mask."""
        ys = np.flatnonzero(self.mask.any(axis=1))
        xs = np.flatnonzero(self.mask.any(axis=0))
        if len(xs) == 0:
            return [0, 0, 0, 0]
        return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


ImageSource = bytes | str | Path | Callable[[], BinaryIO]


@dataclass(eq=False)
class ExportImage:
    """One photo and its labels.

    ``labels`` are what COCO, VOC, YOLO and the region CSV carry: the adjuster's regions for a
    reviewed photo, the model's for one that was not reviewed. ``predictions`` are the model's
    regions (Label Studio ``predictions``); for a reviewed photo ``labels`` also become its
    Label Studio ``annotations``. ``key`` names the photo's files and must be unique.
    """

    key: str
    split: str
    width: int
    height: int
    image: ImageSource
    labels: list[ExportRegion] = field(default_factory=list)
    predictions: list[ExportRegion] = field(default_factory=list)
    reviewed: bool = False
    image_ext: str = "jpg"
    photo_score: float | None = None  # the model's confidence for the whole photo
    meta: dict[str, Any] = field(default_factory=dict)  # photo_id, claim_id, labels_version...
    ledger: list[dict[str, Any]] = field(default_factory=list)  # rows with LEDGER_CSV_FIELDS

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(ERR_SPLIT)
        for region in [*self.labels, *self.predictions]:
            if region.mask.shape != (self.height, self.width):
                raise ValueError(
                    ERR_SHAPE.format(shape=region.mask.shape, height=self.height, width=self.width)
                )

    @property
    def image_name(self) -> str:
        return f"images/{self.split}/{self.key}.{self.image_ext}"


def upsample_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``height`` x ``width``.

    Image pixel ``(y, x)`` takes mask cell ``floor((y + 0.5) * h / height)`` (same for x): the
    cell under the pixel's centre. Exact for integer factors, never invents a value.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    if (h, w) == (height, width):
        return mask.copy()
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return mask[rows[:, None], cols[None, :]]


def export_polygons(mask: np.ndarray, tolerance: float = 1.0) -> list[list[float]]:
    """``ml.coco.mask_to_polygons``, with no part of the mask lost.

    Simplifying a one- or two-pixel-thin part (a scratch on a small image) leaves fewer than
    three vertices, and such a part would vanish from YOLO and give COCO an empty
    ``segmentation`` that pycocotools' ``annToMask`` cannot read. Those parts are traced again
    unsimplified, and a part that is still degenerate (a single pixel, a one-pixel line) becomes
    the rectangle around its pixels, half a pixel out from their centres.
    """
    m = np.ascontiguousarray(np.asarray(mask, dtype=np.uint8))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    h, w = m.shape
    out = []
    for c in contours:
        simplified = cv2.approxPolyDP(c, tolerance, True) if tolerance > 0 else c
        if len(simplified) >= 3:
            out.append([float(v) for v in simplified.reshape(-1)])
        elif len(c) >= 3:
            out.append([float(v) for v in c.reshape(-1)])
        else:
            xs, ys = c[:, 0, 0], c[:, 0, 1]
            x0, x1 = max(float(xs.min()) - 0.5, 0.0), min(float(xs.max()) + 0.5, w - 1.0)
            y0, y1 = max(float(ys.min()) - 0.5, 0.0), min(float(ys.max()) + 0.5, h - 1.0)
            out.append([x0, y0, x1, y0, x1, y1, x0, y1])
    return out


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def _zinfo(name: str, *, compress: bool = True, size: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.create_system = 3  # Unix, so the mode below is read the same everywhere
    info.external_attr = ZIP_FILE_MODE << 16
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    if size is not None:
        info.file_size = size  # lets zipfile pick ZIP64 up front for a very large member
    return info


class _JsonArray:
    """A JSON array spooled to a temporary file one element at a time."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the writer
        self.count = 0

    def append(self, item: Any) -> None:
        self.file.write(b"," if self.count else b"")
        self.file.write(_json(item).encode("ascii"))
        self.count += 1


class _Members:
    """Writing one zip member; shared by the format mixins, whose state (the open zip, the
    label map, the names written so far) ``LabelExportWriter.__init__`` sets up."""

    zip: zipfile.ZipFile
    label_map: LabelMap
    counts: dict[str, Any]
    _names: set[str]

    def _write_bytes(self, name: str, data: bytes, *, compress: bool = True) -> None:
        if name in self._names:
            raise ValueError(f"duplicate export member {name}")
        self._names.add(name)
        self.zip.writestr(_zinfo(name, compress=compress, size=len(data)), data)

    def _write_stream(self, name: str, source: IO[bytes], *, size: int | None = None) -> None:
        if name in self._names:
            raise ValueError(f"duplicate export member {name}")
        self._names.add(name)
        compress = not name.endswith((".jpg", ".jpeg", ".png", ".webp"))
        with self.zip.open(_zinfo(name, compress=compress, size=size), "w") as out:
            shutil.copyfileobj(source, out, CHUNK_BYTES)

    def _write_spool(self, name: str, spool: IO[bytes], prefix: bytes = b"", suffix=b"") -> None:
        size = spool.seek(0, io.SEEK_END) + len(prefix) + len(suffix)
        spool.seek(0)
        self._names.add(name)
        with self.zip.open(_zinfo(name, size=size), "w") as out:
            out.write(prefix)
            shutil.copyfileobj(spool, out, CHUNK_BYTES)
            out.write(suffix)

    def _write_image(self, image: ExportImage) -> None:
        source = image.image
        if isinstance(source, bytes):
            self._write_bytes(image.image_name, source, compress=False)
        elif isinstance(source, str | Path):
            with open(source, "rb") as handle:
                self._write_stream(image.image_name, handle, size=Path(source).stat().st_size)
        else:
            with source() as handle:
                self._write_stream(image.image_name, handle)

    def _category_id(self, region: ExportRegion) -> int:
        return self.label_map.by_name(region.label).id
