"""Label exports for data teams: one zip holding COCO, VOC PNG masks, YOLO segmentation,
Label Studio tasks and CSV summaries, written from plain records (no Django).

The archive is written member by member (images streamed, per-image masks one at a time, the
big JSON/CSV files spooled to temporary files and copied in at the end), so an export of any
size never sits in memory. Every member has a fixed timestamp and mode and the members come in
the order the records are given, so the same records give the same bytes.

Masks arrive on whatever grid they were stored on and are exported at the image's resolution:
:func:`upsample_mask` maps each image pixel's centre to the nearest mask-grid cell (nearest
neighbour, no smoothing), so a label never gains a class it did not have.

The shared core (records, masks, zip members) is in :mod:`ml.label_export_core`, each format
family in its own module (``label_export_coco``, ``_voc``, ``_yolo``, ``_labelstudio``,
``_csv``, each holding its part of the writer); this module holds the writer that ties them
together and is the public face.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ml.label_export_coco import _CocoFormat
from ml.label_export_core import (
    CHUNK_BYTES,
    ERR_CLOSED,
    ERR_FORMAT,
    ERR_SHAPE,
    ERR_SOURCE,
    ERR_SPLIT,
    FORMAT_VERSION,
    FORMATS,
    SOURCES,
    SPLITS,
    ZIP_DATE_TIME,
    ZIP_FILE_MODE,
    ExportImage,
    ExportRegion,
    ImageSource,
    _JsonArray,
    export_polygons,
    upsample_mask,
)
from ml.label_export_csv import LEDGER_CSV_FIELDS, REGION_CSV_FIELDS, _CsvFormat, _CsvSpool
from ml.label_export_labelstudio import (
    ERR_LS_RLE,
    LS_FROM_NAME,
    LS_ORIGINS,
    LS_PART_FROM_NAME,
    LS_RLE_SIZES,
    LS_SEVERITY_FROM_NAME,
    LS_TO_NAME,
    LS_WORD_SIZE,
    _LabelStudioFormat,
    label_studio_config,
    ls_decode_rle,
    ls_encode_rle,
    ls_mask_to_rle,
    ls_part_names,
    ls_rle_to_mask,
)
from ml.label_export_voc import _VocFormat, class_map, object_map, voc_colormap
from ml.label_export_yolo import _YoloFormat, yolo_polygons, yolo_rasterise
from ml.labels import LabelMap

# Everything this module defined before the formats moved out stays importable from here.
__all__ = [
    "CHUNK_BYTES",
    "ERR_CLOSED",
    "ERR_FORMAT",
    "ERR_LS_RLE",
    "ERR_SHAPE",
    "ERR_SOURCE",
    "ERR_SPLIT",
    "FORMATS",
    "FORMAT_VERSION",
    "LEDGER_CSV_FIELDS",
    "LS_FROM_NAME",
    "LS_ORIGINS",
    "LS_PART_FROM_NAME",
    "LS_RLE_SIZES",
    "LS_SEVERITY_FROM_NAME",
    "LS_TO_NAME",
    "LS_WORD_SIZE",
    "REGION_CSV_FIELDS",
    "SOURCES",
    "SPLITS",
    "ZIP_DATE_TIME",
    "ZIP_FILE_MODE",
    "ExportImage",
    "ExportRegion",
    "ImageSource",
    "LabelExportWriter",
    "class_map",
    "export_polygons",
    "label_studio_config",
    "ls_decode_rle",
    "ls_encode_rle",
    "ls_mask_to_rle",
    "ls_part_names",
    "ls_rle_to_mask",
    "object_map",
    "upsample_mask",
    "voc_colormap",
    "write_label_export",
    "yolo_polygons",
    "yolo_rasterise",
]


class LabelExportWriter(_CocoFormat, _VocFormat, _YoloFormat, _LabelStudioFormat, _CsvFormat):
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
        self._ls_parts: set[str] = set()  # parts the Label Studio results name
        self._regions_csv = _CsvSpool(REGION_CSV_FIELDS)
        self._ledger_csv = _CsvSpool(LEDGER_CSV_FIELDS)
        self._image_sets: dict[str, list[str]] = {s: [] for s in SPLITS}

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
            self._add_voc(image)
        if "yolo" in self.formats:
            self._write_bytes(f"labels/{image.split}/{image.key}.txt", self._yolo_rows(image))
        if "labelstudio" in self.formats:
            self._ls_tasks.append(self._ls_task(image))
        if "csv" in self.formats:
            self._add_csv(image)

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
                    label_studio_config(
                        self.label_map, ls_part_names(sorted(self._ls_parts))
                    ).encode("utf-8"),
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
