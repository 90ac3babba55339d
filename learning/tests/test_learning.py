"""Learning loop: splits, reviewed samples and snapshots, promotion, registry actions, shadow,
triggers, hot model switching and one tiny end-to-end retraining run."""

import dataclasses
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from assessment import model_versions, selectors, services
from assessment import shadow as shadow_readings
from assessment.models import AuditRecord, Decision, ModelVersion, PhotoAssessment
from assessment.tests.conftest import ScriptedSegmenter, region
from claims.tests.factories import ClaimFactory
from learning import fine_tune, promotion, runs, training_data
from learning.models import RetrainingRun
from learning.splits import EVAL, TRAIN, split_for_claim
from learning.tests.learning_fixtures import (
    GRID_H,
    GRID_W,
    box_mask,
    claim_id_in,
    register_tiny,
    reviewed_photo,
)
from ml.coco import real_dataset_available
from ml.labels import DEFAULT_LABEL_MAP
from review.models import PhotoLabels

TINY_CONFIG = fine_tune.FineTuneConfig(
    steps=2,
    batch_size=2,
    crop_size=64,
    use_base=False,
    real_eval=False,
    progress_chunks=2,
    fp16_weights=False,  # one ONNX export instead of two
)


def _version(name: str, status: str = ModelVersion.Status.CANDIDATE, **fields) -> ModelVersion:
    return ModelVersion.objects.create(
        version=name,
        path=f"/nonexistent/{name}",
        artifact_sha256="0" * 64,
        label_map=DEFAULT_LABEL_MAP.to_dict(),
        status=status,
        **fields,
    )


def _metrics(mean: float, **per_class) -> dict:
    return {"n_images": 3, "mean_iou": mean, "per_class_iou": per_class}


# --------------------------------------------------------------------------- splits


def test_split_for_claim_is_deterministic_and_near_twenty_percent():
    # given
    ids = [uuid.UUID(int=i * 104729 + 17) for i in range(4000)]
    # when
    first = [split_for_claim(i) for i in ids]
    second = [split_for_claim(str(i)) for i in ids]
    # then
    assert first == second
    assert set(first) == {TRAIN, EVAL}
    assert 0.18 < first.count(EVAL) / len(ids) < 0.22


def test_split_for_claim_known_values_never_change():
    # Pinned: a change here would move claims between train and evaluation (leakage).
    assert [split_for_claim(uuid.UUID(int=i)) for i in range(6)] == [
        TRAIN,
        TRAIN,
        EVAL,
        TRAIN,
        TRAIN,
        EVAL,
    ]


@pytest.mark.django_db
def test_reviewed_samples_keep_claims_on_one_side(model_version):
    # given two photos of an eval claim and one of a train claim
    eval_claim = ClaimFactory(id=claim_id_in(EVAL), submitted=True, status="in_review")
    reviewed_photo(model_version=model_version, claim=eval_claim, seed=1)
    reviewed_photo(model_version=model_version, claim=eval_claim, seed=2)
    train_photo = reviewed_photo(model_version=model_version, split=TRAIN, seed=3)
    # when
    samples = training_data.reviewed_samples()
    # then
    by_split = {s.photo_id: s.split for s in samples}
    assert sorted(by_split.values()) == [EVAL, EVAL, TRAIN]
    assert by_split[str(train_photo.pk)] == TRAIN
    assert {s.claim_id for s in samples if s.split == EVAL} == {str(eval_claim.pk)}
    assert [s.photo_id for s in training_data.reviewed_samples(split=TRAIN)] == [
        str(train_photo.pk)
    ]


