"""Writes for assessment: the model registry, photo assessment, the claim's damage record,
estimate and automatic decision, and the audit trail.

The flow is explicit (no signals): intake's task ``claims.prepare_claim`` hands a prepared
claim over by sending ``assessment.start_claim`` (``claims.tasks``, the one hand-over), which
calls ``claim_assessment_begin`` and so ``claim_assessment_start``; that enqueues one
``assess_photo`` task per photo; each task calls ``photo_assess``, which ends by calling
``claim_assessment_try_finish``. That last step runs under a row lock on the claim, so however
many workers finish photos at once, exactly one of them builds the claim assessment and records
the decision.
"""

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from assessment import estimate as pricing
from assessment import model_artifacts, model_registry, policy, selectors
from assessment.defaults import DEFAULTS_POLICY_NOTE
from assessment.models import (
    AuditRecord,
    ClaimAssessment,
    Contest,
    Decision,
    DecisionPolicy,
    EstimateLine,
    ModelVersion,
    PhotoAssessment,
    PhotoAssessmentAttempt,
    PriceRule,
    PriceTable,
    Region,
)
from claims.models import Claim, Photo
from claims.services import claim_transition
from config.errors import ApplicationError, ConflictError
from config.queue import send_on_commit
from config.storage import storage_read_bytes

logger = logging.getLogger(__name__)

ERR_NOT_CONTESTABLE = "Only a decided claim can be contested (this claim is {status})."
ERR_CONTEST_OPEN = "This claim is already being looked at again; you will hear the outcome."
MSG_CONTEST_AUTOMATIC = "The customer contests the automatic decision ({outcome})."
MSG_CONTEST_HUMAN = "The customer contests the adjuster's decision ({outcome}, by {adjuster})."
ERR_CONTEST_SAME_ADJUSTER = (
    "The customer contests your decision on this claim: a senior adjuster, not you, decides it."
)
MSG_SENIOR_REVIEW = "Contested decision: a senior adjuster decides, not the first decider."
CONTEST_REASON_MAX = 1000  # characters: the API field's limit, kept whole in the audit record
ERR_NO_ACTIVE_PRICE_TABLE = "No active price table: an admin must activate one."
MSG_MORE_PHOTOS_RECEIVED = "The customer sent the further photos an adjuster asked for."
ERR_MODEL_DIR = "{path} is not a model folder (it has no model.json)."
ERR_MODEL_META = "{path}/model.json is not a usable model description: {error}"
ERR_MODEL_FILES = "{path} lacks the files its model.json names: {files}."
ERR_MODEL_VERSION_TAKEN = (
    "Version {version} is already registered with other files ({path}); "
    "export the model under a new version."
)
REASON_FIRST_USE = "first use: no model was active"


# --------------------------------------------------------------------------- model registry


def _model_dir(model_version: ModelVersion) -> Path:
    """The version's files on this host: where registered locally, else the verified cache of
    the shared model storage (``assessment.model_artifacts``; a digest mismatch raises)."""
    return model_artifacts.model_dir_local(
        version=model_version.version,
        path=model_version.path,
        sha256=model_version.artifact_sha256,
    )


def model_version_register(
    *, model_dir: Path, activate: bool = False, actor=None, reason: str = ""
) -> ModelVersion:
    """Record a model directory (model.json + artifacts) as a version; idempotent by version."""
    model_version, _ = model_registry.model_version_get_or_create(ModelVersion, model_dir=model_dir)
    if activate and model_version.status != ModelVersion.Status.ACTIVE:
        model_version = model_version_activate(
            model_version=model_version, actor=actor, reason=reason
        )
    return model_version


def model_version_activate(
    *, model_version: ModelVersion, actor=None, reason: str = ""
) -> ModelVersion:
    """Make one version active (the previous one is retired) and record it in the audit trail;
    a no-op for the active version. Workers pick it up at their next task, without a restart."""
    model_registry.model_version_make_active(
        ModelVersion,
        AuditRecord,
        model_version=model_version,
        actor=actor.get_username() if actor else model_registry.SYSTEM_ACTOR,
        actor_id=actor.pk if actor else None,
        reason=reason,
    )
    model_version.refresh_from_db()
    return model_version


@dataclass(frozen=True)
class ModelInstall:
    model_version: ModelVersion
    created: bool  # a new registry row
    activated: bool  # it became active now (False: not asked, or already active)
    previous: str | None  # the version active before


