"""What a customer may see of their claim's damage record: only what a confident model or an
adjuster stands behind.

- Decided automatically: the model's regions and estimate (the policy found it confident).
- Decided by an adjuster (approved): the decision's record. After corrections the estimate was
  priced from the adjuster's labels, so the regions shown are those labels (photos without
  saved labels keep the model's regions, as the estimate did: ``review.services``); approved as
  assessed, the model's regions and estimate, which the adjuster accepted.
- Denied: no regions and no estimate (nothing is paid; the adjuster's message says why).
- Anything else (being assessed, in review, waiting for photos): nothing yet. The raw model
  output of a claim a person is checking holds low-confidence guesses and an estimate nobody
  stands behind; the page says it is being checked instead.
"""

from dataclasses import dataclass, field

from assessment import selectors as assessment_selectors
from assessment.models import ClaimAssessment, Decision, ModelVersion, PhotoAssessment
from claims.models import Claim
from review.models import PhotoLabels

# Outcomes whose damage record the customer sees, and whose record it is.
MODEL_RECORD_OUTCOMES = frozenset({Decision.Outcome.AUTO_APPROVED, Decision.Outcome.NO_DAMAGE})
ADJUSTER_RECORD_OUTCOMES = frozenset(
    {Decision.Outcome.APPROVED, Decision.Outcome.APPROVED_WITH_CORRECTIONS}
)
# Stages of a claim the customer is told are being checked by a person.
CHECKING_STATUSES = frozenset({Claim.Status.IN_REVIEW, Claim.Status.MORE_PHOTOS_REQUESTED})


@dataclass(frozen=True)
class ShownRegion:
    """An adjuster's region in the shape of a model region (``RegionSerializer``)."""

    index: int
    label: str
    severity: str
    area_share: float
    bbox: list
    polygon: list
    mask_rle: dict
    confidence: float | None = None  # a person's region has no model confidence
    part: str = ""
    part_share: float | None = None


@dataclass(frozen=True)
class ShownPhoto:
    """A photo's regions as an adjuster labelled them, on the prediction's mask grid."""

    model_version: ModelVersion
    photo_confidence: float
    mask_width: int
    mask_height: int
    regions: list[ShownRegion]
    source: str = "adjuster"


@dataclass(frozen=True)
class CustomerRecord:
    """``stage``: ``none`` (nothing to show yet), ``checking`` (a person is on it), ``model``
    (decided automatically), ``adjuster`` (an adjuster's decision) or ``denied``."""

    stage: str
    assessment: ClaimAssessment | None = None
    photos: dict = field(default_factory=dict)  # photo id -> PhotoAssessment | ShownPhoto


def _labelled_photo(labels: PhotoLabels) -> ShownPhoto:
    from ml.coco import rle_to_mask
    from ml.inference import largest_polygon

    prediction = labels.photo_assessment
    cells = max(prediction.mask_width * prediction.mask_height, 1)
    regions = [
        ShownRegion(
            index=r.index,
            label=r.label,
            severity=r.severity,
            area_share=min(r.area / cells, 1.0),
            bbox=list(r.bbox),
            polygon=largest_polygon(rle_to_mask(r.mask_rle).astype(bool)),
            mask_rle=r.mask_rle,
        )
        for r in labels.regions.all()
    ]
    return ShownPhoto(
        model_version=prediction.model_version,
        photo_confidence=prediction.photo_confidence,
        mask_width=prediction.mask_width,
        mask_height=prediction.mask_height,
        regions=regions,
    )


def claim_record_for_customer(*, claim: Claim) -> CustomerRecord:
    """The damage record and estimate the customer sees now (see the module docstring)."""
    if claim.status in CHECKING_STATUSES:
        return CustomerRecord(stage="checking")
    if claim.status not in (Claim.Status.AUTO_DECIDED, Claim.Status.DECIDED):
        return CustomerRecord(stage="none")
    decision = assessment_selectors.decision_latest(claim=claim)
    if decision is None:
        return CustomerRecord(stage="none")
    if decision.outcome == Decision.Outcome.DENIED:
        return CustomerRecord(stage="denied")
    if decision.outcome not in MODEL_RECORD_OUTCOMES | ADJUSTER_RECORD_OUTCOMES:
        return CustomerRecord(stage="none")
    assessment = assessment_selectors.claim_assessment_get(claim=claim)
    shown: dict = dict(assessment_selectors.photo_assessments_for_claim(claim=claim))
    if decision.automatic:
        return CustomerRecord(stage="model", assessment=assessment, photos=shown)
    if assessment is not None and assessment.source == "adjuster":
        for labels in (
            PhotoLabels.objects.filter(claim=claim)
            .select_related("photo_assessment__model_version")
            .prefetch_related("regions")
        ):
            shown[labels.photo_id] = _labelled_photo(labels)
    return CustomerRecord(stage="adjuster", assessment=assessment, photos=shown)


def photo_record_for_customer(*, claim: Claim, photo_id) -> PhotoAssessment | ShownPhoto | None:
    """One photo's shown regions (the photo endpoint), by the same rules as the claim's."""
    return claim_record_for_customer(claim=claim).photos.get(photo_id)
