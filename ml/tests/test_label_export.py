"""Round trips of the label export: every format read back with its own conventions."""

import csv
import hashlib
import io
import json
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from ml import label_export as lx
from ml.labels import DEFAULT_LABEL_MAP

H, W = 60, 90
# regions.csv's columns before display names were added; readers may index them by position
REGION_CSV_FIELDS_BEFORE_NAMES = [
    "photo_id",
    "claim_id",
    "split",
    "reviewed",
    "source",
    "region_index",
    "label",
    "category_id",
    "severity",
    "score",
    "model_version",
    "reviewer",
    "area_px",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "part",
]


def _box(y0, y1, x0, x1, h=H, w=W):
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def _disc(cy, cx, r, h=H, w=W):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _jpeg(seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def _images():
    dent = lx.ExportRegion(
        0, "dent", _box(5, 30, 10, 50), "minor", "human", None, "v1", "adj-1", 0, "front_door"
    )
    scratch = lx.ExportRegion(1, "scratch", _disc(40, 60, 12), "severe", "human", reviewer="adj-1")
    inner = lx.ExportRegion(2, "crack", _box(10, 15, 20, 30), "moderate", "human", reviewer="adj-1")
    pred = lx.ExportRegion(0, "dent", _box(6, 30, 10, 48), "minor", "model", 0.71, "v1")
    reviewed = lx.ExportImage(
        key="p1",
        split="train",
        width=W,
        height=H,
        image=_jpeg(1),
        labels=[dent, scratch, inner],
        predictions=[pred],
        reviewed=True,
        photo_score=0.4,
        meta={"photo_id": "p1", "claim_id": "c1", "labels_version": 2},
        ledger=[
            {"photo_id": "p1", "action": "reshaped", "source_index": 0, "region_index": 0},
            {"photo_id": "p1", "action": "added", "region_index": 1},
        ],
    )
    model_only = lx.ExportImage(
        key="p2",
        split="eval",
        width=W,
        height=H,
        image=_jpeg(2),
        labels=[lx.ExportRegion(0, "lamp_broken", _disc(20, 20, 9), "minor", "model", 0.9, "v1")],
        predictions=[
            lx.ExportRegion(0, "lamp_broken", _disc(20, 20, 9), "minor", "model", 0.9, "v1")
        ],
        meta={"photo_id": "p2", "claim_id": "c2"},
    )
    return [reviewed, model_only]


@pytest.fixture
def exported(tmp_path):
    path = tmp_path / "export.zip"
    images = _images()
    counts = lx.write_label_export(
        path, images, label_map=DEFAULT_LABEL_MAP, manifest={"query": {"x": 1}}, polygons=True
    )
    return path, images, counts


def test_upsample_mask_is_nearest_neighbour_at_pixel_centres():
    grid = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)

    up = lx.upsample_mask(grid, 4, 6)

    assert up.shape == (4, 6)
    assert np.array_equal(up, np.kron(grid, np.ones((2, 2), dtype=bool)))  # exact for x2
    odd = lx.upsample_mask(grid, 3, 5)  # non-integer factors pick the cell under each centre
    assert odd[:, 0].tolist() == [True, False, False] and odd[0].tolist() == [1, 1, 0, 1, 1]


def test_ls_rle_round_trips_and_matches_the_reference_layout():
    mask = _disc(30, 40, 17) | _box(0, 1, 0, 90)  # a long run and short ones
    mask[59, 89] = True  # a single value at the very end

    rle = lx.ls_mask_to_rle(mask)

    assert all(isinstance(b, int) and 0 <= b < 256 for b in rle)
    header = "".join(f"{b:08b}" for b in rle[:7])
    assert int(header[:32], 2) == H * W * 4  # RGBA values, not pixels
    assert int(header[32:37], 2) == 7  # word size 8
    assert [int(header[37 + 4 * i : 41 + 4 * i], 2) + 1 for i in range(4)] == [3, 4, 8, 16]
    assert np.array_equal(lx.ls_rle_to_mask(rle, H, W), mask)
    # a run longer than 2**16 values is split like label-studio-converter does
    long = np.full(2**16 + 5, 255, dtype=np.uint8)
    assert np.array_equal(lx.ls_decode_rle(lx.ls_encode_rle(long)), long)