@pytest.mark.django_db
def test_reviewed_samples_carry_image_masks_types_and_severities(model_version):
    # given
    box = (20, 16, 30, 20)
    reviewed_photo(
        model_version=model_version,
        regions=[("dent", "moderate", box), ("scratch", "minor", (70, 40, 10, 8))],
    )
    # when
    (sample,) = training_data.reviewed_samples()
    # then
    assert sample.image.shape == (GRID_H, GRID_W, 3)
    assert sample.image[box[1] + 5, box[0] + 5].mean() < 60  # the dark damage patch
    assert [(r.label, r.severity) for r in sample.regions] == [
        ("dent", "moderate"),
        ("scratch", "minor"),
    ]
    assert np.array_equal(sample.regions[0].mask, box_mask(box))
    semantic = sample.semantic_mask(DEFAULT_LABEL_MAP)
    assert semantic[box[1] + 1, box[0] + 1] == DEFAULT_LABEL_MAP.by_name("dent").id
    assert semantic[41, 71] == DEFAULT_LABEL_MAP.by_name("scratch").id
    assert semantic[0, 0] == 0


@pytest.mark.django_db
def test_snapshot_write_is_coco_split_without_leakage(model_version, tmp_path):
    # given
    from ml.coco import read_coco

    train_photo = reviewed_photo(model_version=model_version, split=TRAIN, seed=1)
    eval_photo = reviewed_photo(model_version=model_version, split=EVAL, seed=2)
    samples = training_data.reviewed_samples()
    # when
    out = training_data.snapshot_write(samples=samples, label_map=DEFAULT_LABEL_MAP, out=tmp_path)
    # then
    train = read_coco(out / "train.json", DEFAULT_LABEL_MAP)
    evaluation = read_coco(out / "eval.json", DEFAULT_LABEL_MAP)
    assert [s.image_path.stem for s in train] == [str(train_photo.pk)]
    assert [s.image_path.stem for s in evaluation] == [str(eval_photo.pk)]
    assert np.array_equal(train[0].regions[0].mask, box_mask((20, 16, 30, 20)))
    assert train[0].regions[0].severity == "minor"
    snapshot = json.loads((out / "snapshot.json").read_text())
    assert [s["photo"] for s in snapshot["samples"]] == [str(train_photo.pk)]
    assert [s["photo"] for s in snapshot["eval_samples"]] == [str(eval_photo.pk)]
    assert snapshot["samples"][0]["labels_version"] == 1


# --------------------------------------------------------------------------- promotion rule


def test_promotion_decide_promotes_when_margin_is_beaten(settings):
    settings.CLAIMVISION_PROMOTION_MARGIN = 0.01
    settings.CLAIMVISION_PROMOTION_TOLERANCE = 0.02
    result = promotion.promotion_decide(
        candidate=_metrics(0.52, background=0.9, dent=0.3),
        active=_metrics(0.50, background=0.9, dent=0.28),
    )
    assert result["promote"] is True
    assert result["reasons"] == []
    assert result["gain"] == pytest.approx(0.02)


def test_promotion_decide_refuses_gain_below_margin():
    result = promotion.promotion_decide(
        candidate=_metrics(0.505, dent=0.3), active=_metrics(0.50, dent=0.3), margin=0.01
    )
    assert result["promote"] is False
    assert "below the margin" in result["reasons"][0]


def test_promotion_decide_refuses_a_class_regression_beyond_tolerance():
    # given a better mean IoU bought with a worse scratch class
    result = promotion.promotion_decide(
        candidate=_metrics(0.60, dent=0.6, scratch=0.17),
        active=_metrics(0.50, dent=0.3, scratch=0.20),
        margin=0.01,
        tolerance=0.02,
    )
    assert result["promote"] is False
    assert result["regressions"] == ["scratch"]
    assert result["per_class"]["scratch"]["delta"] == pytest.approx(-0.03)


def test_promotion_decide_refuses_without_evaluation_samples():
    empty = {"n_images": 0, "mean_iou": None, "per_class_iou": {}}
    result = promotion.promotion_decide(candidate=empty, active=empty)
    assert result["promote"] is False


# --------------------------------------------------------------------------- registry actions


@pytest.mark.django_db
def test_model_version_rollback_reactivates_an_earlier_version():
    # given
    v1 = _version("v1", ModelVersion.Status.RETIRED)
    v2 = _version("v2", ModelVersion.Status.ACTIVE, parent=v1)
    # when
    promotion.model_version_rollback(to="v1", note="bad on night photos")
    # then
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == ModelVersion.Status.ACTIVE
    assert v2.status == ModelVersion.Status.RETIRED
    assert "rolled back from v2 bad on night photos" in v1.notes
    assert model_versions.model_version_active() == v1


