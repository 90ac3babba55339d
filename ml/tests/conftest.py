"""Shared fixtures for the ml data-layer tests (no Django, no database)."""

import os

import pytest

from ml.coco import DEFAULT_REAL_ROOT, real_dataset_available


@pytest.fixture(scope="session")
def real_root():
    if not real_dataset_available(DEFAULT_REAL_ROOT):
        if os.environ.get("CLAIMVISION_REQUIRE_REAL_DATA") == "1":  # CI always has it
            pytest.fail(f"real-car-damage dataset required but not found at {DEFAULT_REAL_ROOT}")
        pytest.skip(
            f"real-car-damage dataset not found at {DEFAULT_REAL_ROOT}; tests that read it skip"
        )
    return DEFAULT_REAL_ROOT
