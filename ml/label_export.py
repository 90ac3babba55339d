"""Label exports for data teams: one zip holding COCO, VOC PNG masks, YOLO segmentation,
Label Studio tasks and CSV summaries, written from plain records (no Django).

The archive is written member by member (images streamed, per-image masks one at a time, the
big JSON/CSV files spooled to temporary files and copied in at the end), so an export of any
size never sits in memory. Every member has a fixed timestamp and mode and the members come in
the order the records are given, so the same records give the same bytes.

Masks arrive on whatever grid they were stored on and are exported at the image's resolution:
:func:`upsample_mask` maps each image pixel's centre to the nearest mask-grid cell (nearest
neighbour, no smoothing), so a label never gains a class it did not have.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO
from xml.sax.saxutils import quoteattr

import cv2
import numpy as np
from PIL import Image

from ml.coco import Region, mask_to_rle, semantic_mask
from ml.labels import LabelMap

FORMATS = ("coco", "voc", "yolo", "labelstudio", "csv")
SPLITS = ("train", "eval")
# model: a prediction; human: drawn or changed by a person; accepted: a prediction a person
# accepted unchanged (it keeps the model's score, and is no evidence a person drew it).
SOURCES = ("model", "human", "accepted")
# Label Studio's own words for where an annotation's region came from.
LS_ORIGINS = {"model": "prediction", "accepted": "prediction", "human": "prediction-changed"}
FORMAT_VERSION = 1

# Zip entries carry this timestamp (the zip epoch) and mode, never the time of the export.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644  # regular file, rw-r--r--
# Copy buffer for streamed members: large enough for throughput, small enough for any worker.
CHUNK_BYTES = 1024 * 1024

# Label Studio brush RLE parameters, as label-studio-converter's ``encode_rle`` writes them.
LS_WORD_SIZE = 8
LS_RLE_SIZES = (3, 4, 8, 16)
LS_FROM_NAME = "damage"
LS_SEVERITY_FROM_NAME = "severity"
LS_TO_NAME = "image"

ERR_FORMAT = "unknown export format {name!r}; choose from " + ", ".join(FORMATS)
ERR_SPLIT = "split must be one of train, eval"
ERR_SOURCE = "region source must be model, human or accepted"
ERR_SHAPE = "region mask {shape} does not match the image ({height}, {width})"
ERR_CLOSED = "the export is closed"
ERR_LS_RLE = "not a Label Studio brush RLE"

REGION_CSV_FIELDS = (
    "photo_id",
    "claim_id",
    "split",
    "reviewed",
    "source",
    "region_index",
    "label",
    "category_id",
    "severity",
    "score",
    "model_version",
    "reviewer",
    "area_px",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "part",
)
LEDGER_CSV_FIELDS = (
    "photo_id",
    "claim_id",
    "labels_version",
    "current",
    "action",
    "source_index",
    "region_index",
    "iou",
    "model_confidence",
    "from_label",
    "to_label",
    "from_severity",
    "to_severity",
    "reviewer",
    "active_ms",
    "model_version",
)


# --------------------------------------------------------------------------- records


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


# --------------------------------------------------------------------------- masks


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


def voc_colormap(n: int = 256) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (bit-interleaved), used for ``SegmentationObject`` PNGs."""
    cmap = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap.append((r, g, b))
    cmap[255] = (224, 224, 192)  # VOC's void colour
    return cmap


def class_map(image: ExportImage, label_map: LabelMap) -> np.ndarray:
    """uint8 class ids of ``image.labels`` (``ml.coco.semantic_mask`` painting order)."""
    regions = [Region(class_id=label_map.by_name(r.label).id, mask=r.mask) for r in image.labels]
    return semantic_mask(regions, image.height, image.width)


def object_map(image: ExportImage) -> np.ndarray:
    """uint8 instance numbers (1 = first label region), larger regions painted first."""
    out = np.zeros((image.height, image.width), dtype=np.uint8)
    order = sorted(range(len(image.labels)), key=lambda i: -image.labels[i].area)
    for i in order:
        out[image.labels[i].mask] = i + 1
    return out


