"""Reads for assessment: the latest decision and the regions shown per photo."""

from assessment.models import ClaimAssessment, Decision, ModelVersion, PhotoAssessment
from claims.models import Claim


def decision_latest(*, claim: Claim) -> Decision | None:
    return (
        Decision.objects.filter(claim=claim)
        .select_related("policy", "model_version")
        .order_by("-created_at", "-id")
        .first()
    )


def claim_assessment_get(*, claim: Claim) -> ClaimAssessment | None:
    return (
        ClaimAssessment.objects.filter(claim=claim)
        .select_related("model_version")
        .prefetch_related("lines")
        .first()
    )


def photo_assessments_for_claim(*, claim: Claim) -> dict:
    """The assessment shown for each photo: the claim assessment's model version, else the
    newest one. Keys are photo ids."""
    claim_assessment = ClaimAssessment.objects.filter(claim=claim).first()
    rows = PhotoAssessment.objects.filter(photo__claim=claim).select_related("model_version")
    if claim_assessment is not None:
        rows = rows.filter(model_version_id=claim_assessment.model_version_id)
    result = {}
    for assessment in rows.prefetch_related("regions").order_by("created_at"):
        result[assessment.photo_id] = assessment
    return result


def label_colours(model_version: ModelVersion | None) -> dict[str, str]:
    if model_version is None:
        return {}
    classes = model_version.label_map.get("classes", [])
    return {c["name"]: c.get("colour", "#ff00ff") for c in classes}