@pytest.mark.django_db
def test_model_version_promote_and_shadow_keep_one_of_each():
    # given
    _version("active", ModelVersion.Status.ACTIVE)
    a, b = _version("cand-a"), _version("cand-b")
    # when
    promotion.model_version_set_shadow(model_version=a)
    promotion.model_version_set_shadow(model_version=b)
    # then
    a.refresh_from_db()
    assert a.status == ModelVersion.Status.CANDIDATE
    assert shadow_readings.model_version_shadow() == b
    # when promoted by hand
    promotion.model_version_promote(model_version=b, note="by staff")
    # then
    assert model_versions.model_version_active() == b
    assert ModelVersion.objects.get(version="active").status == ModelVersion.Status.RETIRED
    with pytest.raises(ValueError, match="already active"):
        promotion.model_version_promote(model_version=b)


# --------------------------------------------------------------------------- shadow


@pytest.mark.django_db
def test_shadow_stores_assessments_but_decides_nothing(
    monkeypatch, segmenter, assessing_claim, django_capture_on_commit_callbacks
):
    # given an active model that auto-approves and a shadow that sees a severe crack
    segmenter.regions = [region("dent", 0.97, "minor")]
    shadow = promotion.model_version_set_shadow(model_version=_version("shadow-v2"))
    scripted_shadow = ScriptedSegmenter(
        regions=[region("crack", 0.99, "severe", box=(5, 5, 40, 30))], photo_confidence=0.2
    )
    monkeypatch.setattr(shadow_readings._shadow_segmenters, "get", lambda mv: scripted_shadow)
    sent = []
    monkeypatch.setattr(
        "assessment.tasks.assess_photo_task.delay", lambda photo_id: sent.append(("a", photo_id))
    )
    monkeypatch.setattr(
        "assessment.tasks.shadow_assess_task.delay",
        lambda photo_id, version: sent.append(("s", photo_id, version)),
    )
    # when the claim is started, then every task runs
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_assessment_start(claim=assessing_claim)
    assert [s[0] for s in sent] == ["a", "a", "s", "s"]  # shadow work queued after the active's
    for _, photo_id in [s for s in sent if s[0] == "a"]:
        services.photo_assess(photo_id=photo_id)
    decisions_before = list(Decision.objects.values_list("outcome", flat=True))
    audits_before = AuditRecord.objects.count()
    for _, photo_id, version in [s for s in sent if s[0] == "s"]:
        shadow_readings.shadow_photo_assess(photo_id=photo_id, version=version)
    # then the shadow's readings are stored, the decision is the active model's alone
    assessing_claim.refresh_from_db()
    assert assessing_claim.status == "auto_decided"
    assert decisions_before == ["auto_approved"]
    assert list(Decision.objects.values_list("outcome", flat=True)) == decisions_before
    assert AuditRecord.objects.count() == audits_before
    stored = PhotoAssessment.objects.filter(model_version=shadow)
    assert stored.count() == 2
    assert {r.label for a in stored for r in a.regions.all()} == {"crack"}
    assert assessing_claim.assessment.model_version.version == "test-v1"
    # and the comparison selector sees the disagreement
    comparison = selectors.shadow_comparison(
        shadow=shadow, active=ModelVersion.objects.get(version="test-v1")
    )
    assert comparison["n_photos"] == 2
    assert comparison["damage_agreement"] == 1.0
    assert comparison["label_agreement"] == 0.0
    assert 0 < comparison["mean_damage_iou"] < 1
    assert comparison["mean_confidence_delta"] == pytest.approx(0.2 - 0.95)


@pytest.mark.django_db
def test_shadow_photo_assess_skips_a_version_no_longer_in_shadow(monkeypatch, photo):
    _version("was-shadow", ModelVersion.Status.CANDIDATE)
    scripted = ScriptedSegmenter()
    monkeypatch.setattr(shadow_readings._shadow_segmenters, "get", lambda mv: scripted)
    assert shadow_readings.shadow_photo_assess(photo_id=photo.pk, version="was-shadow") is None
    assert scripted.calls == 0


