"""Model builders, BatchNorm handling, partial-label loss and ONNX export."""

from __future__ import annotations

import math

import onnx
import pytest
import torch
import torch.nn.functional as F

from ml.export import OPSET
from ml.labels import IGNORE_INDEX, UNTYPED_DAMAGE
from ml.losses import frequency_class_weights, partial_label_loss
from ml.model import UNKNOWN_ARCH_ERROR, build_model, reestimate_bn, set_bn_momentum
from ml.tests.model_fixtures import export_tiny


def test_build_model_raises_bn_momentum_above_torchvision_default():
    # given / when
    model = build_model(7, "lraspp_mobilenet_v3_small")
    # then: torchvision's 0.01 is replaced everywhere (eval-collapse pitfall)
    moms = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert moms == {0.1}


def test_build_model_returns_logits_at_input_size():
    model = build_model(5, "lraspp_mobilenet_v3_small").eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 96) * 255)
    assert tuple(out.shape) == (2, 5, 64, 96)


def test_build_model_unknown_arch_raises():
    with pytest.raises(ValueError, match=UNKNOWN_ARCH_ERROR.split("{")[0]):
        build_model(7, "unet")


def test_reestimate_bn_matches_batch_statistics():
    # given: a model whose running stats are stale (momentum 0.01, never trained)
    model = build_model(7, "lraspp_mobilenet_v3_small")
    set_bn_momentum(model, 0.01)
    x = torch.rand(4, 3, 64, 64) * 255
    # when
    reestimate_bn(model, [x])
    # then: the first BN's running mean is its input's channel mean
    first_conv = model.net.backbone["0"][0]
    bn = model.net.backbone["0"][1]
    with torch.no_grad():
        feats = first_conv((x - model.mean) * model.inv_std)
    torch.testing.assert_close(bn.running_mean, feats.mean((0, 2, 3)), atol=1e-4, rtol=1e-4)
    assert bn.momentum == 0.01


def test_partial_label_loss_untyped_pixel_is_minus_log_damage_sum():
    # given: one pixel, damage probability split over two types
    logits = torch.tensor([0.0, 1.0, 1.0, -50, -50, -50, -50]).view(1, 7, 1, 1)
    target = torch.full((1, 1, 1), UNTYPED_DAMAGE)
    # when
    loss = partial_label_loss(logits, target)
    # then
    p = torch.softmax(logits.flatten(), 0)
    assert loss.item() == pytest.approx(-math.log(p[1:].sum().item()), rel=1e-5)


def test_partial_label_loss_typed_pixels_equal_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 4, 4)
    target = torch.randint(0, 7, (2, 4, 4))
    loss = partial_label_loss(logits, target)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-5)


def test_partial_label_loss_ignores_void_pixels():
    torch.manual_seed(0)
    logits = torch.randn(1, 7, 4, 4)
    target = torch.randint(0, 7, (1, 4, 4))
    target[0, :2] = IGNORE_INDEX
    changed = logits.clone()
    changed[:, :, :2] += 100 * torch.randn(1, 7, 2, 4)
    assert partial_label_loss(logits, target).item() == pytest.approx(
        partial_label_loss(changed, target).item(), rel=1e-6
    )


def test_partial_label_loss_class_weights_shift_toward_weighted_class():
    logits = torch.zeros(1, 7, 1, 2)
    target = torch.tensor([[[0, 3]]])
    logits[0, 3, 0, 1] = 2.0  # class 3 pixel well predicted (low loss)
    plain = partial_label_loss(logits, target).item()
    weighted = partial_label_loss(logits, target, class_weights=[1, 1, 1, 9, 1, 1, 1]).item()
    assert weighted < plain


def test_frequency_class_weights_rare_class_heavier():
    w = frequency_class_weights([1000, 10, 0, 100])
    assert w[1] > w[3] > w[0]
    assert w[2] == 1.0


def test_export_writes_onnx_at_opset_17_or_above(tmp_path):
    export_tiny(tmp_path)
    proto = onnx.load(str(tmp_path / "model.onnx"))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= OPSET >= 17
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
