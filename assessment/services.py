"""Writes for assessment: photo assessment, and the claim's damage record, estimate and
automatic decision.

The flow is explicit (no signals): intake's task ``claims.prepare_claim`` hands a prepared
claim over by sending ``assessment.start_claim`` (``claims.tasks``, the one hand-over), which
calls ``claim_assessment_begin`` and so ``claim_assessment_start``; that enqueues one
``assess_photo`` task per photo; each task calls ``photo_assess``, which ends by calling
``claim_assessment_try_finish``. That last step runs under a row lock on the claim, so however
many workers finish photos at once, exactly one of them builds the claim assessment and records
the decision.

Photo assessment and the claim's finish stay in one module because they are one flow: starting,
assessing a photo and each failure path all end in ``claim_assessment_try_finish``. Around it:
``assessment.model_versions`` (the active model and each worker's loaded copy),
``assessment.configuration`` (the policy and price table in force), ``assessment.contests``
and ``assessment.audit``.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from assessment import claim_confidence as confidence
from assessment import estimate as pricing
from assessment import model_versions, part_pricing, parts, policy, selectors
from assessment.audit import audit_record
from assessment.configuration import decision_policy_active, price_book
from assessment.contests import contest_reasons
from assessment.model_versions import model_version_active
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Contest,
    Decision,
    EstimateLine,
    ModelVersion,
    PhotoAssessment,
    PhotoAssessmentAttempt,
    Region,
)
from claims.models import Claim, Photo
from claims.services import claim_transition
from config import metrics
from config.log_context import log_context
from config.queue import send_on_commit
from config.storage import storage_read_bytes

logger = logging.getLogger(__name__)

MSG_MORE_PHOTOS_RECEIVED = "The customer sent the further photos an adjuster asked for."
# Why part of the estimate by part could not be priced (assessment.part_pricing); staff words,
# next to the policy's ``no_price_rule`` (which the customer reads in their words).
MSG_UNKNOWN_PART = (
    "Damage on photo {photos} is on no car part the model knows: an adjuster places and prices it."
)
MSG_NO_PART_PRICE = "{part}: the price table has no {operation} price; an adjuster prices it."
MSG_NO_REPAIR_TIME = (
    "{part}: the price table has no repair time for {label} ({severity}); an adjuster prices it."
)


# --------------------------------------------------------------------------- photo assessment


def claim_assessment_begin(*, claim_id) -> list[str]:
    """Intake's hand-over (task ``assessment.start_claim``): start the model on a prepared claim.
    Idempotent: a claim no longer ``assessing`` (or gone) is left alone."""
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None or claim.status != Claim.Status.ASSESSING:
        return []
    with transaction.atomic():
        return claim_assessment_start(claim=claim)


def claim_assessment_start(*, claim: Claim) -> list[str]:
    """Enqueue assessment of every photo that has none under the active model (after commit)."""
    from assessment.tasks import assess_photo_task

    model_version = model_version_active()
    pending = [
        str(pk)
        for pk in claim.photos.exclude(assessments__model_version=model_version).values_list(
            "pk", flat=True
        )
    ]
    Claim.objects.filter(pk=claim.pk).update(enqueued_at=timezone.now())
    for photo_id in pending:
        send_on_commit(assess_photo_task, photo_id)
    if not pending:  # every photo already assessed (a re-delivery): finish the claim
        transaction.on_commit(lambda: claim_assessment_try_finish(claim_id=claim.pk))
    from assessment.shadow import shadow_assessment_enqueue

    shadow_assessment_enqueue(claim=claim)  # sent after the active model's tasks; decides nothing
    return pending


def _attempt_begin(photo: Photo, model_version: ModelVersion) -> PhotoAssessmentAttempt:
    """Count this try and commit the count before the model runs: a try that kills the
    worker process is counted too. One upsert statement (PostgreSQL and SQLite alike), in
    autocommit, so counting costs one round trip."""
    table = PhotoAssessmentAttempt._meta.db_table
    photo_value = PhotoAssessmentAttempt._meta.get_field("photo").get_db_prep_value(
        photo.pk, connection
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (photo_id, model_version_id, attempts, failed, last_error, "  # noqa: S608 - table name from the model
            "updated_at) VALUES (%s, %s, 1, %s, '', %s) "
            "ON CONFLICT (photo_id, model_version_id) DO UPDATE "
            f"SET attempts = {table}.attempts + 1, updated_at = excluded.updated_at "
            "RETURNING id, attempts, failed, last_error",
            [photo_value, model_version.pk, False, timezone.now()],
        )
        pk, attempts, failed, last_error = cursor.fetchone()
    return PhotoAssessmentAttempt(
        pk=pk,
        photo=photo,
        model_version=model_version,
        attempts=attempts,
        failed=bool(failed),
        last_error=last_error,
    )


def _attempt_fail(attempt: PhotoAssessmentAttempt, error: str) -> None:
    PhotoAssessmentAttempt.objects.filter(pk=attempt.pk).update(failed=True, last_error=error[:300])
    logger.warning("photo %s failed assessment: %s", attempt.photo_id, error)


def photo_assess(*, photo_id) -> PhotoAssessment | None:
    """Assess one photo with the active model, at most once per (photo, model version)."""
    photo = Photo.objects.select_related("claim").filter(pk=photo_id).first()
    if photo is None:
        logger.warning("photo %s vanished before assessment", photo_id)
        return None
    with log_context(claim_id=photo.claim_id):  # the task knew the photo only
        return _photo_assess(photo)


def _photo_assess(photo: Photo) -> PhotoAssessment | None:
    model_version = model_version_active()
    existing = PhotoAssessment.objects.filter(photo=photo, model_version=model_version).first()
    if existing is not None:  # re-delivery after the result was committed
        claim_assessment_try_finish(claim_id=photo.claim_id, model_version=model_version)
        return existing

    attempt = _attempt_begin(photo, model_version)
    if attempt.failed or attempt.attempts > settings.CLAIMVISION_ASSESSMENT_MAX_ATTEMPTS:
        if not attempt.failed:
            _attempt_fail(
                attempt,
                f"tried {attempt.attempts - 1} times without finishing "
                f"(last error: {attempt.last_error or 'the worker died'})",
            )
        claim_assessment_try_finish(claim_id=photo.claim_id)
        return None

    from assessment.severity import severity_apply
    from ml.inference import ImageDecodeError

    delay = settings.CLAIMVISION_ASSESS_DELAY_S
    if delay:  # fault-injection knob for the reliability tests; 0 in every real deployment
        time.sleep(delay)
    started = time.perf_counter()
    data = storage_read_bytes(photo.working.storage, photo.working.name)
    read_ms = (time.perf_counter() - started) * 1000
    try:
        # Inside the try: a model whose files fail their digest check is recorded as this
        # photo's error (model_artifacts), and after the attempts run out a person takes it.
        segmenter = model_versions.segmenters.get(model_version)
        with metrics.inference_timer(model_version=model_version.version):
            raw = segmenter.predict(data)
        prediction = severity_apply(segmenter, raw.to_dict())
    except ImageDecodeError as exc:
        _attempt_fail(attempt, f"the photo could not be decoded: {exc}")
        claim_assessment_try_finish(claim_id=photo.claim_id)
        return None
    except Exception as exc:
        PhotoAssessmentAttempt.objects.filter(pk=attempt.pk).update(last_error=str(exc)[:300])
        raise

    prediction["timings_ms"] = {**prediction["timings_ms"], "read": round(read_ms, 2)}
    assessment = photo_assessment_store(
        photo=photo, model_version=model_version, prediction=prediction
    )
    claim_assessment_try_finish(claim_id=photo.claim_id, model_version=model_version)
    return assessment


def photo_assessment_store(
    *, photo: Photo, model_version: ModelVersion, prediction: dict
) -> PhotoAssessment:
    """Store a prediction (``ml.inference`` shape) as the photo's assessment under the model
    version, with its regions, in one transaction. A concurrent worker that stored it first
    wins: its row is returned and this one is dropped."""
    db_started = time.perf_counter()
    try:
        with transaction.atomic():
            assessment = PhotoAssessment.objects.create(
                photo=photo,
                model_version=model_version,
                photo_confidence=prediction["photo_confidence"],
                image_width=prediction["image_width"],
                image_height=prediction["image_height"],
                mask_width=prediction["mask_width"],
                mask_height=prediction["mask_height"],
                timings_ms=prediction["timings_ms"],
            )
            Region.objects.bulk_create(
                [
                    Region(
                        assessment=assessment,
                        index=index,
                        label=region["label"],
                        label_id=region["label_id"],
                        confidence=region["confidence"],
                        severity=region["severity"],
                        area_share=region["area_share"],
                        bbox=region["bbox"],
                        polygon=region["polygon"],
                        mask_rle=region["mask_rle"],
                        # Models without a part head send neither key.
                        part=region.get("part") or "",
                        part_share=region.get("part_share"),
                    )
                    for index, region in enumerate(prediction["regions"])
                ]
            )
            timings = dict(assessment.timings_ms)
            timings["db"] = round((time.perf_counter() - db_started) * 1000, 2)
            PhotoAssessment.objects.filter(pk=assessment.pk).update(timings_ms=timings)
            assessment.timings_ms = timings
    except IntegrityError:
        return PhotoAssessment.objects.get(photo=photo, model_version=model_version)
    return assessment


# --------------------------------------------------------------------------- the claim


@dataclass(frozen=True)
class _ClaimReading:
    photos: list[Photo]
    assessments: dict
    failures: dict


def _read_claim(claim: Claim, model_version: ModelVersion) -> _ClaimReading | None:
    photos = list(claim.photos.order_by("created_at"))
    assessments = {
        a.photo_id: a
        for a in PhotoAssessment.objects.filter(
            photo__in=photos, model_version=model_version
        ).prefetch_related("regions")
    }
    failures = {
        a.photo_id: a
        for a in PhotoAssessmentAttempt.objects.filter(
            photo__in=photos, model_version=model_version, failed=True
        )
    }
    if any(p.pk not in assessments and p.pk not in failures for p in photos):
        return None
    return _ClaimReading(photos, assessments, failures)


def _photos_pending(claim_id, model_version: ModelVersion) -> bool:
    """Whether a photo of the claim still lacks an assessment (or a final failure) under the
    model version. Read without a lock: every worker commits its own result before asking,
    so the last one to finish always sees every result and goes on to decide."""
    failed = PhotoAssessmentAttempt.objects.filter(model_version=model_version, failed=True).values(
        "photo_id"
    )
    return (
        Photo.objects.filter(claim_id=claim_id)
        .exclude(assessments__model_version=model_version)
        .exclude(pk__in=failed)
        .exists()
    )


def claim_assessment_try_finish(
    *, claim_id, model_version: ModelVersion | None = None
) -> ClaimAssessment | None:
    """Build the claim's assessment and decide, once every photo is assessed (or failed).

    Runs under a row lock on the claim: concurrent workers finishing the last photos serialise
    here, and only the one that finds the claim still ``assessing`` decides.
    """
    model_version = model_version or model_version_active()
    if _photos_pending(claim_id, model_version):
        return None  # the common case for all but the last photo: no lock taken
    with transaction.atomic():
        claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
        if claim is None or claim.status != Claim.Status.ASSESSING:
            return None
        reading = _read_claim(claim, model_version)
        if reading is None:
            return None
        return _claim_assess_and_decide(claim, model_version, reading)


def _claim_assess_and_decide(
    claim: Claim, model_version: ModelVersion, reading: _ClaimReading
) -> ClaimAssessment:
    priced_regions = [
        parts.PartRegion.of(str(photo.pk), region)
        for photo in reading.photos
        if photo.pk in reading.assessments
        for region in reading.assessments[photo.pk].regions.all()
    ]
    quote = part_pricing.claim_estimate(priced_regions, price_book())
    unpriced = {(r.photo_id, r.region_index) for r in quote.unpriced}

    photo_facts = []
    for number, photo in enumerate(reading.photos, start=1):
        assessment = reading.assessments.get(photo.pk)
        failure = reading.failures.get(photo.pk)
        photo_facts.append(
            policy.PhotoFacts(
                photo=str(number),
                confidence=assessment.photo_confidence if assessment else None,
                regions=[
                    policy.RegionFacts(
                        label=r.label,
                        confidence=r.confidence,
                        severity=r.severity,
                        priced=(str(photo.pk), r.index) not in unpriced,
                    )
                    for r in (assessment.regions.all() if assessment else [])
                ],
                quality_warnings=[w["code"] for w in photo.quality_warnings],
                duplicate=photo.duplicate_of_id is not None,
                error=failure.last_error if failure and not assessment else "",
            )
        )
    active_policy = decision_policy_active()
    rules_in_force = policy.PolicyRules.from_dict(active_policy.rules)
    claim_confidence = claim_confidence_compute(
        regions=priced_regions,
        quote=quote,
        photo_confidences=[a.photo_confidence for a in reading.assessments.values()],
        rules=rules_in_force,
        model_version=model_version.version,
    )
    facts = policy.ClaimFacts(
        photos=photo_facts,
        estimate_total=float(quote.total),
        claim_confidence=claim_confidence.value,
    )
    names = selectors.label_names(model_version)
    outcome = policy.decide(rules_in_force, facts, names=names)
    gaps = unpriced_reasons(quote=quote, photos=[str(p.pk) for p in reading.photos], names=names)
    if gaps:
        # The policy's no_price_rule already routes these regions; these say which part and
        # operation the price table lacks.
        outcome = policy.Outcome(
            automatic=False, outcome="routed_to_review", reasons=[*outcome.reasons, *gaps]
        )
    if _more_photos_were_requested(claim):
        # An adjuster asked for these photos and decides with them: never decide automatically.
        reason = policy.Reason(code="more_photos_received", message=MSG_MORE_PHOTOS_RECEIVED)
        outcome = policy.Outcome(
            automatic=False, outcome="routed_to_review", reasons=[reason, *outcome.reasons]
        )

    claim_assessment = claim_assessment_replace(
        claim=claim,
        model_version=model_version,
        severities=[r.severity for r in priced_regions],
        quote=quote,
        min_photo_confidence=min(
            (a.photo_confidence for a in reading.assessments.values()), default=None
        ),
        claim_confidence=claim_confidence,
    )
    reasons = [r.to_dict() for r in outcome.reasons]
    contest = (
        Contest.objects.filter(claim=claim, state=Contest.State.OPEN)
        .select_related("decision__decided_by")
        .first()
    )
    if contest is not None:
        # The photos a contested claim's adjuster asked for: still contested, still a person's,
        # and the contest stays first in why the claim is in review.
        reasons = [*contest_reasons(contest=contest), *reasons]
        outcome = policy.Outcome(
            automatic=False, outcome="routed_to_review", reasons=outcome.reasons
        )
    if outcome.automatic:  # last: only a claim that would really be automatic is audited
        draw = policy.audit_draw(claim_id=str(claim.pk), policy_version=active_policy.version)
        outcome = policy.audit_sample(rules_in_force, outcome, draw=draw)
        reasons = [r.to_dict() for r in outcome.reasons]
    Decision.objects.create(
        claim=claim,
        outcome=outcome.outcome,
        automatic=outcome.automatic,
        reasons=reasons,
        policy=active_policy,
        model_version=model_version,
    )
    audit_record(
        claim=claim,
        kind=AuditRecord.Kind.AUTOMATED_DECISION,
        actor=None,
        inputs={"photos": {str(p.pk): p.sha256 for p in reading.photos}},
        model_version=model_version.version,
        policy_version=active_policy.version,
        scores={
            "photos": {
                str(p.pk): {
                    "photo_confidence": reading.assessments[p.pk].photo_confidence,
                    "regions": [
                        {"label": r.label, "confidence": r.confidence, "severity": r.severity}
                        for r in reading.assessments[p.pk].regions.all()
                    ],
                }
                for p in reading.photos
                if p.pk in reading.assessments
            },
            "estimate_total": str(quote.total),
            "currency": quote.currency,
            "damaged_parts": [
                {
                    "part": p.part,
                    "damage_types": list(p.damage_types),
                    "severity": p.severity,
                    "confidence": round(p.confidence, 4),
                }
                for p in quote.parts
            ],
            # What the back-test and the claim-confidence fit replay: the number the policy
            # read, the prior it came from, and the model's line items to compare with the
            # adjuster's final ones (learning.claim_confidence.line_items_kept).
            "claim_confidence": claim_confidence.value,
            "claim_confidence_prior": claim_confidence.prior,
            "claim_confidence_source": claim_confidence.source,
            "line_items": line_items(quote.lines),
        },
        thresholds=rules_in_force.to_dict(),
        rules_fired=reasons,
        outcome=outcome.outcome,
    )
    target = Claim.Status.AUTO_DECIDED if outcome.automatic else Claim.Status.IN_REVIEW
    claim_transition(claim=claim, to=target)
    # Counted once the decision is committed: a rolled-back one was never made.
    transaction.on_commit(lambda: metrics.decision_count(outcome=outcome.outcome))
    logger.info("claim %s: %s (%d reasons)", claim.reference, outcome.outcome, len(reasons))
    return claim_assessment


def claim_confidence_compute(
    *,
    regions: list[parts.PartRegion],
    quote: part_pricing.ClaimEstimate,
    photo_confidences: list[float],
    rules: policy.PolicyRules,
    model_version: str,
) -> confidence.ClaimConfidence:
    """The claim confidence at the claim's finish: the documented prior from the part record
    (and the regions priced per region), mapped by the policy's fitted calibrator when it was
    fitted on this model's priors; else the prior itself (``source="prior"``)."""
    prior = confidence.claim_confidence_prior_from_record(
        quote.parts, unplaced=parts.unplaced(regions), photo_confidences=photo_confidences
    )
    calibrator = confidence.calibrator_for_model(
        rules.claim_confidence_calibrator, model_version=model_version
    )
    return confidence.claim_confidence(prior, calibrator)


