"""Two rounds of the flywheel simulation on tiny data, with a real worker, broker and database.

The figures the simulation reports must be the ones the product stored: every count is
recounted here from the database (claims decided automatically, reviews, audits) and the
adjuster minutes from the override ledger the review services wrote and the active time they
recorded, so a simulation that made its numbers up (or a review that stored nothing) fails.
"""

import datetime
import io

import numpy as np
import pytest
from PIL import Image

from assessment.models import Decision, PhotoAssessment
from claims.models import Claim
from flywheel.claim_data import ClaimPhoto, SimClaim
from flywheel.effort import DEFAULT_EFFORT, PhotoWork, claim_effort
from flywheel.simulation import CLAIM_TAG, Simulation, SimulationConfig
from ml.datasets import SegItem
from ml.labels import PRODUCT_LABEL_MAP
from review.models import ActiveTime, OverrideLedgerEntry, PhotoLabels

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DENT = PRODUCT_LABEL_MAP.by_name("dent").id


def _photo(seed: int, damaged: bool) -> ClaimPhoto:
    rng = np.random.default_rng(seed)
    h, w = 240, 320
    y, x = np.mgrid[0:h, 0:w]
    base = 120 + 40 * np.sin(x / 30.0 + seed) * np.cos(y / 25.0)
    pixels = np.stack([base, base * 0.9, base * 0.7], -1) + rng.normal(0, 8, (h, w, 3))
    semantic = np.zeros((h, w), dtype=np.uint8)
    if damaged:
        y0, x0 = int(rng.integers(20, 120)), int(rng.integers(20, 200))
        semantic[y0 : y0 + 60, x0 : x0 + 80] = DENT
        pixels[semantic == DENT] *= 0.4
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return ClaimPhoto(
        data=out.getvalue(), semantic=semantic, name=f"p{seed}.jpg", intact=not damaged
    )


def tiny_claims(split, n, *, seed, min_size, max_size, intact_rate, skip=0):
    claims = []
    for k in range(skip, skip + n):
        size = min_size + k % (max_size - min_size + 1)
        photos = [_photo(100 * k + i, damaged=(i + k) % 3 != 0) for i in range(size)]
        claims.append(SimClaim(key=f"{split}-{k}", photos=photos))
    return claims


def tiny_eval(limit=None):
    items = []
    for i in range(limit or 4):
        p = _photo(10_000 + i, damaged=True)
        rgb = np.asarray(Image.open(io.BytesIO(p.data)).convert("RGB"))
        items.append(SegItem(image=rgb, mask=p.semantic, source="bilgi", name=p.name))
    return items


@pytest.fixture
def tiny_base_model(tmp_path):
    from ml.tests.model_fixtures import export_tiny

    return export_tiny(tmp_path / "base", label_map=PRODUCT_LABEL_MAP, version="tiny-product")


def test_two_rounds_report_what_the_workers_and_reviews_stored(
    worker_env, tiny_base_model, tmp_path, monkeypatch
):
    for key in ("DATABASE_URL", "CLAIMVISION_MEDIA_ROOT"):
        monkeypatch.setenv(key, worker_env[key])
    config = SimulationConfig(
        rounds=2,
        claims=4,
        min_photos=1,
        max_photos=3,
        eval_photos=4,
        steps=2,
        batch_size=2,
        crop_size=64,
        calibrate_min_claims=2,
        promotion_eval="",
        claim_timeout_s=240,
    )
    lines = []
    simulation = Simulation(
        config,
        tmp_path / "state",
        base_model=tiny_base_model,
        workers=1,
        progress=False,
        write=lines.append,
        data=tiny_claims,
        evaluation=tiny_eval,
    )

    rounds = simulation.run()

    assert [r["round"] for r in rounds] == [1, 2]
    assert len(lines) == 2
    claims = Claim.objects.filter(description__startswith=CLAIM_TAG)
    assert claims.count() == 8
    # every photo was assessed by the worker, by the model that served its round
    assert PhotoAssessment.objects.filter(photo__claim__in=claims).count() == sum(
        c.photos.count() for c in claims
    )
    for row in rounds:
        keys = [f"stream-{k}" for k in range((row["round"] - 1) * 4, row["round"] * 4)]
        mine = claims.filter(description__in=[CLAIM_TAG + k for k in keys])
        human = Decision.objects.filter(claim__in=mine, automatic=False)
        assert row["claims"] == mine.count() == 4
        assert row["auto"] == mine.filter(decisions__automatic=True, status="auto_decided").count()
        assert row["reviewed"] == human.values("claim").distinct().count()
        assert row["auto"] + row["reviewed"] == 4  # every claim decided, by one or the other
        # an automatically decided claim was never reviewed (audited ones count as reviewed)
        assert not human.filter(claim__status="auto_decided").exists()
        # the adjuster's minutes, recomputed from the ledger the review services stored
        assisted = 0.0
        for claim in mine.filter(decisions__automatic=False).distinct():
            works = []
            for labels in PhotoLabels.objects.filter(claim=claim):
                entries = OverrideLedgerEntry.objects.filter(
                    photo_id=labels.photo_id, labels_version=labels.version
                ).values("action", "source_index")
                works.append(PhotoWork.from_ledger(entries, labels.regions.count()))
            assisted += claim_effort(works, DEFAULT_EFFORT).assisted_s
            # and the active time the screen would have reported is the same figure
            photo_ms = sum(
                ActiveTime.objects.filter(claim=claim, photo__isnull=False).values_list(
                    "active_ms", flat=True
                )
            )
            claim_ms = ActiveTime.objects.filter(claim=claim, photo__isnull=True).get().active_ms
            assert photo_ms <= claim_ms
        assert row["minutes_per_claim"] == pytest.approx(assisted / 60 / 4, abs=0.002)
        assert row["retrain_status"] in ("succeeded", "failed")
        assert 0.0 <= row["eval_iou"] <= 1.0
    # resumable: a second run with the same state does not file the claims again
    again = Simulation(
        config,
        tmp_path / "state",
        base_model=tiny_base_model,
        workers=0,
        progress=False,
        write=lines.append,
        data=tiny_claims,
        evaluation=tiny_eval,
    ).run()
    assert [r["round"] for r in again] == [1, 2]
    assert claims.count() == 8


def test_a_database_with_real_claims_is_refused(tiny_base_model, tmp_path):
    from django.contrib.auth import get_user_model

    from claims import services
    from flywheel.simulation import SimulationError

    owner = get_user_model().objects.create_user("real-customer")
    services.claim_create(
        owner=owner,
        policy_number="POL-1",
        vehicle_make="VW",
        vehicle_model="Golf",
        vehicle_year=2020,
        incident_date=datetime.date(2026, 1, 1),
    )
    with pytest.raises(SimulationError, match="database of its own"):
        Simulation(SimulationConfig(), tmp_path, base_model=tiny_base_model, workers=0).run()