# --------------------------------------------------------------------------- switching


@pytest.mark.django_db
def test_activating_a_version_switches_the_next_photo_assess(monkeypatch, assessing_claim):
    # given a worker with v1 loaded (the cache loads real model dirs; the load is scripted)
    loaded = []

    def load(model_dir, threads=2, spinning=False):
        loaded.append(str(model_dir))
        return ScriptedSegmenter(regions=[region("dent", 0.97)])

    monkeypatch.setattr("ml.inference.Segmenter.load", load)
    monkeypatch.setattr(model_versions, "segmenters", model_versions._SegmenterCache())
    v1 = _version("switch-v1", ModelVersion.Status.ACTIVE)
    v2 = _version("switch-v2")
    first, second = assessing_claim.photos.order_by("created_at")
    assert services.photo_assess(photo_id=first.pk).model_version == v1
    # when staff activate v2 (another process; no restart)
    promotion.model_version_promote(model_version=v2)
    # then the next task uses v2
    assert services.photo_assess(photo_id=second.pk).model_version == v2
    assert loaded == [str(model_versions._model_dir(v1)), str(model_versions._model_dir(v2))]


# --------------------------------------------------------------------------- triggers


@pytest.mark.django_db
def test_retrain_due_after_enough_reviewed_photos(settings, model_version, monkeypatch):
    # given
    settings.CLAIMVISION_RETRAIN_AFTER_REVIEWED = 2
    settings.CLAIMVISION_RETRAIN_SCHEDULE_HOURS = 0
    sent = []
    monkeypatch.setattr("learning.tasks.retrain_task.delay", sent.append)
    reviewed_photo(model_version=model_version, seed=1)
    assert runs.retrain_due() is None
    reviewed_photo(model_version=model_version, seed=2)
    # when
    run = runs.retrain_check()
    # then
    assert run.trigger == RetrainingRun.Trigger.COUNT
    assert run.status == RetrainingRun.Status.QUEUED
    assert run.reviewed_count == 2
    assert runs.retrain_check() is None  # one run in flight at a time


@pytest.mark.django_db
def test_retrain_due_on_schedule_only_with_new_reviews(settings, model_version):
    settings.CLAIMVISION_RETRAIN_AFTER_REVIEWED = 0
    settings.CLAIMVISION_RETRAIN_SCHEDULE_HOURS = 24
    assert runs.retrain_due() is None  # nothing reviewed
    reviewed_photo(model_version=model_version)
    assert runs.retrain_due() == RetrainingRun.Trigger.SCHEDULE
    last = RetrainingRun.objects.create(trigger="manual", status="succeeded")
    now = timezone.now()
    assert runs.retrain_due(now) is None
    RetrainingRun.objects.filter(pk=last.pk).update(created_at=now - timedelta(hours=25))
    PhotoLabels.objects.update(saved_at=now - timedelta(hours=26))
    assert runs.retrain_due(now) is None  # waited long enough, but nothing new reviewed
    reviewed_photo(model_version=model_version, seed=5)
    assert runs.retrain_due(now) == RetrainingRun.Trigger.SCHEDULE


