"""Existing labels into a project: COCO (RLE and polygons) and Label Studio, round-tripped
through the product's own export writers (ml.label_export: export, import, same masks)."""

import io
import json
import zipfile

import numpy as np
import pytest

from claims.tests.factories import jpeg_bytes
from config.errors import UnprocessableError
from labelling import label_import
from labelling.models import ItemLabels, ProjectItem
from labelling.tests.factories import box_mask, item_make
from ml import label_export
from ml.coco import mask_to_polygons, rle_to_mask
from ml.label_export_labelstudio import ls_mask_to_rle
from ml.labels import LabelMap


def _export(items_masks, project, *, polygons=False) -> dict[str, bytes]:
    """Write items' grid masks, upsampled to the working size, with the product's writer."""
    images = []
    for item, regions in items_masks:
        w, h = item.working_width, item.working_height
        images.append(
            label_export.ExportImage(
                key=item.original_name.rsplit(".", 1)[0],
                split="train",
                width=w,
                height=h,
                image=jpeg_bytes(w, h),
                labels=[
                    label_export.ExportRegion(
                        index=i,
                        label=label,
                        mask=label_export.upsample_mask(mask, h, w),
                        severity=severity,
                        source="human",
                        part="front_bumper" if i == 0 else None,
                    )
                    for i, (label, severity, mask) in enumerate(regions)
                ],
                reviewed=True,
            )
        )
    out = io.BytesIO()
    label_export.write_label_export(
        out,
        images,
        label_map=LabelMap.from_dict(project.label_map),
        formats=["coco", "labelstudio"],
        polygons=polygons,
    )
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.endswith(".json")}


@pytest.fixture
def two_items(project):
    a = item_make(project, name="a.jpg", data=jpeg_bytes(800, 520, seed=51))
    b = item_make(project, name="b.jpg", data=jpeg_bytes(520, 800, seed=52))
    dent = box_mask(a, (20, 30, 60, 40))
    scratch = box_mask(a, (150, 100, 80, 20))
    ring = box_mask(b, (10, 10, 100, 100))
    ring[40:70, 40:70] = False  # a hole: only RLE keeps it
    return [
        (a, [("dent", "moderate", dent), ("scratch", "minor", scratch)]),
        (b, [("dent", "severe", ring)]),
    ]


def _stored(item):
    labels = ItemLabels.objects.get(item=item)
    return labels, [(r["label"], r["severity"], rle_to_mask(r["mask_rle"])) for r in labels.regions]


@pytest.mark.parametrize("fmt", ["coco", "labelstudio"])
def test_labels_import_round_trips_the_products_export(project, two_items, fmt):
    files = _export(two_items, project)
    name = "coco/instances.json" if fmt == "coco" else "label_studio/tasks.json"

    summary = label_import.labels_import(project=project, fileobj=io.BytesIO(files[name]), fmt=fmt)

    assert summary.to_dict()["counts"] == {"imported": 2, "unmatched": 0, "skipped_regions": 0}
    for item, regions in two_items:
        labels, stored = _stored(item)
        assert labels.source == "imported" and labels.labeller is None
        assert [(lab, sev) for lab, sev, _ in stored] == [(lab, sev) for lab, sev, _ in regions]
        for (_, _, got), (_, _, want) in zip(stored, regions, strict=True):
            assert np.array_equal(got, want)  # same masks, pixel for pixel
    assert _stored(two_items[0][0])[0].regions[0]["part"] == "front_bumper"


def test_labels_import_coco_polygons_match_the_masks_closely(project, two_items):
    files = _export(two_items, project, polygons=True)

    label_import.labels_import(
        project=project, fileobj=io.BytesIO(files["coco/instances_polygons.json"]), fmt="coco"
    )

    (a, regions), _ = two_items
    _, stored = _stored(a)
    for (_, _, got), (_, _, want) in zip(stored, regions, strict=True):
        iou = np.logical_and(got, want).sum() / np.logical_or(got, want).sum()
        assert iou > 0.9


