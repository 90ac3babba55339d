"""Load an extracted export the way the tools it targets do, without installing them.

- **Ultralytics** (too big to install here): ``data.yaml`` read by the documented rules of
  ``ultralytics.data.utils.check_det_dataset`` and ``YOLODataset``: ``train`` and ``val`` are
  required; ``names``/``nc`` agree and class indices run 0..nc-1; paths resolve against ``path``
  or else the yaml's folder; every split folder must exist and hold images (``No images found``
  otherwise); an image's labels are at the path with the last ``/images/`` replaced by
  ``/labels/`` and the suffix by ``.txt``; segment rows are ``class x y x y ...`` with at least
  three points, coordinates normalised to [0, 1] (``verify_image_label``).
- **Label Studio** import: the task format of labelstud.io/guide/task_format and
  /guide/predictions, checked against the exported labelling config: ``data`` holds every
  ``$variable`` of the config's object tags; ``annotations`` and ``predictions`` hold
  ``result`` lists whose items name a control tag (``from_name``), its object (``to_name``),
  the control's type and values the control offers.
- **pycocotools**: ``COCO(path)`` and ``annToMask`` for every annotation.

Each loader returns what it read and raises ``AssertionError`` naming the first rule broken.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pycocotools.coco import COCO

# ultralytics.data.utils.IMG_FORMATS
ULTRALYTICS_IMG_FORMATS = {
    "bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic",
}  # fmt: skip
# Label Studio object tags whose ``value="$x"`` names a task data key.
LS_OBJECT_TAGS = {"Image", "Text", "Audio", "Video", "HyperText", "TimeSeries"}
# Control tags and the child tag holding their values.
LS_CONTROL_TAGS = {
    "BrushLabels": "Label",
    "Labels": "Label",
    "RectangleLabels": "Label",
    "PolygonLabels": "Label",
    "Choices": "Choice",
}


def ultralytics_load(data_yaml: Path) -> dict[str, Any]:
    """The data set as Ultralytics would train on it: ``{split: [(image, label rows)]}``."""
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "data.yaml is not a mapping"
    for key in ("train", "val"):
        assert data.get(key), f"'{key}:' key missing: 'train' and 'val' are required"
    assert "names" in data or "nc" in data, "either 'names' or 'nc' is required"
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if names is not None and "nc" in data:
        assert len(names) == data["nc"], f"names length {len(names)} and nc {data['nc']} differ"
    nc = len(names) if names is not None else data["nc"]
    if names is not None:
        keys = sorted(int(k) for k in names)
        assert keys == list(range(nc)), f"{nc}-class dataset requires class indices 0-{nc - 1}"
    root = Path(data.get("path") or data_yaml.parent)
    if not root.is_absolute():
        root = data_yaml.parent / root
    loaded: dict[str, Any] = {"nc": nc, "names": names}
    for key in ("train", "val", "test"):
        if not data.get(key):
            continue
        values = data[key] if isinstance(data[key], list) else [data[key]]
        images: list[Path] = []
        for value in values:
            folder = (root / value).resolve()
            assert folder.exists(), f"{key}: {value} does not exist ({folder})"
            images += sorted(
                p
                for p in folder.rglob("*.*")
                if p.suffix[1:].lower() in ULTRALYTICS_IMG_FORMATS and p.is_file()
            )
        assert images, f"{key}: no images found in {values}"
        loaded[key] = [(image, _ultralytics_labels(image, nc)) for image in images]
    return loaded


def _ultralytics_labels(image: Path, nc: int) -> list[list[float]]:
    with Image.open(image) as im:
        im.verify()
    with Image.open(image) as im:
        assert min(im.size) > 9, f"image size {im.size} <10 pixels"
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    label = Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")
    assert label.is_file(), f"no label file for {image} (looked for {label})"
    rows = [line.split() for line in label.read_text().strip().splitlines() if line]
    parsed = []
    for row in rows:
        assert len(row) >= 7, f"{label}: a segment needs at least 3 points: {row}"
        assert len(row) % 2 == 1, f"{label}: odd number of coordinates: {row}"
        cls, coords = int(row[0]), [float(v) for v in row[1:]]
        assert 0 <= cls < nc, f"{label}: class {cls} exceeds dataset class count {nc}"
        assert all(0 <= v <= 1 for v in coords), f"{label}: non-normalised coordinates"
        parsed.append([cls, *coords])
    return parsed


def _ls_config(config_xml: str) -> tuple[set[str], dict[str, dict[str, Any]]]:
    root = ET.fromstring(config_xml)  # noqa: S314 - the export under test, not foreign input
    variables: set[str] = set()
    controls: dict[str, dict[str, Any]] = {}
    for tag in root.iter():
        value = tag.get("value", "")
        if tag.tag in LS_OBJECT_TAGS and value.startswith("$"):
            variables.add(value[1:])
        if tag.tag in LS_CONTROL_TAGS:
            controls[tag.get("name")] = {
                "type": tag.tag.lower(),
                "to_name": tag.get("toName"),
                "values": {c.get("value") for c in tag.iter(LS_CONTROL_TAGS[tag.tag])},
                "per_region": tag.get("perRegion") == "true",
            }
    return variables, controls


def label_studio_load(tasks_json: Path, config_xml: Path) -> list[dict[str, Any]]:
    """The tasks, checked as Label Studio's import checks them against the project config."""
    variables, controls = _ls_config(config_xml.read_text(encoding="utf-8"))
    assert variables, "the labelling config has no object tag with a $variable"
    tasks = json.loads(tasks_json.read_text(encoding="utf-8"))
    assert isinstance(tasks, list), "tasks.json must be a list of tasks"
    for n, task in enumerate(tasks):
        assert isinstance(task.get("data"), dict), f"task {n}: 'data' must be an object"
        missing = variables - set(task["data"])
        assert not missing, f"task {n}: data lacks {sorted(missing)} used by the config"
        for kind in ("annotations", "predictions"):
            for item in task.get(kind, []):
                assert isinstance(item.get("result"), list), f"task {n}: {kind} need a result"
                if kind == "predictions":
                    assert isinstance(item.get("model_version", ""), str)
                    score = item.get("score")
                    assert score is None or isinstance(score, int | float)
                _ls_results(item["result"], controls, f"task {n} {kind}")
    return tasks