@pytest.mark.django_db
def test_retrain_command_fails_without_reviewed_samples(tmp_path):
    register_tiny(tmp_path / "tiny")
    with pytest.raises(CommandError, match=re.escape(runs.ERR_NO_REVIEWED)):
        call_command("retrain", "--no-base", "--steps", "1")
    run = RetrainingRun.objects.get()
    assert run.status == RetrainingRun.Status.FAILED
    assert run.trigger == RetrainingRun.Trigger.MANUAL


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def tiny_active(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    return register_tiny(tmp_path / "tiny")


@pytest.mark.django_db
def test_retrain_end_to_end_registers_an_evaluated_candidate(tiny_active):
    # given two reviewed train photos and one reviewed eval photo
    train_a = reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)
    reviewed_photo(
        model_version=tiny_active,
        split=TRAIN,
        seed=2,
        regions=[("scratch", "minor", (5, 5, 40, 9))],
    )
    reviewed_photo(model_version=tiny_active, split=EVAL, seed=3)
    # when
    run = runs.retrain(config=TINY_CONFIG)
    # then
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.SUCCEEDED, run.message
    assert run.progress == 1.0
    assert "evaluating" in run.log_tail
    candidate = run.candidate
    assert candidate.parent == tiny_active
    assert candidate.version.startswith("retrain-")
    assert (runs.models_dir() / candidate.version / "model.onnx").is_file()
    assert len(candidate.artifact_sha256) == 64
    assert candidate.training_snapshot["fit"]["steps"] == 2
    assert str(train_a.pk) in [s["photo"] for s in candidate.training_snapshot["samples"]]
    assert len(candidate.training_snapshot["eval_samples"]) == 1
    coco_dir = Path(candidate.training_snapshot["coco"])
    assert json.loads((coco_dir / "train.json").read_text())["images"][0]["width"] == GRID_W
    assert len(json.loads((coco_dir / "eval.json").read_text())["images"]) == 1
    assert candidate.eval_metrics["n_images"] == 1
    assert candidate.eval_metrics["mean_iou"] is not None
    assert candidate.comparison["active_version"] == tiny_active.version
    assert candidate.comparison["promote"] == run.promoted
    expected = ModelVersion.Status.ACTIVE if run.promoted else ModelVersion.Status.CANDIDATE
    assert candidate.status == expected


@pytest.mark.django_db
def test_a_frozen_evaluation_set_lets_promotion_compare_before_reviews_reach_it(
    tiny_active, tmp_path, monkeypatch
):
    # given reviewed training photos, none in the evaluation split, and a labelled frozen set
    from ml import sources
    from ml.tests.source_fixtures import make_datasets

    monkeypatch.setattr(sources, "DATASETS_ROOT", make_datasets(tmp_path / "datasets"))
    reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)
    without = runs.retrain(config=TINY_CONFIG)
    without.refresh_from_db()
    assert without.status == RetrainingRun.Status.FAILED  # nothing to compare on
    # when the frozen set is configured
    run = runs.retrain(config=dataclasses.replace(TINY_CONFIG, frozen_eval="bilgi_test:0:3"))
    # then the candidate is compared on it
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.SUCCEEDED, run.message
    comparison = run.candidate.comparison
    assert comparison["eval_images"]["reviewed"] == 0
    assert 0 < comparison["eval_images"]["frozen"] <= 3
    assert comparison["frozen_eval"] == "bilgi_test:0:3"
    assert run.candidate.eval_metrics["n_images"] == comparison["eval_images"]["frozen"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("candidate_iou", "status", "promoted"),
    [
        ({"background": 0.95, "dent": 0.50}, ModelVersion.Status.ACTIVE, True),
        ({"background": 0.99, "dent": 0.30}, ModelVersion.Status.CANDIDATE, False),
    ],
    ids=["beats-margin", "dent-regresses"],
)
def test_retrain_applies_the_promotion_rule(
    monkeypatch, tiny_active, candidate_iou, status, promoted
):
    # given the active model scores background 0.90, dent 0.40 on the evaluation set
    reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)
    reviewed_photo(model_version=tiny_active, split=EVAL, seed=2)
    active_dir = model_versions._model_dir(tiny_active).resolve()

    def evaluate(model_dir, items):
        per_class = (
            {"background": 0.90, "dent": 0.40}
            if model_dir.resolve() == active_dir
            else candidate_iou
        )
        return {
            "n_images": len(items),
            "mean_iou": np.mean(list(per_class.values())),
            "per_class_iou": per_class,
        }

    monkeypatch.setattr(runs, "evaluate_model_dir", evaluate)
    # when
    run = runs.retrain(config=TINY_CONFIG)
    # then
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.SUCCEEDED, run.message
    assert run.promoted is promoted
    assert run.candidate.status == status
    tiny_active.refresh_from_db()
    expected_parent = ModelVersion.Status.RETIRED if promoted else ModelVersion.Status.ACTIVE
    assert tiny_active.status == expected_parent
    if not promoted:
        assert run.candidate.comparison["regressions"] == ["dent"]


