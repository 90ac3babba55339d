"""Regions as ``ml.inference`` returns them (and the worker stores them), built from a mask."""

import numpy as np

from ml.coco import mask_to_polygons, mask_to_rle
from ml.labels import DEFAULT_LABEL_MAP, LabelMap


def region_from_mask(
    mask: np.ndarray,
    label: str,
    confidence: float,
    severity: str,
    *,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    **extra,
) -> dict:
    """The region dict for a boolean mask on the model's mask grid: box, outline polygon, RLE.

    ``extra`` adds keys only some models send (``part``, ``part_share``)."""
    flat = mask_to_polygons(mask)[0]
    rows, cols = np.nonzero(mask)
    x0, y0 = int(cols.min()), int(rows.min())
    return {
        **extra,
        "label": label,
        "label_id": label_map.by_name(label).id,
        "confidence": confidence,
        "severity": severity,
        "area_share": float(mask.mean()),
        "bbox": [x0, y0, int(cols.max()) - x0 + 1, int(rows.max()) - y0 + 1],
        "polygon": [[float(x), float(y)] for x, y in zip(flat[::2], flat[1::2], strict=True)],
        "mask_rle": mask_to_rle(mask),
    }
