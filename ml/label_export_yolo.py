"""YOLO segmentation for ``ml.label_export``: normalised polygons per image, read back the way
Ultralytics draws them, and the ``data.yaml`` that names the classes and splits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from ml.label_export_core import (
    SPLITS,
    ExportImage,
    _Members,
    _zinfo,
    export_polygons,
)


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


class _YoloFormat(_Members):
    """The YOLO part of ``LabelExportWriter``."""

    tolerance: float

    def _yolo_rows(self, image: ExportImage) -> bytes:
        lines = []
        for region in image.labels:
            cls = self._category_id(region) - 1  # YOLO classes start at 0
            for row in yolo_polygons(region.mask, tolerance=self.tolerance):
                lines.append(" ".join([str(cls), *(f"{v:.6f}" for v in row)]))
        return "".join(f"{line}\n" for line in lines).encode("ascii")

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
