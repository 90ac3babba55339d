"""Measured time saved (labelling.time_saved) against hand-built timings: the ratio of means,
its delta-method interval, the dominant class, and the share of pre-labels kept."""

import pytest

from claims.tests.factories import jpeg_bytes
from labelling import services, time_saved
from labelling.models import ItemPrediction, ProjectItem
from labelling.tests.factories import box_mask, item_make, region_in
from labelling.time_saved import ItemTiming, ratio_interval, time_saved_report
from ml.coco import mask_to_rle

S = ProjectItem.Status


def test_ratio_interval_matches_the_hand_computed_delta_method():
    # given: from scratch 100, 120, 140 (mean 120, variance 400); with 40, 60 (mean 50, 200)
    # then: R = 50/120; var(log R) = 200/(2*50^2) + 400/(3*120^2) = 0.04 + 0.0092593
    saved, low, high = ratio_interval([40, 60], [100, 120, 140])

    assert saved == pytest.approx(1 - 50 / 120)  # 0.583333
    assert low == pytest.approx(0.3562636, abs=1e-6)  # 1 - R * exp(1.96 * 0.2219443)
    assert high == pytest.approx(0.7303071, abs=1e-6)  # 1 - R * exp(-1.96 * 0.2219443)


def test_ratio_interval_needs_two_items_per_group_for_the_interval():
    assert ratio_interval([50], [100, 120]) == (pytest.approx(1 - 50 / 110), None, None)
    assert ratio_interval([], [100, 120]) == (None, None, None)
    assert ratio_interval([10, 20], []) == (None, None, None)


def test_ratio_interval_of_identical_groups_is_zero_saved():
    saved, low, high = ratio_interval([100, 100], [100, 100])

    assert (saved, low, high) == (0.0, 0.0, 0.0)


def test_dominant_class_is_the_largest_total_area_and_none_without_regions():
    regions = [
        {"label": "dent", "area": 50},
        {"label": "scratch", "area": 70},
        {"label": "dent", "area": 30},
    ]

    assert time_saved.dominant_class(regions) == "dent"  # 80 > 70
    assert time_saved.dominant_class([{"label": "b", "area": 5}, {"label": "a", "area": 5}]) == "a"
    assert time_saved.dominant_class([]) == time_saved.NO_DAMAGE


def _t(n, show, ms, cls, shown=0, accepted=0, unchanged=False):
    return ItemTiming(f"i{n}", show, ms, cls, shown, accepted, unchanged)


def test_time_saved_report_from_hand_built_timings():
    # given: dents from scratch 100 s and 140 s, with pre-labels 40 s and 60 s; scratches from
    # scratch 80 s, with pre-labels 60 s; 5 pre-label regions shown, 3 kept, 1 item as proposed
    timings = [
        _t(1, False, 100_000, "dent"),
        _t(2, False, 140_000, "dent"),
        _t(3, True, 40_000, "dent", shown=2, accepted=2, unchanged=True),
        _t(4, True, 60_000, "dent", shown=2, accepted=1),
        _t(5, False, 80_000, "scratch"),
        _t(6, True, 60_000, "scratch", shown=1, accepted=0),
    ]

    report = time_saved_report(project=None, timings=timings)

    overall = report["overall"]
    assert (overall.scratch.n, overall.prelabelled.n) == (3, 3)
    assert overall.scratch.mean_ms == pytest.approx(320_000 / 3)
    assert overall.prelabelled.mean_ms == pytest.approx(160_000 / 3)
    assert overall.prelabelled.median_ms == 60_000
    assert overall.saved == pytest.approx(0.5)  # 1 - (160/3) / (320/3)
    # var(log R) = 133.33/(3 * 53.33^2) + 933.33/(3 * 106.67^2) = 0.015625 + 0.027344
    assert overall.low == pytest.approx(0.2493893, abs=1e-6)  # 1 - 0.5 * exp(1.96 * 0.20729)
    assert overall.high == pytest.approx(0.6669379, abs=1e-6)
    assert (overall.regions_shown, overall.regions_accepted) == (5, 3)
    assert overall.accepted_share == pytest.approx(0.6)
    assert overall.unchanged_share == pytest.approx(1 / 3)
    dent, scratch = report["per_class"]  # most items first
    assert dent.label == "dent" and dent.saved == pytest.approx(1 - 50 / 120)
    assert (dent.low, dent.high) == (pytest.approx(0.3059481), pytest.approx(0.7498586))
    assert (dent.regions_shown, dent.regions_accepted, dent.items_unchanged) == (4, 3, 1)
    assert scratch.label == "scratch" and scratch.saved == pytest.approx(0.25)
    assert (scratch.low, scratch.high) == (None, None)  # one item per group


