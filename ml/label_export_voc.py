"""PASCAL VOC for ``ml.label_export``: class and instance PNG masks per image, the label map
as ``labelmap.txt`` and the image sets of each split."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ml.coco import Region, semantic_mask
from ml.label_export_core import (
    SPLITS,
    ExportImage,
    _Members,
)
from ml.labels import LabelMap


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


class _VocFormat(_Members):
    """The VOC part of ``LabelExportWriter``."""

    _image_sets: dict[str, list[str]]

    def _add_voc(self, image: ExportImage) -> None:
        self._write_bytes(
            f"voc/SegmentationClass/{image.key}.png",
            _png_bytes(class_map(image, self.label_map), self.label_map.palette()),
        )
        self._write_bytes(
            f"voc/SegmentationObject/{image.key}.png",
            _png_bytes(object_map(image), voc_colormap()),
        )

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
