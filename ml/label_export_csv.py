"""CSV summaries for ``ml.label_export``: one row per label region (``csv/regions.csv``) and the
adjusters' override ledger (``csv/override_ledger.csv``)."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ml.label_export_core import (
    ExportImage,
    _Members,
)
from ml.labels import DEFAULT_PART_MAP

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
    # Display names, appended so the columns above keep their positions for existing readers.
    "label_name",
    "part_name",
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
    "from_part",
    "to_part",
    "reviewer",
    "active_ms",
    "model_version",
)


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


class _CsvFormat(_Members):
    """The CSV part of ``LabelExportWriter``."""

    _regions_csv: _CsvSpool
    _ledger_csv: _CsvSpool

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
                    "label_name": self.label_map.by_name(region.label).display_name,
                    "part_name": DEFAULT_PART_MAP.display(region.part) if region.part else None,
                }
            )
        for entry in image.ledger:
            self._ledger_csv.write(entry)
        self.counts["ledger_entries"] += len(image.ledger)