@pytest.mark.django_db
def test_retrain_command_queue_sends_a_run_to_the_training_queue(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given
    sent = []
    monkeypatch.setattr("learning.tasks.retrain_task.delay", lambda *args: sent.append(args))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--queue")
    # then
    run = RetrainingRun.objects.get()
    assert sent == [(run.pk, {"force": False})]
    assert run.status == RetrainingRun.Status.QUEUED
    from django.conf import settings

    assert settings.CELERY_TASK_ROUTES["learning.retrain"] == {"queue": "training"}
    assert settings.CELERY_TASK_ROUTES["assessment.shadow_assess"] == {"queue": "shadow"}


@pytest.mark.django_db
def test_retrain_command_queue_carries_its_options_to_the_worker(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given a training worker that records what it was asked
    from learning.tasks import retrain_task

    sent = []
    monkeypatch.setattr("learning.tasks.retrain_task.delay", lambda *args: sent.append(args))
    # when the command queues a run with every option
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--queue", "--steps", "7", "--no-base", "--force")
    # then the task gets them, and runs with them
    run = RetrainingRun.objects.get()
    assert sent == [(run.pk, {"force": True, "steps": 7, "use_base": False})]
    called = {}
    monkeypatch.setattr(runs, "retrain", lambda **kw: called.update(kw))
    retrain_task(*sent[0])
    assert called["config"].steps == 7 and called["config"].use_base is False
    assert called["force"] is True


@pytest.mark.django_db
def test_retrain_without_reviewed_eval_photos_fails_before_training(tiny_active, monkeypatch):
    # given reviewed training photos but none in the frozen evaluation split
    reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)

    def no_training(*args, **kwargs):
        raise AssertionError("trained although nothing could be evaluated")

    monkeypatch.setattr(runs, "fine_tune", no_training)
    # when
    run = runs.retrain(config=TINY_CONFIG)
    # then
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.FAILED
    assert "evaluation split has no reviewed photo" in run.message


@pytest.mark.django_db
def test_a_cancelled_run_stops_at_its_next_progress_report(tiny_active, monkeypatch):
    # given a run that staff cancel while it trains
    reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)
    reviewed_photo(model_version=tiny_active, split=EVAL, seed=2)
    real_fine_tune = fine_tune.fine_tune

    def cancelling_fine_tune(model, *args, report, **kwargs):
        run = RetrainingRun.objects.get(status=RetrainingRun.Status.RUNNING)
        assert runs.retrain_cancel(run=run, actor="olga")
        return real_fine_tune(model, *args, report=report, **kwargs)

    monkeypatch.setattr(runs, "fine_tune", cancelling_fine_tune)
    # when
    run = runs.retrain(config=TINY_CONFIG)
    # then it ended there: failed, no candidate, the canceller named
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.FAILED
    assert run.message == "cancelled by olga"
    assert run.candidate is None
    assert runs._run_in_progress() is None


@pytest.mark.django_db
def test_ctrl_c_during_a_run_marks_it_failed(tiny_active, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "_retrain", interrupted)

    with pytest.raises(KeyboardInterrupt):
        runs.retrain(config=TINY_CONFIG)

    run = RetrainingRun.objects.get()
    assert run.status == RetrainingRun.Status.FAILED
    assert run.message == "interrupted before it finished"
    assert runs.retrain_due() is None or runs._run_in_progress() is None


@pytest.mark.django_db
def test_admin_cancels_a_stuck_run_so_retraining_can_start_again(admin_client):
    # given a run left "running" by a worker that was killed
    stuck = RetrainingRun.objects.create(trigger="count", status="running", progress=0.3)
    assert runs._run_in_progress() == stuck
    # when staff cancel it from the list
    response = admin_client.post(
        "/admin/learning/retrainingrun/",
        {"action": "cancel", "_selected_action": [stuck.pk]},
        follow=True,
    )
    # then
    stuck.refresh_from_db()
    assert stuck.status == RetrainingRun.Status.FAILED
    assert stuck.message == "cancelled by admin"
    assert f"Cancelled run(s) {stuck.pk}." in response.content.decode()
    assert runs._run_in_progress() is None


