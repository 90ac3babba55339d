"""An export job over the database loads as written in the tools it targets: its ``data.yaml``
in Ultralytics, its tasks in Label Studio, its COCO files in pycocotools (ml.tests.tool_loaders).

The reviewed claim of these tests sits on one split only (``split_for_claim``), which is how
small exports and exports filtered by split look.
"""

import numpy as np

from claims.tests.conftest import data_team_member  # noqa: F401
from learning.splits import split_for_claim
from learning.tests.test_exports import _run, _stored, _zip, reviewed  # noqa: F401
from ml.tests.tool_loaders import coco_load, label_studio_load, ultralytics_load
from review.models import LabelRegion
from review.tests.conftest import adjuster, make_in_review_claim  # noqa: F401


def test_export_job_loads_in_ultralytics_label_studio_and_pycocotools(
    reviewed, data_team_member, tmp_path
):
    # given: one reviewed photo and one photo with predictions only, on the claim's split
    claim, photos = reviewed
    stored = list(LabelRegion.objects.filter(labels__photo=photos[0]).order_by("index"))

    # when: every format, with predictions and COCO polygons
    job = _run(data_team_member, include_predictions=True)
    _zip(job).extractall(tmp_path)

    # then
    yolo = ultralytics_load(tmp_path / "data.yaml")
    split = split_for_claim(claim.pk)
    keys = sorted(f"{p.pk}.jpg" for p in photos)
    assert sorted(p.name for p, _ in yolo["train"]) == keys
    assert sorted(p.name for p, _ in yolo["val"]) == keys  # the only split there is
    assert (tmp_path / "images" / split).is_dir()
    tasks = label_studio_load(
        tmp_path / "label_studio" / "tasks.json", tmp_path / "label_studio" / "label_config.xml"
    )
    assert sorted(t["data"]["photo_id"] for t in tasks) == sorted(str(p.pk) for p in photos)
    assert sum("annotations" in t for t in tasks) == 1
    coco, masks = coco_load(tmp_path / "coco" / "instances.json")
    reviewed_id = next(i for i, img in coco.imgs.items() if img["photo_id"] == str(photos[0].pk))
    human = [a["id"] for a in coco.loadAnns(coco.getAnnIds(imgIds=reviewed_id))]
    for ann_id, region in zip(human, stored, strict=True):
        assert np.array_equal(masks[ann_id].astype(bool), _stored(region))
    _, polygon_masks = coco_load(tmp_path / "coco" / "instances_polygons.json")
    assert sorted(polygon_masks) == sorted(masks)
    assert job.counts["images"] == 2 and len(masks) == job.counts["label_regions"]