def line_items(lines) -> list[list]:
    """A claim's line items as the claim confidence counts them: [part, operation, hours]
    (hours as a two-decimal string, as stored), from estimate lines or ``EstimateLine`` rows."""
    return [[line.part, line.operation, f"{float(line.labour_hours):.2f}"] for line in lines]


def unpriced_reasons(
    *,
    quote: part_pricing.ClaimEstimate,
    photos: list[str],
    names: Mapping[str, str] | None = None,
) -> list:
    """Why the estimate by part is incomplete: one reason for all damage on no known part, one
    per part and operation (or repair time) the price table lacks. Regions without a part are
    left to the policy's ``no_price_rule``. ``names``: type name -> the label map's display
    name, so a reason names a damage type as the policy's own reasons and every page do."""
    numbers = {photo_id: n for n, photo_id in enumerate(photos, start=1)}
    unknown = sorted(
        {
            numbers.get(g.photo_id, 0)
            for g in quote.unpriced
            if g.reason == part_pricing.UNKNOWN_PART
        }
    )
    reasons: list[policy.Reason] = []
    if unknown:
        shown = ", ".join(str(n) for n in unknown if n) or "?"
        reasons.append(
            policy.Reason(code="unknown_part", message=MSG_UNKNOWN_PART.format(photos=shown))
        )
    for gap in quote.unpriced:
        words = part_pricing.part_in_words(gap.part)
        if gap.reason == part_pricing.NO_PART_PRICE:
            code = "no_part_price"
            message = MSG_NO_PART_PRICE.format(
                part=words, operation=part_pricing.OPERATION_WORDS.get(gap.operation)
            )
        elif gap.reason == part_pricing.NO_REPAIR_TIME:
            code = "no_repair_time"
            message = MSG_NO_REPAIR_TIME.format(
                part=words,
                label=policy.type_in_words(gap.damage_type, names),
                severity=gap.severity,
            )
        else:
            continue
        if all(r.message != message for r in reasons):
            reasons.append(policy.Reason(code=code, message=message))
    return reasons


