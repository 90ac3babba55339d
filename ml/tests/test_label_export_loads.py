"""Every export loads as written in the tool it targets: Ultralytics (``data.yaml``), Label
Studio (task import against the exported config) and pycocotools (``COCO`` + ``annToMask``).

The rules are those tools' documented ones, applied by ``ml.tests.tool_loaders``; the zip is
extracted as a data team would, and nothing is renamed or added by hand.
"""

import html
import zipfile
from xml.etree import ElementTree as ET

import cv2
import numpy as np
import pytest

from ml import label_export as lx
from ml.labels import DEFAULT_LABEL_MAP, DEFAULT_PART_MAP
from ml.tests.test_label_export import H, W, _box, _images
from ml.tests.tool_loaders import coco_load, label_studio_load, ultralytics_load


def _export(tmp_path, images, *, polygons=True):
    path = tmp_path / "export.zip"
    lx.write_label_export(path, images, label_map=DEFAULT_LABEL_MAP, polygons=polygons)
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(out)
    return out


def _ls_choices(config: str, name: str) -> list[ET.Element]:
    """The ``<Choice>`` tags of the config's ``<Choices name=...>``."""
    return list(ET.fromstring(config).find(f"Choices[@name='{name}']"))  # noqa: S314


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` dilated by one pixel (8-neighbourhood)."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _one_split(split: str) -> list[lx.ExportImage]:
    reviewed, _ = _images()
    reviewed.split = split
    return [reviewed]


def test_export_of_both_splits_loads_in_every_tool(tmp_path):
    # given
    images = _images()

    # when
    root = _export(tmp_path, images)

    # then
    yolo = ultralytics_load(root / "data.yaml")
    assert [p.name for p, _ in yolo["train"]] == ["p1.jpg"]
    assert [p.name for p, _ in yolo["val"]] == ["p2.jpg"]
    assert [row[0] for row in yolo["train"][0][1]] == [0, 1, 2]  # dent, scratch, crack
    assert yolo["names"][0] == "dent" and yolo["nc"] == len(DEFAULT_LABEL_MAP.classes)
    tasks = label_studio_load(
        root / "label_studio" / "tasks.json", root / "label_studio" / "label_config.xml"
    )
    assert [t["data"]["photo_id"] for t in tasks] == ["p1", "p2"]
    _, masks = coco_load(root / "coco" / "instances.json")
    labels = [r for image in images for r in image.labels]
    assert [np.array_equal(masks[i + 1].astype(bool), r.mask) for i, r in enumerate(labels)] == [
        True
    ] * len(labels)
    _, poly_masks = coco_load(root / "coco" / "instances_polygons.json")
    assert len(poly_masks) == len(labels)


@pytest.mark.parametrize("split", ["train", "eval"])
def test_export_of_one_split_has_a_data_yaml_ultralytics_can_train_on(tmp_path, split):
    # given: every photo on one side (a small export, or one filtered by split)
    images = _one_split(split)

    # when
    root = _export(tmp_path, images)

    # then: train and val both name folders that exist and hold the export's images
    yolo = ultralytics_load(root / "data.yaml")
    assert [p.name for p, _ in yolo["train"]] == ["p1.jpg"]
    assert [p.name for p, _ in yolo["val"]] == ["p1.jpg"]
    assert not (root / "images" / ("eval" if split == "train" else "train")).exists()
    text = (root / "data.yaml").read_text()
    assert f"no {'eval' if split == 'train' else 'train'} images" in text  # said, not hidden


def test_empty_export_data_yaml_names_folders_that_exist(tmp_path):
    root = _export(tmp_path, [])

    import yaml

    data = yaml.safe_load((root / "data.yaml").read_text())
    for key in ("train", "val"):
        assert (root / data[key]).is_dir(), data[key]
    assert (root / "labels" / "train").is_dir()


def test_thin_and_one_pixel_regions_load_in_coco_polygons_and_yolo(tmp_path):
    # given: a one-pixel region and a two-pixel-high scratch, which simplify to < 3 points
    dot = np.zeros((H, W), dtype=bool)
    dot[10, 10] = True
    line = _box(30, 32, 5, 60)
    regions = [
        lx.ExportRegion(0, "dent", dot, "minor", "human", reviewer="adj-1"),
        lx.ExportRegion(1, "scratch", line, "minor", "human", reviewer="adj-1"),
    ]
    reviewed, _ = _images()
    reviewed.labels = regions

    # when
    root = _export(tmp_path, [reviewed])

    # then: every annotation of the polygon file rasterises in pycocotools, within the
    # documented 1 px of its mask
    _, masks = coco_load(root / "coco" / "instances_polygons.json")
    for (_, mask), region in zip(sorted(masks.items()), regions, strict=True):
        got = mask.astype(bool)
        assert got.any(), region.label
        assert not (got & ~_grow(region.mask)).any() and not (region.mask & ~_grow(got)).any()
    # YOLO keeps both regions, and each rasterises back (cv2.fillPoly) within 1 px of its mask
    yolo = ultralytics_load(root / "data.yaml")
    rows = yolo["train"][0][1]
    assert [row[0] for row in rows] == [0, 1]
    for row, region in zip(rows, regions, strict=True):
        back = lx.yolo_rasterise([row[1:]], H, W)
        assert (back & region.mask).any()
        assert not (back & ~_grow(region.mask)).any() and not (region.mask & ~_grow(back)).any()


def test_label_studio_config_escapes_class_names(tmp_path):
    from ml.labels import LabelMap

    mapping = DEFAULT_LABEL_MAP.to_dict()
    mapping["classes"][0]["name"] = 'dent "deep" & wide'
    label_map = LabelMap.from_dict(mapping)
    mask = _box(5, 30, 10, 50)
    image = lx.ExportImage(
        key="p1",
        split="train",
        width=W,
        height=H,
        image=_images()[0].image,
        labels=[lx.ExportRegion(0, 'dent "deep" & wide', mask, "minor", "human")],
        reviewed=True,
    )
    path = tmp_path / "e.zip"
    lx.write_label_export(path, [image], label_map=label_map, formats=["labelstudio"])
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "x")

    tasks = label_studio_load(
        tmp_path / "x" / "label_studio" / "tasks.json",
        tmp_path / "x" / "label_studio" / "label_config.xml",
    )

    assert tasks[0]["annotations"][0]["result"][0]["value"]["brushlabels"] == ['dent "deep" & wide']


def test_label_studio_config_shows_display_names_as_escaped_html(tmp_path):
    # given: a display name with characters that are markup in XML and in HTML
    from ml.labels import LabelMap

    mapping = DEFAULT_LABEL_MAP.to_dict()
    mapping["classes"][0]["display"] = 'Dent <b>"deep"</b> & wide'
    label_map = LabelMap.from_dict(mapping)
    reviewed, _ = _images()

    # when
    path = tmp_path / "e.zip"
    lx.write_label_export(path, [reviewed], label_map=label_map, formats=["labelstudio"])
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "x")
    root = tmp_path / "x" / "label_studio"

    # then: the value stays the code, and the html attribute, once read as XML, is HTML text
    # that shows the display name literally (no tag of its own)
    config = (root / "label_config.xml").read_text()
    labels = ET.fromstring(config).iter("Label")  # noqa: S314 - the export under test
    (dent,) = [e for e in labels if e.get("value") == "dent"]
    assert dent.get("html") == 'Dent &lt;b&gt;"deep"&lt;/b&gt; &amp; wide'
    assert html.unescape(dent.get("html")) == 'Dent <b>"deep"</b> & wide'
    tasks = label_studio_load(root / "tasks.json", root / "label_config.xml")
    assert tasks[0]["annotations"][0]["result"][0]["value"]["brushlabels"] == ["dent"]


def test_label_studio_part_choices_load_and_list_every_exported_part(tmp_path):
    # given: a region on a bundled part and one on a part of another model's part map
    reviewed, _ = _images()
    reviewed.labels[1].part = "sill"  # not in the bundled part map

    # when
    root = _export(tmp_path, [reviewed], polygons=False)

    # then: the config offers the bundled parts and the foreign one; the tasks load against it
    config = (root / "label_studio" / "label_config.xml").read_text()
    assert '<Choices name="part" toName="image" perRegion="true">' in config
    choices = {e.get("value"): e.get("html") for e in _ls_choices(config, "part")}
    assert choices == {p: DEFAULT_PART_MAP.display(p) for p in (*DEFAULT_PART_MAP.names, "sill")}
    assert choices["sill"] == "Sill"  # a foreign part gets its display name too
    (task,) = label_studio_load(
        root / "label_studio" / "tasks.json", root / "label_studio" / "label_config.xml"
    )
    parts = {
        r["id"]: r["value"]["choices"]
        for r in task["annotations"][0]["result"]
        if r["from_name"] == "part"
    }
    assert parts == {"h0": ["front_door"], "h1": ["sill"]}