def test_export_coco_reads_back_with_pycocotools_pixel_for_pixel(exported, tmp_path):
    path, images, counts = exported
    with zipfile.ZipFile(path) as zf:
        zf.extract("coco/instances.json", tmp_path)
        polys = json.loads(zf.read("coco/instances_polygons.json"))

    coco = COCO(str(tmp_path / "coco" / "instances.json"))

    assert counts["images"] == 2 and counts["label_regions"] == 4
    assert {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())}["dent"] == 1
    # the code stays the name tools key on; the label map's display name rides beside it
    assert {i: c["display_name"] for i, c in coco.cats.items()} == {
        c.id: c.display_name for c in DEFAULT_LABEL_MAP.classes
    }
    assert (coco.cats[4]["name"], coco.cats[4]["display_name"]) == ("glass_shatter", "Broken glass")
    first = coco.loadAnns(coco.getAnnIds(imgIds=sorted(coco.getImgIds())[0]))[0]
    assert first["attributes"]["part"] == "front_door"
    for img_id, image in zip(sorted(coco.getImgIds()), images, strict=True):
        info = coco.loadImgs(img_id)[0]
        assert (info["width"], info["height"]) == (W, H)
        assert info["file_name"] == image.image_name and info["photo_id"] == image.key
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) == len(image.labels)
        for ann, region in zip(anns, image.labels, strict=True):
            assert isinstance(ann["segmentation"]["counts"], str)
            assert np.array_equal(coco.annToMask(ann).astype(bool), region.mask)
            assert ann["area"] == region.area and ann["bbox"] == region.bbox()
            assert ann["attributes"]["source"] == region.source
            assert ann["attributes"]["severity"] == region.severity
            assert ann["attributes"]["reviewer"] == region.reviewer
    first = coco.loadAnns(coco.getAnnIds(imgIds=2))[0]
    assert first["attributes"]["score"] == 0.9 and first["attributes"]["model_version"] == "v1"
    assert isinstance(polys["annotations"][0]["segmentation"], list)


def test_export_voc_pngs_equal_the_class_and_object_maps(exported):
    path, images, _ = exported
    with zipfile.ZipFile(path) as zf:
        cls = Image.open(io.BytesIO(zf.read("voc/SegmentationClass/p1.png")))
        obj = Image.open(io.BytesIO(zf.read("voc/SegmentationObject/p1.png")))
        labelmap = zf.read("voc/labelmap.txt").decode().splitlines()
        train = zf.read("voc/ImageSets/Segmentation/train.txt").decode().split()

    assert cls.mode == "P" and obj.mode == "P"
    values = np.array(cls)
    assert np.array_equal(values, lx.class_map(images[0], DEFAULT_LABEL_MAP))
    assert values[12, 25] == 3  # the small crack inside the dent stays visible
    assert values[20, 12] == 1 and values[0, 0] == 0 and values[40, 60] == 2
    assert cls.getpalette()[3 * 1 : 3 * 2] == list(DEFAULT_LABEL_MAP.by_id(1).rgb)
    assert np.array(obj)[40, 60] == 2 and np.array(obj)[12, 25] == 3
    assert labelmap[1] == "background:0,0,0::" and labelmap[2].startswith("dent:0,114,178")
    assert train == ["p1"]


def test_export_yolo_polygons_rasterise_back_close_to_the_masks(exported):
    path, images, _ = exported
    with zipfile.ZipFile(path) as zf:
        rows = zf.read("labels/train/p1.txt").decode().splitlines()
        data_yaml = zf.read("data.yaml").decode()

    parsed = [list(map(float, r.split())) for r in rows]
    assert [int(r[0]) for r in parsed] == [0, 1, 2]  # label id - 1
    assert all(0 <= v <= 1 for r in parsed for v in r[1:])
    for row, region in zip(parsed, images[0].labels, strict=True):
        back = lx.yolo_rasterise([row[1:]], H, W)
        iou = (back & region.mask).sum() / (back | region.mask).sum()
        assert iou > 0.9
    yaml = pytest.importorskip("yaml")
    meta = yaml.safe_load(data_yaml)
    assert meta["names"][0] == "dent" and meta["nc"] == 6 and meta["val"] == "images/eval"


