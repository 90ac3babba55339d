"""Reads for assessment: the latest decision and the regions shown per photo."""

from assessment import policy
from assessment.claim_confidence import ClaimConfidence
from assessment.models import ClaimAssessment, Contest, Decision, ModelVersion, PhotoAssessment
from claims.models import Claim


def decision_latest(*, claim: Claim) -> Decision | None:
    return (
        Decision.objects.filter(claim=claim)
        .select_related("policy", "model_version")
        .order_by("-created_at", "-id")
        .first()
    )


# What a customer may contest: a claim decided, automatically or by a person. A claim in
# review or waiting for photos is not decided yet (and holds the open contest, if any).
CONTESTABLE_STATUSES = (Claim.Status.AUTO_DECIDED, Claim.Status.DECIDED)


def claim_contestable(*, claim: Claim) -> bool:
    return claim.status in CONTESTABLE_STATUSES


def contest_latest(*, claim: Claim) -> Contest | None:
    """The claim's latest contest (open or answered), with the decision it contests."""
    return (
        Contest.objects.filter(claim=claim)
        .select_related("decision")
        .order_by("-created_at", "-id")
        .first()
    )


def decision_reasons_for_customer(*, decision: Decision) -> list[dict]:
    """The decision's reasons as the customer may read them: customer words per code, one per
    message, staff-only and unknown codes left out (assessment.policy.CUSTOMER_REASON_MESSAGES).
    A claim sent to a person for staff-only reasons alone gets a neutral sentence."""
    shown: list[dict] = []
    for reason in decision.reasons or []:
        code = reason.get("code")
        if code in policy.CUSTOMER_WORDED_REASONS:
            message = str(reason.get("message") or "")
            # The standard sentence in the customer's language; an adjuster's own words as written.
            if message in policy.CUSTOMER_STANDARD_SENTENCES:
                message = str(policy.CUSTOMER_STANDARD_SENTENCES[message])
        elif code in policy.CUSTOMER_REASON_MESSAGES:
            message = str(policy.CUSTOMER_REASON_MESSAGES[code])  # in the request's language
        else:
            continue
        if message and all(message != r["message"] for r in shown):
            shown.append({"code": code, "message": message})
    if not shown and decision.reasons and not decision.automatic:
        shown.append({k: str(v) for k, v in policy.CUSTOMER_ROUTINE_CHECK.items()})
    return shown


def claim_confidence_view(assessment: ClaimAssessment | None) -> dict | None:
    """The claim confidence as staff read it: the number, the prior it came from, its source
    (``prior`` or ``fitted``) and what it means in words (``ClaimConfidence.meaning``). None
    where none was computed (an adjuster's assessment, or one made before it existed). Staff
    only: never in a customer's response (it is a score, like the photo confidences)."""
    if assessment is None or assessment.claim_confidence is None:
        return None
    value = ClaimConfidence(
        value=assessment.claim_confidence,
        prior=assessment.claim_confidence_prior,
        source=assessment.claim_confidence_source,
        reviews=assessment.claim_confidence_reviews,
    )
    return {
        "value": value.value,
        "prior": value.prior,
        "source": value.source,
        "reviews": value.reviews,
        "meaning": value.meaning,
    }


def claim_assessment_get(*, claim: Claim) -> ClaimAssessment | None:
    return (
        ClaimAssessment.objects.filter(claim=claim)
        .select_related("model_version")
        .prefetch_related("lines")
        .first()
    )


def photo_assessments_for_claim(*, claim: Claim) -> dict:
    """The assessment shown for each photo, keyed by photo id: the one under the model version
    that decided the claim, or, before a decision, under the active model. Never a shadow or
    candidate version's reading, which decides nothing and is not shown."""
    claim_assessment = ClaimAssessment.objects.filter(claim=claim).first()
    rows = PhotoAssessment.objects.filter(photo__claim=claim).select_related("model_version")
    if claim_assessment is not None:
        rows = rows.filter(model_version_id=claim_assessment.model_version_id)
    else:
        rows = rows.filter(model_version__status=ModelVersion.Status.ACTIVE)
    return {a.photo_id: a for a in rows.prefetch_related("regions")}


