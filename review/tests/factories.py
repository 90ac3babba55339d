"""factory_boy factories for review objects, and builders of the masks adjusters send."""

from datetime import timedelta

import factory
import numpy as np
from django.utils import timezone
from factory.django import DjangoModelFactory

from claims.tests.factories import AdjusterFactory, ClaimFactory
from ml.coco import mask_to_rle
from review.models import ClaimNote, ReviewLock

# The scripted segmenter's mask grid (assessment/tests/conftest.py): 48 rows x 64 columns.
GRID_H, GRID_W = 48, 64
# Boxes (x, y, w, h) of the two regions the in-review claim's model predicts.
DENT_BOX = (10, 10, 20, 12)
SCRATCH_BOX = (40, 30, 15, 10)


def box_mask(box, *, height: int = GRID_H, width: int = GRID_W) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + h, x : x + w] = True
    return mask


def box_rle(box, *, height: int = GRID_H, width: int = GRID_W) -> dict:
    return mask_to_rle(box_mask(box, height=height, width=width))


def region_payload(label="dent", severity="minor", source_index=0, box=DENT_BOX, **extra) -> dict:
    return {
        "label": label,
        "severity": severity,
        "source_index": source_index,
        "mask_rle": box_rle(box),
        **extra,
    }


class ReviewLockFactory(DjangoModelFactory):
    class Meta:
        model = ReviewLock

    claim = factory.SubFactory(ClaimFactory)
    adjuster = factory.SubFactory(AdjusterFactory)
    taken_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.taken_at + timedelta(minutes=15))

    class Params:
        lapsed = factory.Trait(
            taken_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1)),
            expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=30)),
        )


class ClaimNoteFactory(DjangoModelFactory):
    class Meta:
        model = ClaimNote

    claim = factory.SubFactory(ClaimFactory)
    author = factory.SubFactory(AdjusterFactory)
    text = factory.Sequence(lambda n: f"Called the garage, note {n}.")
