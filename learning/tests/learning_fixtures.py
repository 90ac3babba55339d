"""Builders for learning-loop tests: reviewed photos (labels as an adjuster saved them) and a
tiny exported model registered as the active version."""

import io
import itertools
import uuid
from pathlib import Path

import numpy as np
from django.utils import timezone
from PIL import Image

from assessment import model_versions
from assessment.models import ModelVersion, PhotoAssessment
from claims.tests.factories import AdjusterFactory, ClaimFactory, PhotoFactory
from learning.splits import split_for_claim
from ml.coco import mask_to_rle
from review.models import LabelRegion, PhotoLabels

# The tiny model's input long side is 96 (ml/tests/model_fixtures.py): a 96x64 photo has a
# 96x64 mask grid.
GRID_W, GRID_H = 96, 64
_ids = itertools.count(1)


def claim_id_in(split: str) -> uuid.UUID:
    """A fresh claim id that ``split_for_claim`` puts in ``split``."""
    while True:
        candidate = uuid.UUID(int=next(_ids) * 7919 + 12345)
        if split_for_claim(candidate) == split:
            return candidate


def damaged_jpeg(box, seed: int) -> bytes:
    """Grey noise with a dark patch at ``box`` (x, y, w, h): something a model can learn."""
    rng = np.random.default_rng(seed)
    img = rng.integers(120, 180, size=(GRID_H, GRID_W, 3), dtype=np.uint8)
    x, y, w, h = box
    img[y : y + h, x : x + w] = rng.integers(10, 40, size=(h, w, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="JPEG", quality=95)
    return out.getvalue()


def box_mask(box) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros((GRID_H, GRID_W), dtype=bool)
    mask[y : y + h, x : x + w] = True
    return mask


def reviewed_photo(
    *,
    model_version: ModelVersion,
    split: str = "train",
    claim=None,
    regions=(("dent", "minor", (20, 16, 30, 20)),),
    seed: int = 0,
):
    """A photo with a prediction and the adjuster's saved labels, as review leaves them."""
    if claim is None:
        claim = ClaimFactory(id=claim_id_in(split), submitted=True, status="in_review")
    first_box = regions[0][2] if regions else (0, 0, 1, 1)
    photo = PhotoFactory(claim=claim, content=damaged_jpeg(first_box, seed), width=96, height=64)
    assessment = PhotoAssessment.objects.create(
        photo=photo,
        model_version=model_version,
        photo_confidence=0.5,
        image_width=GRID_W,
        image_height=GRID_H,
        mask_width=GRID_W,
        mask_height=GRID_H,
    )
    labels = PhotoLabels.objects.create(
        photo=photo,
        claim=claim,
        photo_assessment=assessment,
        version=1,
        adjuster=AdjusterFactory(),
        saved_at=timezone.now(),
    )
    classes = {c["name"]: c["id"] for c in model_version.label_map["classes"]}
    for index, (label, severity, box) in enumerate(regions):
        mask = box_mask(box)
        LabelRegion.objects.create(
            labels=labels,
            index=index,
            label=label,
            label_id=classes[label],
            severity=severity,
            mask_rle=mask_to_rle(mask),
            area=int(mask.sum()),
            bbox=list(box),
        )
    return photo


_exported: dict[str, Path] = {}


def register_tiny(out: Path, *, version: str = "tiny-test") -> ModelVersion:
    """Copy the tiny model to ``out`` under ``version`` and make it the active version.

    Exported once per test session (an ONNX export costs seconds on a busy 2-core machine).
    """
    import json
    import shutil
    import tempfile

    from ml.tests.model_fixtures import export_tiny

    if "tiny" not in _exported:
        _exported["tiny"] = export_tiny(Path(tempfile.mkdtemp(prefix="tiny-model-")) / "tiny")
    shutil.copytree(_exported["tiny"], out)
    meta_path = out / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["model_version"] = version
    meta_path.write_text(json.dumps(meta))
    return model_versions.model_version_register(model_dir=out, activate=True)