def label_colours(model_version: ModelVersion | None) -> dict[str, str]:
    if model_version is None:
        return {}
    classes = model_version.label_map.get("classes", [])
    return {c["name"]: c.get("colour", "#ff00ff") for c in classes}


def label_classes(label_map: dict | None) -> list[dict]:
    """A label map's types as pages show them: id, name, colour and ``display``, the one name
    people read (the label map's own, else the name in words: ``broken_part`` ->
    ``Broken part``). The only place display names are decided; pages and scripts take them
    from here, never from a list of their own."""
    from ml.labels import display_from_name

    return [
        {
            "id": c["id"],
            "name": c["name"],
            "colour": c.get("colour", "#ff00ff"),
            "display": c.get("display") or display_from_name(c["name"]),
        }
        for c in (label_map or {}).get("classes", [])
    ]


def label_names(model_version: ModelVersion | None) -> dict[str, str]:
    """Type name -> display name for the model version's label map (see ``label_classes``)."""
    if model_version is None:
        return {}
    return {c["name"]: c["display"] for c in label_classes(model_version.label_map)}


def label_map_current() -> dict:
    """The active model's label map; before any model is registered, the bundled model's
    (the one that becomes active on first use); empty if neither is there."""
    active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if active is not None:
        return active.label_map
    from assessment.model_registry import MODEL_JSON, model_meta_read
    from ml.inference import DEFAULT_MODEL_DIR

    if not (DEFAULT_MODEL_DIR / MODEL_JSON).exists():
        return {}
    return model_meta_read(DEFAULT_MODEL_DIR)["label_map"]


def shadow_comparison(*, shadow: ModelVersion, active: ModelVersion, limit: int = 1000) -> dict:
    """How a shadow model's readings compare with the active model's on the same photos.

    ``damage_agreement``: share of photos where both found damage or both found none;
    ``label_agreement``: share where both found the same set of damage types;
    ``mean_damage_iou``: mean IoU of the two damage masks (union of regions) over photos where
    either found damage; ``mean_confidence_delta``: shadow minus active photo confidence.
    """
    import cv2
    import numpy as np

    from ml.coco import rle_to_mask

    def damage(assessment, h, w):
        mask = np.zeros((h, w), dtype=bool)
        for r in assessment.regions.all():
            m = rle_to_mask(r.mask_rle).astype(np.uint8)
            if m.shape != (h, w):
                m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
            mask |= m.astype(bool)
        return mask

    shadow_rows = {
        a.photo_id: a
        for a in PhotoAssessment.objects.filter(model_version=shadow)
        .prefetch_related("regions")
        .order_by("-created_at")[:limit]
    }
    pairs = [
        (shadow_rows[a.photo_id], a)
        for a in PhotoAssessment.objects.filter(
            model_version=active, photo_id__in=list(shadow_rows)
        ).prefetch_related("regions")
    ]
    damage_agree, label_agree, ious, deltas = [], [], [], []
    for s, a in pairs:
        s_labels = {r.label for r in s.regions.all()}
        a_labels = {r.label for r in a.regions.all()}
        damage_agree.append(bool(s_labels) == bool(a_labels))
        label_agree.append(s_labels == a_labels)
        deltas.append(s.photo_confidence - a.photo_confidence)
        if s_labels or a_labels:
            sm, am = damage(s, a.mask_height, a.mask_width), damage(a, a.mask_height, a.mask_width)
            union = np.logical_or(sm, am).sum()
            ious.append(float(np.logical_and(sm, am).sum() / union) if union else 1.0)

    def mean(values):
        return float(np.mean(values)) if values else None

    return {
        "shadow": shadow.version,
        "active": active.version,
        "n_photos": len(pairs),
        "damage_agreement": mean(damage_agree),
        "label_agreement": mean(label_agree),
        "mean_damage_iou": mean(ious),
        "mean_confidence_delta": mean(deltas),
    }
