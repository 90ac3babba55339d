"""COCO for ``ml.label_export``: ``coco/instances.json`` (RLE masks) and, when asked,
``coco/instances_polygons.json``, each region's severity, source and score as attributes, each
category's display name beside its ``name`` (the code tools and imports key on)."""

from __future__ import annotations

import io
import shutil
from typing import Any

from ml.coco import mask_to_rle
from ml.label_export_core import (
    CHUNK_BYTES,
    FORMAT_VERSION,
    ExportImage,
    ExportRegion,
    _json,
    _JsonArray,
    _Members,
    _zinfo,
    export_polygons,
)


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


class _CocoFormat(_Members):
    """The COCO part of ``LabelExportWriter``: image and annotation entries per image, the
    two spools joined into one JSON object at the end."""

    polygons: bool
    tolerance: float
    _coco_images: _JsonArray
    _coco_anns: _JsonArray
    _coco_poly_anns: _JsonArray

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

    def _categories(self) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "name": c.name,
                "display_name": c.display_name,
                "supercategory": "damage",
            }
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