def _more_photos_were_requested(claim: Claim) -> bool:
    latest = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    return latest is not None and latest.outcome == Decision.Outcome.MORE_PHOTOS


def claim_assessment_replace(
    *,
    claim: Claim,
    model_version: ModelVersion,
    severities: list[str],
    quote: part_pricing.ClaimEstimate,
    min_photo_confidence: float | None,
    source: str = "model",
    claim_confidence: confidence.ClaimConfidence | None = None,
) -> ClaimAssessment:
    """Replace the claim's damage record and estimate lines (a re-assessment, or an adjuster's
    corrections with ``source="adjuster"``). The previous figures live on in the audit trail."""
    ClaimAssessment.objects.filter(claim=claim).delete()
    claim_assessment = ClaimAssessment.objects.create(
        claim=claim,
        model_version=model_version,
        overall_severity=pricing.overall_severity(severities),
        region_count=len(severities),
        min_photo_confidence=min_photo_confidence,
        currency=quote.currency,
        estimate_total=quote.total,
        source=source,
        damaged_parts=[p.to_dict() for p in quote.parts],
        claim_confidence=claim_confidence.value if claim_confidence else None,
        claim_confidence_prior=claim_confidence.prior if claim_confidence else None,
        claim_confidence_source=claim_confidence.source if claim_confidence else "",
        claim_confidence_reviews=claim_confidence.reviews if claim_confidence else 0,
    )
    EstimateLine.objects.bulk_create(
        [
            EstimateLine(
                claim_assessment=claim_assessment,
                photo_id=line.photo_id,
                region_index=line.region_index,
                part=line.part,
                evidence=[{"photo_id": p, "region_index": i} for p, i in line.evidence],
                damage_type=line.damage_type[:160],
                severity=line.severity,
                operation=line.operation,
                description=line.description,
                labour_hours=line.labour_hours,
                hourly_rate=line.hourly_rate,
                parts_cost=line.parts_cost,
                total=line.total,
            )
            for line in quote.lines
        ]
    )
    return claim_assessment
