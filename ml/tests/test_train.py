"""Training CLI: runs on tiny synthetic data, checkpoints, resumes, is reproducible by seed."""

from __future__ import annotations

import json

import pytest
import torch

from ml import synth
from ml.train import CHECKPOINT_BEST, CHECKPOINT_LAST, ERR_NO_DATA, TrainConfig, main, run


@pytest.fixture(scope="module")
def synth_coco(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    synth.generate(out, 6, seed=5, size=96, progress=False)
    return out / "annotations.json"


def _cfg(tmp_path, synth_coco, name: str, **kw) -> TrainConfig:
    base = dict(
        out=str(tmp_path / name),
        synth_train=[str(synth_coco)],
        synth_val=[str(synth_coco)],
        use_real=False,
        arch="lraspp_mobilenet_v3_small",
        input_long_side=96,
        crop_size=64,
        synth_cache_long_side=96,
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        warmup_steps=1,
        workers=0,
        threads=1,
        bn_reestimate_batches=1,
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_train_main_writes_resumable_checkpoint(tmp_path, synth_coco):
    # given: a config file
    cfg_path = tmp_path / "cfg.json"
    cfg = _cfg(tmp_path, synth_coco, "run")
    cfg_path.write_text(json.dumps(cfg.__dict__))
    # when: train 1 epoch, then resume to 2
    assert main(["--config", str(cfg_path)]) == 0
    assert main(["--config", str(cfg_path), "--resume", "--epochs", "2"]) == 0
    # then
    ck = torch.load(tmp_path / "run" / CHECKPOINT_LAST, weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "config", "label_map"} <= set(ck)
    assert ck["epoch"] == 1
    assert ck["config"]["epochs"] == 2
    assert ck["label_map"]["classes"][0]["name"] == "dent"
    assert ck["scheduler"]["last_epoch"] == 4  # 2 epochs x 2 steps, continued, not restarted
    assert [h["epoch"] for h in ck["history"]] == [0, 1]
    assert (tmp_path / "run" / CHECKPOINT_BEST).exists()


def test_train_same_seed_gives_same_weights(tmp_path, synth_coco):
    run(_cfg(tmp_path, synth_coco, "a"))
    run(_cfg(tmp_path, synth_coco, "b"))
    run(_cfg(tmp_path, synth_coco, "c", seed=4))
    a, b, c = (
        torch.load(tmp_path / n / CHECKPOINT_LAST, weights_only=True)["model"] for n in "abc"
    )
    key = "net.classifier.high_classifier.weight"
    assert torch.equal(a[key], b[key])
    assert not torch.equal(a[key], c[key])


def test_train_without_data_raises(tmp_path):
    with pytest.raises(ValueError, match=ERR_NO_DATA):
        run(TrainConfig(out=str(tmp_path / "x"), use_real=False))


def test_train_config_from_json_rejects_unknown_keys(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"epochs": 1, "lr_typo": 3}))
    with pytest.raises(ValueError, match="lr_typo"):
        TrainConfig.from_json(p)
