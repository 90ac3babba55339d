"""Every model bundled in ml/models/ (the default and any other), run for real by the worker's
service: its regions are stored with their part, its types are priced by their own rows, and
the decision reads its label map. Nothing here assumes one taxonomy."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assessment import defaults, model_registry, model_versions, services
from assessment.models import ModelVersion, Region
from claims.tests.factories import ClaimFactory, PhotoFactory
from ml.inference import DEFAULT_MODEL_DIR, Segmenter
from ml.labels import LabelMap

pytestmark = pytest.mark.django_db

BUNDLED = sorted(
    {p.parent for p in (Path(DEFAULT_MODEL_DIR).parent).glob("*/model.json")}
    | ({Path(DEFAULT_MODEL_DIR)} if (Path(DEFAULT_MODEL_DIR) / "model.json").exists() else set())
)


def _photo_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    base = 120 + 60 * np.sin(x / 40.0 + seed) * np.cos(y / 30.0)
    pixels = np.stack([base, base * 0.8, base * 0.6], -1) + rng.normal(0, 25, (480, 640, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_model_is_bundled():
    assert (Path(DEFAULT_MODEL_DIR) / "model.json").exists()


@pytest.mark.parametrize("model_dir", BUNDLED, ids=lambda p: p.name)
def test_bundled_model_prediction_is_stored_with_its_parts(model_dir, customer, monkeypatch):
    # given the bundled model active, as on first use
    model_version = model_versions.model_version_register(model_dir=model_dir, activate=True)
    # a fresh worker
    monkeypatch.setattr(model_versions, "segmenters", model_versions._SegmenterCache())
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    content = _photo_bytes(3)
    photo = PhotoFactory(claim=claim, content=content, width=640, height=480)
    expected = Segmenter.load(model_dir, threads=1).predict(content).to_dict()

    # when the worker's service assesses the photo
    assessment = services.photo_assess(photo_id=photo.pk)

    # then every region is stored as predicted, its part included where the model gives one
    stored = [
        (r.label, r.label_id, r.part, r.part_share)
        for r in Region.objects.filter(assessment=assessment)
    ]
    assert stored == [
        (r["label"], r["label_id"], r.get("part") or "", r.get("part_share"))
        for r in expected["regions"]
    ]
    names = set(LabelMap.from_dict(model_version.label_map).names[1:])
    assert {label for label, *_ in stored} <= names
    claim.refresh_from_db()
    assert claim.status in ("auto_decided", "in_review")


@pytest.mark.parametrize("model_dir", BUNDLED, ids=lambda p: p.name)
def test_bundled_model_types_are_priced_by_their_own_default_rows(model_dir):
    label_map = LabelMap.from_dict(model_registry.model_meta_read(model_dir)["label_map"])
    priced = {(row[0], row[1]) for row in defaults.RULES}

    unpriced = [
        (c.name, severity)
        for c in label_map.classes
        for severity in ("minor", "moderate", "severe")
        if (c.name, severity) not in priced
    ]

    assert unpriced == []
    assert ModelVersion.objects.count() == 0  # reading the folder registers nothing
