"""Photo assessment, the claim's damage record, the decision and the audit trail."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from assessment import configuration, contests, model_versions, part_pricing, selectors, services
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Decision,
    DecisionPolicy,
    ModelVersion,
    PhotoAssessment,
    PhotoAssessmentAttempt,
)
from assessment.tests.conftest import region
from claims.models import Claim
from claims.tests.factories import ClaimFactory, PhotoFactory
from config.errors import ConflictError
from ml.labels import PRODUCT_LABEL_MAP

pytestmark = pytest.mark.django_db


def _assess_all(claim) -> None:
    for photo in claim.photos.all():
        services.photo_assess(photo_id=photo.pk)


def test_photo_assess_stores_regions_once_per_photo_and_model(segmenter, assessing_claim):
    segmenter.regions = [region("dent", 0.93, "minor"), region("scratch", 0.88, "moderate")]
    photo = assessing_claim.photos.first()

    first = services.photo_assess(photo_id=photo.pk)
    again = services.photo_assess(photo_id=photo.pk)  # a re-delivered task

    assert again.pk == first.pk
    assert segmenter.calls == 1
    assert PhotoAssessment.objects.filter(photo=photo).count() == 1
    stored = list(first.regions.values_list("label", "severity", "confidence"))
    assert stored == [("dent", "minor", 0.93), ("scratch", "moderate", 0.88)]
    assert first.regions.first().mask_rle["size"] == [48, 64]
    assert set(first.timings_ms) >= {"decode", "model", "post", "read", "db"}


def test_database_refuses_second_assessment_for_same_photo_and_model(model_version, photo):
    PhotoAssessment.objects.create(
        photo=photo,
        model_version=model_version,
        photo_confidence=0.5,
        image_width=1,
        image_height=1,
        mask_width=1,
        mask_height=1,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PhotoAssessment.objects.create(
            photo=photo,
            model_version=model_version,
            photo_confidence=0.5,
            image_width=1,
            image_height=1,
            mask_width=1,
            mask_height=1,
        )


def test_database_refuses_confidence_outside_unit_interval(model_version, photo):
    with pytest.raises(IntegrityError), transaction.atomic():
        PhotoAssessment.objects.create(
            photo=photo,
            model_version=model_version,
            photo_confidence=1.2,
            image_width=1,
            image_height=1,
            mask_width=1,
            mask_height=1,
        )


def test_confident_claim_is_auto_decided_with_estimate_decision_and_audit(
    segmenter, assessing_claim
):
    segmenter.regions = [region("dent", 0.95, "minor")]

    _assess_all(assessing_claim)

    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.AUTO_DECIDED
    record = ClaimAssessment.objects.get(claim=assessing_claim)
    # two photos x one minor dent: (1.5 h x 62 + 0) + (1.0 h x 68 + 45)... from the seeded table
    assert record.overall_severity == "minor"
    assert record.region_count == 2
    assert record.estimate_total == sum((line.total for line in record.lines.all()), Decimal(0))
    assert record.estimate_total > 0
    decision = Decision.objects.get(claim=assessing_claim)
    assert (decision.outcome, decision.automatic, decision.reasons) == ("auto_approved", True, [])
    audit = AuditRecord.objects.get(claim_id=assessing_claim.pk)
    assert audit.kind == "automated_decision"
    assert audit.model_version == "test-v1"
    assert audit.policy_version == decision.policy.version
    assert set(audit.inputs["photos"].values()) == {p.sha256 for p in assessing_claim.photos.all()}
    assert audit.thresholds["min_photo_confidence"] == 0.85
    assert audit.outcome == "auto_approved"


def test_unsure_claim_is_routed_to_review_with_every_reason(segmenter, assessing_claim):
    segmenter.photo_confidence = 0.4
    segmenter.regions = [region("glass_shatter", 0.5, "severe")]

    _assess_all(assessing_claim)

    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.IN_REVIEW
    decision = Decision.objects.get(claim=assessing_claim)
    codes = {r["code"] for r in decision.reasons}
    assert codes >= {"low_photo_confidence", "low_region_confidence", "always_human_type"}
    assert all(r["message"] for r in decision.reasons)
    assert AuditRecord.objects.get(claim_id=assessing_claim.pk).rules_fired == decision.reasons


def test_claim_is_not_decided_until_every_photo_is_assessed(segmenter, assessing_claim):
    first = assessing_claim.photos.first()
    services.photo_assess(photo_id=first.pk)
    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.ASSESSING
    assert not Decision.objects.filter(claim=assessing_claim).exists()


def test_try_finish_twice_decides_once(segmenter, assessing_claim):
    _assess_all(assessing_claim)
    assert services.claim_assessment_try_finish(claim_id=assessing_claim.pk) is None
    assert Decision.objects.filter(claim=assessing_claim).count() == 1
    assert AuditRecord.objects.filter(claim_id=assessing_claim.pk).count() == 1


def test_photo_that_keeps_failing_goes_to_review_instead_of_looping(
    segmenter, assessing_claim, settings
):
    settings.CLAIMVISION_ASSESSMENT_MAX_ATTEMPTS = 2
    segmenter.error = RuntimeError("onnxruntime exploded")
    broken = assessing_claim.photos.first()

    for _ in range(2):  # each delivery fails and would be retried by Celery
        with pytest.raises(RuntimeError):
            services.photo_assess(photo_id=broken.pk)
    assert services.photo_assess(photo_id=broken.pk) is None  # third delivery gives up
    segmenter.error = None
    services.photo_assess(photo_id=assessing_claim.photos.last().pk)

    attempt = PhotoAssessmentAttempt.objects.get(photo=broken)
    assert attempt.failed is True
    assert "onnxruntime exploded" in attempt.last_error
    assert segmenter.calls == 3  # the broken photo was not tried a third time
    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.IN_REVIEW
    reasons = Decision.objects.get(claim=assessing_claim).reasons
    assert [r["code"] for r in reasons] == ["assessment_failed"]


def test_undecodable_working_copy_fails_at_once_with_reason(segmenter, customer):
    from ml.inference import ImageDecodeError

    claim = ClaimFactory(owner=customer, submitted=True, status="assessing")
    PhotoFactory(claim=claim)
    segmenter.error = ImageDecodeError("could not decode the image")

    assert services.photo_assess(photo_id=claim.photos.get().pk) is None

    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    reason = Decision.objects.get(claim=claim).reasons[0]
    assert reason["code"] == "assessment_failed"
    assert "could not decode" in reason["message"]


def test_model_version_activate_keeps_one_active(model_version):
    newer = ModelVersion.objects.create(
        version="test-v2", path="/x", artifact_sha256="1" * 64, label_map={}
    )
    model_versions.model_version_activate(model_version=newer)
    model_version.refresh_from_db()
    assert model_version.status == ModelVersion.Status.RETIRED
    assert model_versions.model_version_active() == newer


def test_workers_use_the_new_active_model_without_restart(monkeypatch, model_version, tmp_path):
    loaded = []

    class FakeSegmenter:
        @classmethod
        def load(cls, path, threads, spinning):
            loaded.append(str(path))
            return cls()

    import ml.inference

    monkeypatch.setattr(ml.inference, "Segmenter", FakeSegmenter)
    cache = model_versions._SegmenterCache()
    newer = ModelVersion.objects.create(
        version="test-v2", path=str(tmp_path), artifact_sha256="1" * 64, label_map={}
    )
    first = cache.get(model_version)
    assert cache.get(model_version) is first  # loaded once per process
    cache.get(newer)
    assert loaded == ["/nonexistent", str(tmp_path)]


def test_decision_policy_versions_are_new_rows_and_validated(db):
    active = configuration.decision_policy_active()
    created = configuration.decision_policy_create(
        rules={**active.rules, "max_auto_estimate": 500.0}, note="tighter", activate=True
    )
    assert created.version == active.version + 1
    assert DecisionPolicy.objects.filter(is_active=True).get() == created
    with pytest.raises(ValueError):
        configuration.decision_policy_create(rules={"min_photo_confidence": 7}, activate=False)


def test_contest_sends_auto_decided_claim_to_review_and_audits(
    segmenter, assessing_claim, customer
):
    segmenter.regions = [region("dent", 0.95, "minor")]
    _assess_all(assessing_claim)
    assessing_claim.refresh_from_db()

    contests.claim_contest(claim=assessing_claim, user=customer, reason="The dent is bigger.")

    assessing_claim.refresh_from_db()
    assert assessing_claim.status == Claim.Status.IN_REVIEW
    latest = Decision.objects.filter(claim=assessing_claim).first()
    assert latest.reasons[0]["code"] == "customer_contested"
    kinds = list(
        AuditRecord.objects.filter(claim_id=assessing_claim.pk).values_list("kind", flat=True)
    )
    assert kinds == ["automated_decision", "customer_contest"]
    with pytest.raises(ConflictError):
        contests.claim_contest(claim=assessing_claim, user=customer)


def test_audit_record_refuses_update_and_delete_in_code(segmenter, assessing_claim):
    _assess_all(assessing_claim)
    record = AuditRecord.objects.get(claim_id=assessing_claim.pk)
    record.outcome = "tampered"
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()
    with pytest.raises(PermissionError):
        AuditRecord.objects.filter(pk=record.pk).update(outcome="tampered")
    with pytest.raises(PermissionError):
        AuditRecord.objects.all().delete()


def test_audit_record_refuses_update_and_delete_in_the_database(segmenter, assessing_claim):
    _assess_all(assessing_claim)
    record = AuditRecord.objects.get(claim_id=assessing_claim.pk)
    original = record.outcome
    table = AuditRecord._meta.db_table
    for statement in (
        f"UPDATE {table} SET outcome = 'tampered' WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [record.pk])
    assert AuditRecord.objects.get(pk=record.pk).outcome == original


def test_claim_decision_reasons_name_damage_types_as_the_label_map(
    product_segmenter, assessing_claim
):
    # given the damage-v2 model finding a minor broken part on a bumper (a type always checked
    # by a person, repaired), and a price table without a repair time for it
    configuration.price_table_active().repair_times.filter(
        damage_type__in=["broken_part", "*"]
    ).delete()
    product_segmenter.regions = [
        region("broken_part", 0.97, "minor", label_map=PRODUCT_LABEL_MAP, part="front_bumper")
    ]

    # when the claim is decided
    _assess_all(assessing_claim)

    # then the policy's and the estimate's reasons name the type as the label map does
    reasons = {r["code"]: r["message"] for r in Decision.objects.get(claim=assessing_claim).reasons}
    assert reasons["always_human_type"] == (
        "Damage of type broken or missing part is always checked by an adjuster."
    )
    assert reasons["no_repair_time"] == services.MSG_NO_REPAIR_TIME.format(
        part="Front bumper", label="broken or missing part", severity="minor"
    )
    assert not any("broken_part" in m or "broken part" in m for m in reasons.values())


def test_unpriced_reasons_name_damage_types_as_the_label_map(product_model_version):
    # given a part whose repair time for a broken part the price table lacks
    gap = part_pricing.Unpriced(
        photo_id="p1",
        region_index=0,
        damage_type="broken_part",
        severity="minor",
        part="front_bumper",
        operation="repair",
        reason=part_pricing.NO_REPAIR_TIME,
    )
    quote = part_pricing.ClaimEstimate(
        currency="EUR", parts=[], lines=[], total=Decimal(0), unpriced=[gap]
    )

    # when the reasons are written with the model's label map names (as the decision does)
    reasons = services.unpriced_reasons(
        quote=quote, photos=["p1"], names=selectors.label_names(product_model_version)
    )

    # then the type reads as its display name
    assert [(r.code, r.message) for r in reasons] == [
        (
            "no_repair_time",
            services.MSG_NO_REPAIR_TIME.format(
                part="Front bumper", label="broken or missing part", severity="minor"
            ),
        )
    ]