@pytest.mark.django_db
def test_registry_shows_the_held_out_metrics_a_version_has(admin_client):
    _version(
        "bundled-like",
        ModelVersion.Status.ACTIVE,
        metrics={"test": {"n_images": 573, "damage_iou": 0.4191}},
    )

    listing = admin_client.get("/admin/assessment/modelversion/").content.decode()

    assert "0.419 (573 photos)" in listing
    assert "not evaluated on reviewed photos" in listing


@pytest.mark.django_db
def test_retrain_task_ignores_a_redelivered_run(monkeypatch):
    # given a run that already finished
    from learning.tasks import retrain_task

    run = RetrainingRun.objects.create(trigger="count", status=RetrainingRun.Status.SUCCEEDED)
    called = []
    monkeypatch.setattr(runs, "retrain", lambda **kw: called.append(kw))
    # when the broker delivers it again
    retrain_task(run.pk)
    # then nothing is retrained
    assert called == []


@pytest.mark.django_db
def test_admin_shows_runs_read_only_and_runs_registry_actions(admin_client):
    # given
    _version("admin-active", ModelVersion.Status.ACTIVE)
    candidate = _version("admin-cand", eval_metrics={"mean_iou": 0.42})
    run = RetrainingRun.objects.create(
        trigger="count", status="running", progress=0.5, message="step 150: loss 0.4"
    )
    # when / then: staff read a run's progress, cannot add or change one
    page = admin_client.get(f"/admin/learning/retrainingrun/{run.pk}/change/")
    assert page.status_code == 200
    assert b"step 150: loss 0.4" in page.content
    assert b'name="_save"' not in page.content
    assert admin_client.get("/admin/learning/retrainingrun/add/").status_code == 403
    listing = admin_client.get("/admin/assessment/modelversion/")
    assert b"0.420" in listing.content
    # when staff put the candidate in shadow from the model version list
    admin_client.post(
        "/admin/assessment/modelversion/",
        {"action": "make_shadow", "_selected_action": [candidate.pk]},
    )
    # then
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.SHADOW


@pytest.mark.django_db
@pytest.mark.skipif(not real_dataset_available(), reason="the real photo set is absent")
def test_retrain_mixes_base_data_and_records_real_metrics(tiny_active):
    # given one reviewed train photo, and two real base photos allowed
    reviewed_photo(model_version=tiny_active, split=TRAIN, seed=1)
    config = fine_tune.FineTuneConfig(
        steps=2,
        batch_size=2,
        crop_size=64,
        max_base_images=2,
        progress_chunks=1,
        fp16_weights=False,
    )
    # when (forced: without reviewed evaluation photos a run is refused before training)
    run = runs.retrain(config=config, force=True)
    # then
    run.refresh_from_db()
    assert run.status == RetrainingRun.Status.SUCCEEDED, run.message
    snapshot = run.candidate.training_snapshot
    assert snapshot["base"]["name"] == "real-car-damage"
    assert snapshot["base"]["train_images"] == 2
    assert run.candidate.real_metrics["n_images"] == 8
    assert run.candidate.comparison["promote"] is False  # no evaluation samples yet


@pytest.mark.django_db
def test_old_admin_addresses_of_runs_redirect_to_the_learning_app(admin_client):
    run = RetrainingRun.objects.create(trigger="manual")
    old = admin_client.get(f"/admin/assessment/retrainingrun/{run.pk}/change/?_popup=1")
    assert old.status_code == 302
    assert old["Location"] == f"/admin/learning/retrainingrun/{run.pk}/change/?_popup=1"
    assert admin_client.get(old["Location"]).status_code == 200
    exports = admin_client.get("/admin/assessment/exportjob/")
    assert exports["Location"] == "/admin/learning/exportjob/"