def _ls_results(results: list[dict], controls: dict, where: str) -> None:
    region_ids = {r["id"] for r in results if r.get("type") != "choices"}
    for r in results:
        control = controls.get(r.get("from_name"))
        assert control is not None, f"{where}: from_name {r.get('from_name')!r} not in config"
        assert r.get("to_name") == control["to_name"], f"{where}: to_name {r.get('to_name')!r}"
        assert r.get("type") == control["type"], f"{where}: type {r.get('type')!r}"
        value = r.get("value")
        assert isinstance(value, dict) and r["type"] in value, f"{where}: value lacks {r['type']}"
        unknown = set(value[r["type"]]) - control["values"]
        assert not unknown, f"{where}: {sorted(unknown)} not offered by {r['from_name']}"
        assert isinstance(r.get("id"), str) and r["id"], f"{where}: result id must be a string"
        if r["type"] == "brushlabels":
            assert value.get("format") == "rle", f"{where}: brush value format must be rle"
            rle = value.get("rle")
            assert isinstance(rle, list) and all(isinstance(b, int) and 0 <= b < 256 for b in rle)
            for key in ("original_width", "original_height"):
                assert isinstance(r.get(key), int) and r[key] > 0, f"{where}: {key}"
        if r["type"] == "choices" and control["per_region"]:
            assert r["id"] in region_ids, f"{where}: per-region choice {r['id']} has no region"


def coco_load(instances_json: Path) -> tuple[COCO, dict[int, np.ndarray]]:
    """pycocotools' reading: ``COCO(path)`` and ``annToMask`` of every annotation."""
    coco = COCO(str(instances_json))
    masks = {}
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.imgs[ann["image_id"]]
        mask = coco.annToMask(ann)
        assert mask.shape == (img["height"], img["width"]), f"annotation {ann['id']}: shape"
        masks[ann["id"]] = mask
    return coco, masks