def test_labels_import_coco_uncompressed_rle_and_unknown_names(project):
    item = item_make(project, name="c.jpg", data=jpeg_bytes(100, 100, seed=53))
    w, h = item.working_width, item.working_height
    mask = np.zeros((h, w), bool)
    mask[10:50, 20:60] = True
    flat = mask.flatten(order="F").astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    if flat[0]:
        runs = [0, *runs]
    data = {
        "images": [
            {"id": 1, "file_name": "some/dir/c.jpg", "width": w, "height": h},
            {"id": 2, "file_name": "nobody.jpg", "width": w, "height": h},
        ],
        "categories": [{"id": 1, "name": "dent"}, {"id": 9, "name": "rust"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [h, w], "counts": runs},
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 9,
                "segmentation": {"size": [h, w], "counts": runs},
            },
        ],
    }

    summary = label_import.labels_import_coco(project=project, data=data)

    assert [r["name"] for r in summary.imported] == ["some/dir/c.jpg"]
    assert summary.unmatched == [{"name": "nobody.jpg", "reason": label_import.NO_ITEM}]
    assert summary.skipped_regions == [
        {"name": "some/dir/c.jpg", "reason": label_import.UNKNOWN_LABEL.format(label="rust")}
    ]
    _, stored = _stored(item)
    assert [lab for lab, _, _ in stored] == ["dent"]
    want = label_export.upsample_mask(mask, item.mask_height, item.mask_width)
    assert np.array_equal(stored[0][2], want)


def test_labels_import_labelstudio_polygon_and_upload_prefix(project):
    item = item_make(project, name="d.jpg", data=jpeg_bytes(200, 100, seed=54))
    task = {
        "data": {"image": "/data/upload/3/1a2b3c4d-d.jpg"},
        "annotations": [
            {"was_cancelled": True, "result": []},
            {
                "result": [
                    {
                        "id": "r1",
                        "type": "polygonlabels",
                        "from_name": "damage",
                        "to_name": "image",
                        "original_width": 200,
                        "original_height": 100,
                        "value": {
                            "points": [[10, 10], [60, 10], [60, 60], [10, 60]],
                            "polygonlabels": ["scratch"],
                        },
                    },
                    {
                        "id": "r1",
                        "type": "choices",
                        "from_name": "severity",
                        "value": {"choices": ["severe"]},
                    },
                ]
            },
        ],
    }

    summary = label_import.labels_import_labelstudio(project=project, tasks=[task])

    assert [r["item_id"] for r in summary.imported] == [str(item.pk)]
    _, ((label, severity, mask),) = _stored(item)
    assert (label, severity) == ("scratch", "severe")
    # 50% x 50% of the image, from 10% in
    ys, xs = np.nonzero(mask)
    assert xs.min() == pytest.approx(0.1 * item.mask_width, abs=2)
    assert xs.max() == pytest.approx(0.6 * item.mask_width, abs=2)
    assert ys.max() == pytest.approx(0.6 * item.mask_height, abs=2)


def test_labels_import_keeps_labels_made_on_the_product(project, labeller):
    from labelling import services

    item = item_make(project, name="e.jpg")
    services.item_labels_save(item=item, user=labeller, base_version=0, regions=[])
    brush = ls_mask_to_rle(np.ones((item.working_height, item.working_width), bool))
    task = {
        "data": {"image": "e.jpg"},
        "annotations": [
            {
                "result": [
                    {
                        "id": "x",
                        "type": "brushlabels",
                        "original_width": item.working_width,
                        "original_height": item.working_height,
                        "value": {"format": "rle", "rle": brush, "brushlabels": ["dent"]},
                    }
                ]
            }
        ],
    }

    summary = label_import.labels_import_labelstudio(project=project, tasks=[task])

    assert summary.unmatched == [{"name": "e.jpg", "reason": label_import.KEPT_HUMAN}]
    assert ItemLabels.objects.get(item=item).source == "labelled"


def test_labels_import_puts_items_through_the_qa_draw(project):
    project.qa_share = 1.0
    project.save()
    item = item_make(project, name="f.jpg")
    data = {
        "images": [{"id": 1, "file_name": "f.jpg", "width": 10, "height": 10}],
        "categories": [],
        "annotations": [],
    }

    label_import.labels_import_coco(project=project, data=data)

    item.refresh_from_db()
    assert item.status == ProjectItem.Status.IN_QA
    assert ItemLabels.objects.get(item=item).regions == []


def test_labels_import_refuses_what_is_not_coco(project):
    with pytest.raises(UnprocessableError) as exc:
        label_import.labels_import(
            project=project, fileobj=io.BytesIO(json.dumps({"images": []}).encode()), fmt="coco"
        )

    assert exc.value.message == label_import.ERR_NOT_COCO


def test_labels_import_refuses_a_file_that_is_not_json(project):
    with pytest.raises(UnprocessableError) as exc:
        label_import.labels_import(
            project=project, fileobj=io.BytesIO(b"\x89PNG"), fmt="labelstudio"
        )

    assert exc.value.code == "invalid_labels_file"


def test_polygons_helper_is_lossy_only_at_edges():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True

    assert mask_to_polygons(mask)