def _png_bytes(values: np.ndarray, palette: Sequence[tuple[int, int, int]]) -> bytes:
    png = Image.frombytes("P", (values.shape[1], values.shape[0]), values.tobytes())
    png.putpalette([v for rgb in palette for v in rgb])
    out = io.BytesIO()
    png.save(out, format="PNG", optimize=False)
    return out.getvalue()


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


def yolo_polygons(mask: np.ndarray, tolerance: float = 1.0) -> list[list[float]]:
    """Outer contours as normalised ``[x0, y0, x1, y1, ...]`` (pixel-centre coordinates / size).

    The convention of OpenCV's ``findContours`` / ``fillPoly`` (which Ultralytics uses to
    rasterise YOLO polygons): a vertex ``(x, y)`` is the centre of pixel ``(x, y)``.
    """
    h, w = mask.shape
    rows = []
    for poly in export_polygons(mask, tolerance=tolerance):
        xs, ys = poly[0::2], poly[1::2]
        rows.append([v for x, y in zip(xs, ys, strict=True) for v in (x / w, y / h)])
    return rows


def yolo_rasterise(rows: Iterable[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Bool mask from normalised YOLO polygons, drawn as Ultralytics does (``cv2.fillPoly``)."""
    out = np.zeros((height, width), dtype=np.uint8)
    for row in rows:
        pts = np.asarray(row, dtype=np.float64).reshape(-1, 2) * (width, height)
        cv2.fillPoly(out, [np.round(pts).astype(np.int32)], 1)
    return out.astype(bool)


# --------------------------------------------------------------------------- Label Studio RLE


def ls_encode_rle(values: np.ndarray) -> list[int]:
    """Label Studio's brush RLE of a flat uint8 array (label-studio-converter ``encode_rle``).

    Header: 32-bit value count, 5-bit word size - 1, four 4-bit run-length field sizes - 1.
    Then per run: a 1-bit series flag, a 2-bit index into the run-length sizes, the run length
    - 1 and the 8-bit value; a lone value is written as a non-series of length 1. The bit
    string is padded with zeros to whole bytes (always at least one zero, as the reference
    implementation does).
    """
    arr = np.asarray(values, dtype=np.uint8).ravel()
    parts = [
        f"{len(arr):032b}",
        f"{LS_WORD_SIZE - 1:05b}",
        "".join(f"{s - 1:04b}" for s in LS_RLE_SIZES),
    ]
    if len(arr):
        change = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        starts = np.concatenate(([0], change))
        lengths = np.diff(np.concatenate((starts, [len(arr)])))
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            value = f"{int(arr[start]):08b}"
            if length == 1:
                parts.append("0" + "00" + "000" + value)
                continue
            while length > 2**16:
                parts.append("1" + "11" + f"{2**16 - 1:016b}" + value)
                length -= 2**16
            for code, size in enumerate(LS_RLE_SIZES):
                if length <= 2**size:
                    parts.append("1" + f"{code:02b}" + f"{length - 1:0{size}b}" + value)
                    break
    bits = "".join(parts)
    bits += "0" * (8 - len(bits) % 8)
    return list(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def ls_decode_rle(rle: Sequence[int]) -> np.ndarray:
    """Flat uint8 array from Label Studio's brush RLE (inverse of :func:`ls_encode_rle`)."""
    bits = "".join(f"{b:08b}" for b in rle)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > len(bits):
            raise ValueError(ERR_LS_RLE)
        value = int(bits[pos : pos + n], 2) if n else 0
        pos += n
        return value

    num = read(32)
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, dtype=np.uint8)
    i = 0
    while i < num:
        series = read(1)
        j = i + 1 + read(sizes[read(2)])
        if series:
            out[i:j] = read(word)
            i = j
        else:
            while i < j:
                out[i] = read(word)
                i += 1
    return out


def ls_mask_to_rle(mask: np.ndarray) -> list[int]:
    """A brush mask as Label Studio stores it: RGBA, every channel 255 inside (``mask2rle``)."""
    values = np.asarray(mask, dtype=bool).astype(np.uint8) * 255
    return ls_encode_rle(np.repeat(values.ravel(), 4))


def ls_rle_to_mask(rle: Sequence[int], height: int, width: int) -> np.ndarray:
    """Bool mask from a brush RLE: the alpha channel, as Label Studio draws it."""
    flat = ls_decode_rle(rle)
    return flat.reshape(height, width, 4)[:, :, 3] > 0


def label_studio_config(label_map: LabelMap) -> str:
    """A labelling config matching the exported tasks (brush labels, severity per region)."""
    labels = "\n".join(
        f"    <Label value={quoteattr(c.name)} background={quoteattr(c.colour)}/>"
        for c in sorted(label_map.classes, key=lambda c: c.id)
    )
    return (
        "<View>\n"
        f'  <Image name="{LS_TO_NAME}" value="$image" zoom="true"/>\n'
        f'  <BrushLabels name="{LS_FROM_NAME}" toName="{LS_TO_NAME}">\n'
        f"{labels}\n"
        "  </BrushLabels>\n"
        f'  <Choices name="{LS_SEVERITY_FROM_NAME}" toName="{LS_TO_NAME}" perRegion="true">\n'
        '    <Choice value="minor"/>\n    <Choice value="moderate"/>\n'
        '    <Choice value="severe"/>\n'
        "  </Choices>\n"
        "</View>\n"
    )


# --------------------------------------------------------------------------- writer


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


class _CsvSpool:
    def __init__(self, fields: Sequence[str]) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the writer
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.DictWriter(self.text, fieldnames=list(fields), lineterminator="\n")
        self.writer.writeheader()
        self.count = 0

    def write(self, row: Mapping[str, Any]) -> None:
        self.writer.writerow(
            {k: "" if row.get(k) is None else row.get(k) for k in self.writer.fieldnames}
        )
        self.count += 1


def _attributes(region: ExportRegion) -> dict[str, Any]:
    return {
        "severity": region.severity,
        "source": region.source,
        "score": None if region.score is None else float(region.score),
        "model_version": region.model_version,
        "reviewer": region.reviewer,
        "source_index": region.source_index,
        "part": region.part,
    }


class LabelExportWriter:
    """Writes an export zip. ``add`` each image in the order wanted, then ``close``.

    ``target`` is a path or a seekable binary file. ``manifest`` (the query, anything the
    caller wants recorded) goes into ``manifest.json`` with the counts; it must not hold
    wall-clock times or the same query would not give the same bytes.
    """

    def __init__(
        self,
        target: str | Path | BinaryIO,
        *,
        label_map: LabelMap,
        formats: Sequence[str] = FORMATS,
        manifest: Mapping[str, Any] | None = None,
        polygons: bool = False,
        polygon_tolerance: float = 1.0,
    ) -> None:
        for name in formats:
            if name not in FORMATS:
                raise ValueError(ERR_FORMAT.format(name=name))
        self.formats = tuple(f for f in FORMATS if f in formats)
        self.label_map = label_map
        self.manifest = dict(manifest or {})
        self.polygons = polygons
        self.tolerance = polygon_tolerance
        self.zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)
        self.closed = False
        self.counts: dict[str, Any] = {
            "images": 0,
            "reviewed_images": 0,
            "label_regions": 0,
            "prediction_regions": 0,
            "ledger_entries": 0,
            "splits": {s: 0 for s in SPLITS},
        }
        self._names: set[str] = set()
        self._coco_images = _JsonArray()
        self._coco_anns = _JsonArray()
        self._coco_poly_anns = _JsonArray()
        self._ls_tasks = _JsonArray()
        self._regions_csv = _CsvSpool(REGION_CSV_FIELDS)
        self._ledger_csv = _CsvSpool(LEDGER_CSV_FIELDS)
        self._image_sets: dict[str, list[str]] = {s: [] for s in SPLITS}

    # -- members

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

    # -- per image

    def add(self, image: ExportImage) -> None:
        if self.closed:
            raise ValueError(ERR_CLOSED)
        self._write_image(image)
        image_id = self.counts["images"] + 1
        self.counts["images"] += 1
        self.counts["reviewed_images"] += int(image.reviewed)
        self.counts["label_regions"] += len(image.labels)
        self.counts["prediction_regions"] += len(image.predictions)
        self.counts["splits"][image.split] += 1
        self._image_sets[image.split].append(image.key)
        if "coco" in self.formats:
            self._add_coco(image, image_id)
        if "voc" in self.formats:
            self._write_bytes(
                f"voc/SegmentationClass/{image.key}.png",
                _png_bytes(class_map(image, self.label_map), self.label_map.palette()),
            )
            self._write_bytes(
                f"voc/SegmentationObject/{image.key}.png",
                _png_bytes(object_map(image), voc_colormap()),
            )
        if "yolo" in self.formats:
            self._write_bytes(f"labels/{image.split}/{image.key}.txt", self._yolo_rows(image))
        if "labelstudio" in self.formats:
            self._ls_tasks.append(self._ls_task(image))
        if "csv" in self.formats:
            self._add_csv(image)

    def _category_id(self, region: ExportRegion) -> int:
        return self.label_map.by_name(region.label).id

    def _add_coco(self, image: ExportImage, image_id: int) -> None:
        self._coco_images.append(
            {
                "id": image_id,
                "file_name": image.image_name,
                "width": image.width,
                "height": image.height,
                "split": image.split,
                "reviewed": image.reviewed,
                **{k: v for k, v in image.meta.items() if k not in ("split", "reviewed")},
            }
        )
        for region in image.labels:
            ann = {
                "id": self._coco_anns.count + 1,
                "image_id": image_id,
                "category_id": self._category_id(region),
                "segmentation": mask_to_rle(region.mask),
                "area": region.area,
                "bbox": region.bbox(),
                "iscrowd": 0,
                "attributes": _attributes(region),
            }
            self._coco_anns.append(ann)
            if self.polygons:
                polys = export_polygons(region.mask, tolerance=self.tolerance)
                self._coco_poly_anns.append({**ann, "segmentation": polys})

    def _yolo_rows(self, image: ExportImage) -> bytes:
        lines = []
        for region in image.labels:
            cls = self._category_id(region) - 1  # YOLO classes start at 0
            for row in yolo_polygons(region.mask, tolerance=self.tolerance):
                lines.append(" ".join([str(cls), *(f"{v:.6f}" for v in row)]))
        return "".join(f"{line}\n" for line in lines).encode("ascii")

    def _ls_results(self, regions: Sequence[ExportRegion], image: ExportImage, prefix: str):
        results = []
        for region in regions:
            common = {
                "id": f"{prefix}{region.index}",
                "to_name": LS_TO_NAME,
                "original_width": image.width,
                "original_height": image.height,
                "image_rotation": 0,
            }
            brush = {
                **common,
                "from_name": LS_FROM_NAME,
                "type": "brushlabels",
                "value": {
                    "format": "rle",
                    "rle": ls_mask_to_rle(region.mask),
                    "brushlabels": [region.label],
                },
            }
            if region.score is not None:
                brush["score"] = float(region.score)
            if prefix == "h":  # an annotation: say which regions a person drew or changed
                brush["origin"] = (
                    "manual"
                    if region.source == "human" and region.source_index is None
                    else LS_ORIGINS[region.source]
                )
            results.append(brush)
            if region.severity:
                results.append(
                    {
                        **common,
                        "from_name": LS_SEVERITY_FROM_NAME,
                        "type": "choices",
                        "value": {"choices": [region.severity]},
                    }
                )
        return results

    def _ls_task(self, image: ExportImage) -> dict[str, Any]:
        task: dict[str, Any] = {
            "data": {
                "image": image.image_name,
                "split": image.split,
                "reviewed": image.reviewed,
                **{k: v for k, v in image.meta.items() if k not in ("split", "reviewed")},
            }
        }
        if image.predictions:
            versions = sorted({r.model_version or "" for r in image.predictions})
            task["predictions"] = [
                {
                    "model_version": versions[0] if len(versions) == 1 else ",".join(versions),
                    "score": image.photo_score,
                    "result": self._ls_results(image.predictions, image, "p"),
                }
            ]
        if image.reviewed:
            task["annotations"] = [
                {"result": self._ls_results(image.labels, image, "h"), "ground_truth": True}
            ]
        return task

    def _add_csv(self, image: ExportImage) -> None:
        for region in image.labels:
            x, y, w, h = region.bbox()
            self._regions_csv.write(
                {
                    "photo_id": image.meta.get("photo_id", image.key),
                    "claim_id": image.meta.get("claim_id"),
                    "split": image.split,
                    "reviewed": int(image.reviewed),
                    "source": region.source,
                    "region_index": region.index,
                    "label": region.label,
                    "category_id": self._category_id(region),
                    "severity": region.severity,
                    "score": region.score,
                    "model_version": region.model_version,
                    "reviewer": region.reviewer,
                    "area_px": region.area,
                    "bbox_x": x,
                    "bbox_y": y,
                    "bbox_w": w,
                    "bbox_h": h,
                    "part": region.part,
                }
            )
        for entry in image.ledger:
            self._ledger_csv.write(entry)
        self.counts["ledger_entries"] += len(image.ledger)

    # -- finishing

    def _categories(self) -> list[dict[str, Any]]:
        return [
            {"id": c.id, "name": c.name, "supercategory": "damage"}
            for c in sorted(self.label_map.classes, key=lambda c: c.id)
        ]

    def _coco_head(self) -> bytes:
        info = {"description": "claimvision damage labels", "version": FORMAT_VERSION}
        return (
            '{"info":'
            + _json({**info, "label_map": self.label_map.to_dict()})
            + ',"categories":'
            + _json(self._categories())
            + ',"images":['
        ).encode("ascii")

    def _finish_coco(self) -> None:
        # images first, then annotations: two spools joined into one JSON object.
        head = self._coco_head()
        for name, anns in (("coco/instances.json", self._coco_anns),) + (
            (("coco/instances_polygons.json", self._coco_poly_anns),) if self.polygons else ()
        ):
            images = self._coco_images.file
            images.seek(0)
            size = (
                len(head)
                + images.seek(0, io.SEEK_END)
                + len(b'],"annotations":[')
                + anns.file.seek(0, io.SEEK_END)
                + len(b"]}")
            )
            images.seek(0)
            anns.file.seek(0)
            self._names.add(name)
            with self.zip.open(_zinfo(name, size=size), "w") as out:
                out.write(head)
                shutil.copyfileobj(images, out, CHUNK_BYTES)
                out.write(b'],"annotations":[')
                shutil.copyfileobj(anns.file, out, CHUNK_BYTES)
                out.write(b"]}")

    def _finish_voc(self) -> None:
        names = self.label_map.names
        pal = self.label_map.palette()
        lines = ["# label:color_rgb:parts:actions"]
        for class_id, name in enumerate(names):
            r, g, b = pal[class_id]
            lines.append(f"{name}:{r},{g},{b}::")
        self._write_bytes("voc/labelmap.txt", ("\n".join(lines) + "\n").encode("utf-8"))
        for split in SPLITS:
            keys = "".join(f"{k}\n" for k in self._image_sets[split])
            self._write_bytes(f"voc/ImageSets/Segmentation/{split}.txt", keys.encode("ascii"))

    def _finish_yolo(self) -> None:
        """``data.yaml``. Ultralytics requires ``train`` and ``val`` and refuses a folder that is
        missing or holds no images, so a split this export has no photos of is replaced by the
        other one, with a comment saying so; an empty export gets empty folders."""
        names = "".join(
            f"  {c.id - 1}: {json.dumps(c.name)}\n"
            for c in sorted(self.label_map.classes, key=lambda c: c.id)
        )
        present = [s for s in SPLITS if self.counts["splits"][s]]
        train = "train" if "train" in present else (present[0] if present else "train")
        val = "eval" if "eval" in present else train
        notes = ""
        if not present:
            notes = "# This export holds no images: train and val are empty folders.\n"
            for folder in ("images/train/", "labels/train/"):
                self._names.add(folder)
                info = _zinfo(folder, compress=False)
                info.external_attr = (0o40755 << 16) | 0x10  # a directory (Unix mode, MS-DOS flag)
                self.zip.writestr(info, b"")
        elif train != "train":
            notes = "# This export has no train images: train is the eval split.\n"
        elif val != "eval":
            notes = (
                "# This export has no eval images: val is the train split, so validation\n"
                "# metrics are measured on training data.\n"
            )
        text = (
            "# ClaimVision damage segmentation, YOLO format. Paths are relative to this file.\n"
            "# Class k is label-map id k + 1; polygons are normalised pixel-centre coordinates.\n"
            + notes
            + f"train: images/{train}\n"
            + f"val: images/{val}\n"
            + f"nc: {len(self.label_map.classes)}\n"
            + "names:\n"
            + names
        )
        self._write_bytes("data.yaml", text.encode("utf-8"))

    def close(self) -> dict[str, Any]:
        """Write the collected files and the manifest; return the counts."""
        if self.closed:
            return self.counts
        try:
            if "coco" in self.formats:
                self._finish_coco()
            if "voc" in self.formats:
                self._finish_voc()
            if "yolo" in self.formats:
                self._finish_yolo()
            if "labelstudio" in self.formats:
                self._write_spool("label_studio/tasks.json", self._ls_tasks.file, b"[", b"]")
                self._write_bytes(
                    "label_studio/label_config.xml",
                    label_studio_config(self.label_map).encode("utf-8"),
                )
            if "csv" in self.formats:
                self._write_spool("csv/regions.csv", self._regions_csv.file)
                self._write_spool("csv/override_ledger.csv", self._ledger_csv.file)
            manifest = {
                **self.manifest,
                "format_version": FORMAT_VERSION,
                "formats": list(self.formats),
                "counts": self.counts,
                "label_map": self.label_map.to_dict(),
                "conventions": {
                    "images": "images/<split>/<photo id>.<ext>: working copies, no metadata",
                    "masks": "image resolution; nearest-neighbour upsampling from the mask grid",
                    "labels": "adjuster regions when reviewed, else model regions",
                },
            }
            self._write_bytes(
                "manifest.json",
                (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"),
            )
        finally:
            self.zip.close()
            for spool in (self._coco_images, self._coco_anns, self._coco_poly_anns, self._ls_tasks):
                spool.file.close()
            for spool in (self._regions_csv, self._ledger_csv):
                spool.text.close()
            self.closed = True
        return self.counts

    def abort(self) -> None:
        """Close without finishing (the archive is incomplete and should be discarded)."""
        if not self.closed:
            self.zip.close()
            self.closed = True

    def __enter__(self) -> LabelExportWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_label_export(
    target: str | Path | BinaryIO,
    images: Iterable[ExportImage],
    *,
    label_map: LabelMap,
    formats: Sequence[str] = FORMATS,
    manifest: Mapping[str, Any] | None = None,
    polygons: bool = False,
) -> dict[str, Any]:
    """Write ``images`` (consumed one at a time) to an export zip; return the counts."""
    writer = LabelExportWriter(
        target, label_map=label_map, formats=formats, manifest=manifest, polygons=polygons
    )
    with writer:
        for image in images:
            writer.add(image)
    return writer.counts
