"""Fixtures for assessment tests: an active model version and a scripted segmenter.

Unit tests here script the model's output (the real model is exercised in ml/tests and in the
integration tests with a real worker); everything else, database included, is real.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest

from assessment import model_versions
from assessment.models import ModelVersion
from assessment.tests.regions import region_from_mask
from claims.tests.conftest import (  # noqa: F401 - shared fixtures
    _fast_and_isolated,
    api_client_for,
    claim,
    customer,
    enqueued,
    media_root,
    other_customer,
    photo,
)
from claims.tests.factories import ClaimFactory, PhotoFactory
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP, LabelMap


def region(
    label: str,
    confidence: float,
    severity: str = "minor",
    *,
    box=(10, 10, 20, 12),
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    **extra,
):
    """One region as ml.inference returns it: a box on a 64x48 mask (``extra``: part keys)."""
    mask = np.zeros((48, 64), dtype=bool)
    x, y, w, h = box
    mask[y : y + h, x : x + w] = True
    return region_from_mask(mask, label, confidence, severity, label_map=label_map, **extra)


@dataclass
class _Prediction:
    data: dict

    def to_dict(self) -> dict:
        return self.data


@dataclass
class ScriptedSegmenter:
    """Returns the scripted regions for every photo; records how often it was called."""

    regions: list = field(default_factory=list)
    photo_confidence: float = 0.95
    error: Exception | None = None
    calls: int = 0

    def predict(self, data: bytes) -> _Prediction:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return _Prediction(
            {
                "model_version": "test-v1",
                "image_width": 640,
                "image_height": 480,
                "mask_width": 64,
                "mask_height": 48,
                "photo_confidence": self.photo_confidence,
                "regions": self.regions,
                "timings_ms": {"decode": 1.0, "model": 2.0, "post": 0.5, "total": 3.5},
            }
        )


@pytest.fixture
def model_version(db) -> ModelVersion:
    return ModelVersion.objects.create(
        version="test-v1",
        path="/nonexistent",
        artifact_sha256="0" * 64,
        label_map=DEFAULT_LABEL_MAP.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )


@pytest.fixture
def product_model_version(db) -> ModelVersion:
    """An active model with the product's damage-v2 taxonomy (display names, no CarDD-6)."""
    return ModelVersion.objects.create(
        version="test-v2",
        path="/nonexistent",
        artifact_sha256="2" * 64,
        label_map=PRODUCT_LABEL_MAP.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )


@pytest.fixture
def segmenter(monkeypatch, model_version) -> ScriptedSegmenter:
    scripted = ScriptedSegmenter()
    monkeypatch.setattr(model_versions.segmenters, "get", lambda mv: scripted)
    return scripted


@pytest.fixture
def assessing_claim(customer):
    """A claim in ``assessing`` with two prepared photos, as claim_prepare leaves it."""
    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim)
    PhotoFactory(claim=claim)
    return claim


@pytest.fixture
def product_segmenter(monkeypatch, product_model_version) -> ScriptedSegmenter:
    """The scripted segmenter, answering for the damage-v2 model version."""
    scripted = ScriptedSegmenter()
    monkeypatch.setattr(model_versions.segmenters, "get", lambda mv: scripted)
    return scripted


def model_dir_make(root, version: str, label_map: dict | None = None, *, payload: bytes = b"x"):
    """A model folder as ``ml.export`` writes it, without a real network: model.json naming
    model.onnx and model.pt, whose bytes (``payload``) decide the artifact digest."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    meta = {
        "model_version": version,
        "label_map": label_map or PRODUCT_LABEL_MAP.to_dict(),
        "onnx": "model.onnx",
        "weights": "model.pt",
    }
    (root / "model.json").write_text(json.dumps(meta))
    (root / "model.onnx").write_bytes(payload)
    (root / "model.pt").write_bytes(payload)
    return root