def test_export_label_studio_tasks_hold_predictions_and_annotations(exported):
    path, images, _ = exported
    with zipfile.ZipFile(path) as zf:
        tasks = json.loads(zf.read("label_studio/tasks.json"))
        config = ElementTree.fromstring(zf.read("label_studio/label_config.xml"))  # noqa: S314

    # codes stay the values the results carry; Label Studio shows the display names (html)
    labels = [(e.get("value"), e.get("html")) for e in config.iter("Label")]
    assert labels == [(c.name, c.display_name) for c in DEFAULT_LABEL_MAP.classes]
    parts = {e.get("value"): e.get("html") for e in config.find("Choices[@name='part']")}
    assert parts["front_door"] == "Front door" and parts["other"] == "Other"

    reviewed, model_only = tasks
    pred = reviewed["predictions"][0]
    assert pred["model_version"] == "v1" and pred["score"] == 0.4
    brush = [r for r in pred["result"] if r["type"] == "brushlabels"]
    assert brush[0]["score"] == 0.71
    assert np.array_equal(
        lx.ls_rle_to_mask(brush[0]["value"]["rle"], H, W), images[0].predictions[0].mask
    )
    human = [r for r in reviewed["annotations"][0]["result"] if r["type"] == "brushlabels"]
    for result, region in zip(human, images[0].labels, strict=True):
        assert result["value"]["brushlabels"] == [region.label]
        assert np.array_equal(lx.ls_rle_to_mask(result["value"]["rle"], H, W), region.mask)
    choices = [r for r in reviewed["annotations"][0]["result"] if r["type"] == "choices"]
    severities = [r["value"]["choices"] for r in choices if r["from_name"] == "severity"]
    assert severities == [["minor"], ["severe"], ["moderate"]]
    # the car part is a per-region choice beside the severity, on the same region id
    parts = [(r["id"], r["value"]["choices"]) for r in choices if r["from_name"] == "part"]
    assert parts == [("h0", ["front_door"])]
    assert "annotations" not in model_only and model_only["data"]["image"] == "images/eval/p2.jpg"


def test_export_csv_has_a_row_per_region_and_per_ledger_entry(exported):
    path, _, counts = exported
    with zipfile.ZipFile(path) as zf:
        regions = list(csv.DictReader(io.StringIO(zf.read("csv/regions.csv").decode())))
        ledger = list(csv.DictReader(io.StringIO(zf.read("csv/override_ledger.csv").decode())))

    assert len(regions) == 4 and regions[0]["label"] == "dent" and regions[0]["bbox_w"] == "40"
    assert [r["part"] for r in regions[:2]] == ["front_door", ""]  # the part, where known
    assert [r["label_name"] for r in regions] == ["Dent", "Scratch", "Crack", "Broken lamp"]
    assert [r["part_name"] for r in regions[:2]] == ["Front door", ""]
    # the display names are appended: every earlier column keeps its position
    assert list(regions[0]) == [*REGION_CSV_FIELDS_BEFORE_NAMES, "label_name", "part_name"]
    assert [r["action"] for r in ledger] == ["reshaped", "added"]
    assert counts["ledger_entries"] == 2


def test_export_is_reproducible_byte_for_byte(tmp_path):
    digests = []
    for name in ("a.zip", "b.zip"):
        lx.write_label_export(tmp_path / name, _images(), label_map=DEFAULT_LABEL_MAP)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
        with zipfile.ZipFile(tmp_path / name) as zf:
            infos = zf.infolist()
    assert digests[0] == digests[1]
    assert {i.date_time for i in infos} == {lx.ZIP_DATE_TIME}
    assert {i.external_attr >> 16 for i in infos} == {lx.ZIP_FILE_MODE}
    assert "manifest.json" in {i.filename for i in infos}


def test_export_formats_select_members_and_reject_unknown(tmp_path):
    lx.write_label_export(
        tmp_path / "c.zip", _images(), label_map=DEFAULT_LABEL_MAP, formats=["csv"]
    )
    with zipfile.ZipFile(tmp_path / "c.zip") as zf:
        names = set(zf.namelist())
    assert "csv/regions.csv" in names and "images/train/p1.jpg" in names
    assert not any(n.startswith(("coco/", "voc/", "labels/")) for n in names)
    with pytest.raises(ValueError, match="unknown export format"):
        lx.LabelExportWriter(tmp_path / "d.zip", label_map=DEFAULT_LABEL_MAP, formats=["tfrecord"])