def _predicted(item, model_version, boxes):
    regions = []
    for index, box in enumerate(boxes):
        mask = box_mask(item, box)
        regions.append(
            {
                "index": index,
                "label": "dent",
                "label_id": 1,
                "severity": "minor",
                "score": 0.9,
                "mask_rle": mask_to_rle(mask),
                "bbox": list(box),
                "area": int(mask.sum()),
                "part": "",
            }
        )
    ProjectItem.objects.filter(pk=item.pk).update(status=S.PRELABELLED)
    item.refresh_from_db()
    return ItemPrediction.objects.create(
        item=item,
        model_version=model_version,
        regions=regions,
        photo_confidence=0.9,
        mask_width=item.mask_width,
        mask_height=item.mask_height,
    )


def test_item_timings_reads_submitted_items_and_what_the_labeller_kept(
    project, labeller, model_version
):
    # given: a from-scratch item (2 saves, 30 s + 50 s), a pre-labelled one whose two
    # regions were kept as proposed (20 s), one with its prediction partly redrawn (40 s),
    # and one still in progress (not counted)
    scratch = item_make(project, data=jpeg_bytes(seed=1))
    ProjectItem.objects.filter(pk=scratch.pk).update(show_prelabels=False)
    scratch.refresh_from_db()
    _predicted(scratch, model_version, [(0, 0, 10, 10)])
    services.item_labels_save(
        item=scratch, user=labeller, base_version=0, regions=[region_in(scratch)], active_ms=30_000
    )
    services.item_labels_save(
        item=scratch,
        user=labeller,
        base_version=1,
        regions=[region_in(scratch, "scratch", box=(0, 0, 60, 40))],
        active_ms=50_000,
        submit=True,
    )
    kept = item_make(project, data=jpeg_bytes(seed=2))
    prediction = _predicted(kept, model_version, [(0, 0, 10, 10), (20, 20, 10, 10)])
    services.item_labels_save(
        item=kept,
        user=labeller,
        base_version=0,
        regions=[
            {
                "label": r["label"],
                "severity": r["severity"],
                "mask_rle": r["mask_rle"],
                "source_index": r["index"],
            }
            for r in prediction.regions
        ],
        active_ms=20_000,
        submit=True,
    )
    edited = item_make(project, data=jpeg_bytes(seed=3))
    prediction = _predicted(edited, model_version, [(0, 0, 10, 10), (20, 20, 10, 10)])
    first = prediction.regions[0]
    services.item_labels_save(
        item=edited,
        user=labeller,
        base_version=0,
        regions=[
            {
                "label": "dent",
                "severity": "minor",
                "mask_rle": first["mask_rle"],
                "source_index": 0,
            },
            region_in(edited, "dent", box=(20, 20, 30, 30), source_index=1),
        ],
        active_ms=40_000,
        submit=True,
    )
    unfinished = item_make(project, data=jpeg_bytes(seed=4))
    services.item_labels_save(
        item=unfinished, user=labeller, base_version=0, regions=[], active_ms=99_000
    )

    # when
    timings = {t.item_id: t for t in time_saved.item_timings(project=project)}

    # then
    assert set(timings) == {str(scratch.pk), str(kept.pk), str(edited.pk)}
    assert timings[str(scratch.pk)] == ItemTiming(str(scratch.pk), False, 80_000, "scratch")
    assert timings[str(kept.pk)] == ItemTiming(str(kept.pk), True, 20_000, "dent", 2, 2, True)
    assert timings[str(edited.pk)] == ItemTiming(str(edited.pk), True, 40_000, "dent", 2, 1, False)
    report = time_saved_report(project=project)
    assert report["overall"].saved == pytest.approx(1 - 30_000 / 80_000)
    assert report["overall"].accepted_share == pytest.approx(3 / 4)