def model_version_install(
    *, model_dir: Path, activate: bool, actor=None, reason: str = ""
) -> ModelInstall:
    """Check a model folder, register it and (with ``activate``) make it the active model.

    Idempotent: running it again changes nothing and records nothing. Refuses a folder whose
    version is already registered with other files (a re-export must get a new version, or
    the assessments stored under it would mix two models).
    """
    from ml.labels import LabelMap

    model_dir = Path(model_dir)
    if not (model_dir / model_registry.MODEL_JSON).is_file():
        raise ApplicationError(ERR_MODEL_DIR.format(path=model_dir), code="invalid_model_dir")
    try:
        meta = model_registry.model_meta_read(model_dir)
        version = model_registry.model_version_name(meta)
        LabelMap.from_dict(meta["label_map"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApplicationError(
            ERR_MODEL_META.format(path=model_dir, error=exc), code="invalid_model_dir"
        ) from exc
    missing = [
        meta[key]
        for key in ("onnx", "weights")
        if meta.get(key) and not (model_dir / meta[key]).is_file()
    ]
    if missing:
        raise ApplicationError(
            ERR_MODEL_FILES.format(path=model_dir, files=", ".join(missing)),
            code="invalid_model_dir",
        )
    existing = ModelVersion.objects.filter(version=version).first()
    if existing is not None and existing.artifact_sha256 != model_registry.artifact_sha256(
        model_dir
    ):
        raise ConflictError(
            ERR_MODEL_VERSION_TAKEN.format(version=version, path=existing.path),
            code="model_version_taken",
        )
    previous = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    model_version, created = model_registry.model_version_get_or_create(
        ModelVersion, model_dir=model_dir, meta=meta
    )
    activated = False
    if activate and model_version.status != ModelVersion.Status.ACTIVE:
        model_version = model_version_activate(
            model_version=model_version, actor=actor, reason=reason
        )
        activated = True
    return ModelInstall(
        model_version=model_version,
        created=created,
        activated=activated,
        previous=previous.version if previous else None,
    )


def model_version_active() -> ModelVersion:
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if active is not None:
        return active
    from ml.inference import DEFAULT_MODEL_DIR

    # First use on a fresh installation: the bundled default model becomes the active one.
    with transaction.atomic():
        active = ModelVersion.objects.select_for_update().filter(status="active").first()
        return active or model_version_register(
            model_dir=DEFAULT_MODEL_DIR, activate=True, reason=REASON_FIRST_USE
        )


class _SegmenterCache:
    """One loaded model per worker process, swapped when the active version changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._segmenter = None

    def get(self, model_version: ModelVersion):
        with self._lock:
            if self._version != model_version.version:
                from ml.inference import Segmenter

                logger.info("loading model %s", model_version.version)
                self._segmenter = Segmenter.load(
                    _model_dir(model_version),
                    threads=settings.CLAIMVISION_INFERENCE_THREADS,
                    spinning=settings.CLAIMVISION_INFERENCE_SPINNING,
                )
                self._version = model_version.version
            return self._segmenter


segmenters = _SegmenterCache()


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
        segmenter = segmenters.get(model_version)
        prediction = severity_apply(segmenter, segmenter.predict(data).to_dict())
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


def decision_policy_active() -> DecisionPolicy:
    active = DecisionPolicy.objects.filter(is_active=True).first()
    if active is not None:
        return active
    with transaction.atomic():
        active = DecisionPolicy.objects.select_for_update().filter(is_active=True).first()
        if active is None:
            version = DecisionPolicy.objects.order_by("-version").first()
            active = DecisionPolicy.objects.create(
                version=(version.version + 1) if version else 1,
                rules=policy.PolicyRules().to_dict(),
                note=DEFAULTS_POLICY_NOTE,
                is_active=True,
            )
    return active


def decision_policy_create(*, rules: dict, note: str = "", created_by=None, activate: bool):
    """Add a policy version (validated; audited); versions are never edited in place."""
    from assessment import configuration

    validated = policy.PolicyRules.from_dict(rules).to_dict()
    with transaction.atomic():
        last = DecisionPolicy.objects.select_for_update().order_by("-version").first()
        previous = DecisionPolicy.objects.filter(is_active=True).first()
        if activate:
            DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
        created = DecisionPolicy.objects.create(
            version=(last.version + 1) if last else 1,
            rules=validated,
            note=note,
            created_by=created_by,
            is_active=activate,
        )
        configuration.configuration_change_record(
            obj="decision_policy",
            action=configuration.ACTIVATED if activate else configuration.CREATED,
            before=configuration.policy_snapshot(previous),
            after=configuration.policy_snapshot(created),
            actor=created_by,
        )
        return created


def decision_policy_activate(*, decision_policy: DecisionPolicy, actor=None) -> None:
    """Make one version the active policy (audited); a no-op for the active one."""
    from assessment import configuration

    with transaction.atomic():
        previous = DecisionPolicy.objects.select_for_update().filter(is_active=True).first()
        if previous is not None and previous.pk == decision_policy.pk:
            return
        DecisionPolicy.objects.filter(is_active=True).update(is_active=False)
        DecisionPolicy.objects.filter(pk=decision_policy.pk).update(is_active=True)
        decision_policy.refresh_from_db()
        configuration.configuration_change_record(
            obj="decision_policy",
            action=configuration.ACTIVATED,
            before=configuration.policy_snapshot(previous),
            after=configuration.policy_snapshot(decision_policy),
            actor=actor,
        )


def price_table_active() -> PriceTable:
    """The active price table; an empty database starts from the defaults."""
    table = PriceTable.objects.filter(is_active=True).first()
    if table is not None:
        return table
    if PriceTable.objects.exists():  # staff deactivated every table: refuse to guess prices
        raise ConflictError(ERR_NO_ACTIVE_PRICE_TABLE, code="no_price_table")
    from assessment.defaults import price_table_create_default

    with transaction.atomic():
        return price_table_create_default(PriceTable, PriceRule)


def _price_inputs() -> tuple[list[pricing.Rule], pricing.Rates]:
    table = price_table_active()
    rules = [
        pricing.Rule(
            damage_type=r.damage_type,
            severity=r.severity,
            operation=r.operation,
            labour_hours=r.labour_hours,
            parts_cost=r.parts_cost,
            description=r.description,
        )
        for r in table.rules.all()
    ]
    return rules, pricing.Rates(table.currency, table.labour_rate, table.paint_rate)


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
    rules, rates = _price_inputs()
    priced_regions = [
        pricing.PricedRegion(str(photo.pk), region.index, region.label, region.severity)
        for photo in reading.photos
        if photo.pk in reading.assessments
        for region in reading.assessments[photo.pk].regions.all()
    ]
    quote = pricing.estimate(priced_regions, rules, rates)
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
    facts = policy.ClaimFacts(photos=photo_facts, estimate_total=float(quote.total))
    active_policy = decision_policy_active()
    rules_in_force = policy.PolicyRules.from_dict(active_policy.rules)
    outcome = policy.decide(rules_in_force, facts, names=selectors.label_names(model_version))
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
        },
        thresholds=rules_in_force.to_dict(),
        rules_fired=reasons,
        outcome=outcome.outcome,
    )
    target = Claim.Status.AUTO_DECIDED if outcome.automatic else Claim.Status.IN_REVIEW
    claim_transition(claim=claim, to=target)
    logger.info("claim %s: %s (%d reasons)", claim.reference, outcome.outcome, len(reasons))
    return claim_assessment


def _more_photos_were_requested(claim: Claim) -> bool:
    latest = Decision.objects.filter(claim=claim).order_by("-created_at", "-id").first()
    return latest is not None and latest.outcome == Decision.Outcome.MORE_PHOTOS


def claim_assessment_replace(
    *,
    claim: Claim,
    model_version: ModelVersion,
    severities: list[str],
    quote: pricing.Estimate,
    min_photo_confidence: float | None,
    source: str = "model",
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
    )
    EstimateLine.objects.bulk_create(
        [
            EstimateLine(
                claim_assessment=claim_assessment,
                photo_id=line.photo_id,
                region_index=line.region_index,
                damage_type=line.damage_type,
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


def price_quote(regions: list[pricing.PricedRegion]) -> pricing.Estimate:
    """Price regions with the active price table (the same code the automatic path uses)."""
    rules, rates = _price_inputs()
    return pricing.estimate(regions, rules, rates)


def claim_contest(*, claim: Claim, user, reason: str = "") -> Contest:
    """The customer contests, or asks about, a decision (GDPR art. 22): automatic or a
    person's, the claim goes back to review with the customer's words at the top of why it is
    there, marked for a senior adjuster, and an append-only ``customer_contest`` record.

    The claim's row lock and the one-open-contest constraint make a double submit one contest.
    """
    reason = reason.strip()[:CONTEST_REASON_MAX]
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        if not selectors.claim_contestable(claim=locked):
            code = (
                "contest_open"
                if locked.contests.filter(state=Contest.State.OPEN).exists()
                else None
            )
            raise ConflictError(
                ERR_CONTEST_OPEN if code else ERR_NOT_CONTESTABLE.format(status=locked.status),
                code=code or "not_contestable",
            )
        previous = (
            Decision.objects.filter(claim=locked)
            .select_related("policy", "model_version", "decided_by")
            .order_by("-created_at", "-id")
            .first()
        )
        if previous is None:  # a decided claim always has its decision; be explicit anyway
            raise ConflictError(
                ERR_NOT_CONTESTABLE.format(status=locked.status), code="not_contestable"
            )
        contest = Contest.objects.create(
            claim=locked, decision=previous, customer=user, reason=reason
        )
        reasons = contest_reasons(contest=contest)
        Decision.objects.create(
            claim=locked,
            outcome=Decision.Outcome.ROUTED_TO_REVIEW,
            automatic=False,
            reasons=reasons,
            policy=previous.policy,
            model_version=previous.model_version,
        )
        audit_record(
            claim=locked,
            kind=AuditRecord.Kind.CUSTOMER_CONTEST,
            actor=user,
            inputs={"contest": contest.pk, "decision": previous.pk},
            model_version=previous.model_version.version if previous.model_version else "",
            policy_version=previous.policy.version if previous.policy else None,
            rules_fired=reasons,
            outcome=Decision.Outcome.ROUTED_TO_REVIEW,
            detail={
                "previous_outcome": previous.outcome,
                "previous_automatic": previous.automatic,
                "previous_decided_by": previous.decided_by.get_username()
                if previous.decided_by
                else None,
                "reason": reason,
                "summary": reasons[0]["message"],
            },
        )
        claim_transition(claim=locked, to=Claim.Status.IN_REVIEW)
    return contest


def contest_reasons(*, contest: Contest) -> list[dict]:
    """Why a contested claim is in review, for adjusters, first in "why this claim is here":
    what was contested, who decided it and the customer's words, and the senior marker."""
    previous = contest.decision
    outcome = previous.get_outcome_display().lower()
    if previous.automatic:
        message = MSG_CONTEST_AUTOMATIC.format(outcome=outcome)
    else:
        adjuster = previous.decided_by.get_username() if previous.decided_by else "an adjuster"
        message = MSG_CONTEST_HUMAN.format(outcome=outcome, adjuster=adjuster)
    if contest.reason:
        message += f" The customer wrote: \u201c{contest.reason}\u201d"
    return [
        {
            "code": "customer_contested",
            "message": message,
            **({"detail": contest.reason} if contest.reason else {}),
        },
        {"code": "senior_review", "message": MSG_SENIOR_REVIEW},
    ]


def contest_answer(*, claim: Claim, decision: Decision, now=None) -> Contest | None:
    """Mark the claim's open contest answered by ``decision`` (an adjuster's, in the caller's
    transaction). A request for more photos answers nothing yet: the contest stays open until
    the claim is decided again. The adjuster whose decision is contested may not act on it:
    ConflictError, which rolls the caller's decision back."""
    contest = (
        Contest.objects.filter(claim=claim, state=Contest.State.OPEN)
        .select_related("decision")
        .first()
    )
    if contest is None:
        return None
    first = contest.decision.decided_by_id
    if first is not None and decision.decided_by_id == first:
        # The person whose decision is contested does not judge it again (senior review).
        raise ConflictError(ERR_CONTEST_SAME_ADJUSTER, code="contest_needs_another_adjuster")
    if decision.outcome in (Decision.Outcome.MORE_PHOTOS, Decision.Outcome.ROUTED_TO_REVIEW):
        return None
    contest.state = Contest.State.ANSWERED
    contest.answered_at = now or timezone.now()
    contest.answer = decision
    contest.save(update_fields=["state", "answered_at", "answer"])
    return contest


def audit_record(
    *,
    claim: Claim,
    kind: str,
    actor,
    inputs: dict,
    model_version: str = "",
    policy_version: int | None = None,
    scores: dict | None = None,
    thresholds: dict | None = None,
    rules_fired: list | None = None,
    outcome: str,
    detail: dict | None = None,
) -> AuditRecord:
    return AuditRecord.objects.create(
        claim_id=claim.pk,
        claim_reference=claim.reference,
        kind=kind,
        actor=actor.get_username() if actor else "system",
        actor_id=actor.pk if actor else None,
        inputs=inputs,
        model_version=model_version,
        policy_version=policy_version,
        scores=scores or {},
        thresholds=thresholds or {},
        rules_fired=rules_fired or [],
        outcome=outcome,
        detail=detail or {},
    )
