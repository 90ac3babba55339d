"""Reads for the adjuster review queue: its priority, filters and counts, and the routing
reasons grouped as the queue and the review screen show them.

Queue priority (0..1, higher first, shown to adjusters):

    w = hours waiting / SLA hours              (CLAIMVISION_REVIEW_SLA_HOURS, default 24)
    e = estimate / (estimate + reference)      (CLAIMVISION_REVIEW_ESTIMATE_REF, default 1000)
    u = 1 - lowest photo confidence            (1 when no photo could be assessed)
    priority = 1                               if w >= 1 (the SLA target is missed)
             = 0.6 w + 0.25 e + 0.15 u         otherwise (always < 1)

Time dominates so nothing starves: a claim at its SLA target outranks any estimate; among
fresh claims, expensive and uncertain ones come first. Ties go to the claim waiting longest.
A claim waits from its latest routing to review (the automatic routing, a contest, or the
re-assessment after more photos), falling back to its last change.

The queue is computed in Python over every claim in review (a handful of queries, no per-claim
query): review queues hold hundreds of claims, not millions, and filters on JSON reasons would
otherwise need database-specific operators.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from assessment.contests import contested_claim_ids
from assessment.models import ClaimAssessment, Decision, Region
from claims.models import Claim, Photo
from claims.roles import Role, user_has_role
from review.models import LabelRegion, ReviewLock

# "Why this claim is here", most important first: what a person asked for, then what may be
# fraud or cannot be judged by the model at all, then money, then the model's own doubt (the
# most frequent and least telling). Codes not listed follow, in the order they came.
REASON_ORDER = [
    "customer_contest",
    "customer_contested",
    "senior_review",
    "more_photos_received",
    "duplicate_photo",
    "assessment_failed",
    "estimate_over_limit",
    "no_price_rule",
    "always_human_severity",
    "always_human_type",
    "photo_quality",
    "no_damage_found",
    "low_claim_confidence",
    "low_photo_confidence",
    "low_region_confidence",
    "random_audit",
]
# Short titles for the grouped reasons (adjusters' words; the messages carry the details).
REASON_TITLES = {
    "customer_contest": "Customer contests the decision",
    "customer_contested": "Customer contests the decision",
    "senior_review": "Senior adjuster decides",
    "more_photos_received": "More photos received",
    "duplicate_photo": "Photo seen in another claim",
    "assessment_failed": "Photo not assessed",
    "estimate_over_limit": "Estimate over the automatic limit",
    "no_price_rule": "No price rule",
    "always_human_severity": "Severity always checked",
    "always_human_type": "Damage type always checked",
    "photo_quality": "Photo quality",
    "no_damage_found": "No damage found",
    "low_photo_confidence": "Model unsure about a photo",
    "low_region_confidence": "Model unsure about a region",
    "low_claim_confidence": "Model unsure about the line items",
    # Blind: the title and message never say what the model would have decided (that stays in
    # the stored reason's ``would_be``, which no review read shows).
    "random_audit": "Random audit",
}

WEIGHT_TIME, WEIGHT_ESTIMATE, WEIGHT_UNCERTAINTY = 0.6, 0.25, 0.15


def review_priority(
    *,
    waiting_hours: float,
    sla_hours: float,
    estimate_total: float,
    min_photo_confidence: float | None,
    estimate_ref: float,
) -> float:
    """The queue's priority (see the module docstring), rounded to 3 decimals."""
    w = waiting_hours / sla_hours if sla_hours > 0 else 1.0
    if w >= 1:
        return 1.0
    total = max(estimate_total, 0.0)
    e = total / (total + estimate_ref) if estimate_ref > 0 else 1.0
    u = 1.0 if min_photo_confidence is None else 1.0 - min(max(min_photo_confidence, 0.0), 1.0)
    return round(WEIGHT_TIME * max(w, 0.0) + WEIGHT_ESTIMATE * e + WEIGHT_UNCERTAINTY * u, 3)


def lock_view(lock: ReviewLock | None, *, user, now: datetime) -> dict | None:
    """A live lock as the API shows it; a lapsed lock is no lock."""
    if lock is None or lock.expires_at <= now:
        return None
    return {
        "adjuster": lock.adjuster.get_username(),
        "expires_at": lock.expires_at,
        "mine": lock.adjuster_id == user.pk,
    }


@dataclass(frozen=True)
class ReviewQueue:
    rows: list[dict]
    counts: dict


def review_queue_list(
    *,
    user,
    reason: str | None = None,
    damage_type: str | None = None,
    min_age_hours: float | None = None,
    mine: bool = False,
    senior_review: bool = False,
    now: datetime | None = None,
) -> ReviewQueue:
    """Claims in review, filtered and ordered by priority; ``counts`` cover the whole queue.

    Contested claims (an open customer contest) are the senior adjusters' queue: a senior
    adjuster sees them (``senior_review`` keeps only them), anyone else does not, though the
    counts say how many wait there."""
    now = now or timezone.now()
    sla = float(settings.CLAIMVISION_REVIEW_SLA_HOURS)
    ref = float(settings.CLAIMVISION_REVIEW_ESTIMATE_REF)
    claims = list(Claim.objects.filter(status=Claim.Status.IN_REVIEW))
    contested = contested_claim_ids([c.pk for c in claims])
    if not user_has_role(user, Role.SENIOR_ADJUSTER):
        claims = [c for c in claims if c.pk not in contested]
    ids = [c.pk for c in claims]
    assessments = {a.claim_id: a for a in ClaimAssessment.objects.filter(claim_id__in=ids)}
    photo_counts = dict(
        Photo.objects.filter(claim_id__in=ids)
        .values("claim_id")
        .annotate(n=Count("id"))
        .values_list("claim_id", "n")
    )
    locks = {
        lock.claim_id: lock
        for lock in ReviewLock.objects.filter(claim_id__in=ids).select_related("adjuster")
    }
    routing: dict = {}
    for decision in Decision.objects.filter(
        claim_id__in=ids, outcome=Decision.Outcome.ROUTED_TO_REVIEW
    ).order_by("claim_id", "-created_at", "-id"):
        routing.setdefault(decision.claim_id, decision)
    types: dict = defaultdict(set)
    model_of = {cid: a.model_version_id for cid, a in assessments.items()}
    for claim_id, model_id, label in (
        Region.objects.filter(assessment__photo__claim_id__in=ids)
        .values_list("assessment__photo__claim_id", "assessment__model_version_id", "label")
        .distinct()
    ):
        if model_of.get(claim_id) in (None, model_id):
            types[claim_id].add(label)
    for claim_id, label in (
        LabelRegion.objects.filter(labels__claim_id__in=ids)
        .values_list("labels__claim_id", "label")
        .distinct()
    ):
        types[claim_id].add(label)

    rows = []
    for claim in claims:
        assessment = assessments.get(claim.pk)
        decision = routing.get(claim.pk)
        waiting_since = decision.created_at if decision else claim.updated_at
        waiting_hours = max((now - waiting_since).total_seconds() / 3600, 0.0)
        estimate = float(assessment.estimate_total) if assessment else 0.0
        confidence = assessment.min_photo_confidence if assessment else None
        rows.append(
            {
                "id": claim.pk,
                "reference": claim.reference,
                "status": claim.status,
                "waiting_since": waiting_since,
                "waiting_hours": round(waiting_hours, 2),
                "sla_hours": sla,
                "sla_breached": waiting_hours >= sla,
                "priority": review_priority(
                    waiting_hours=waiting_hours,
                    sla_hours=sla,
                    estimate_total=estimate,
                    min_photo_confidence=confidence,
                    estimate_ref=ref,
                ),
                "estimate_total": assessment.estimate_total if assessment else None,
                "currency": assessment.currency if assessment else "",
                "min_photo_confidence": confidence,
                "reasons": [
                    {"code": r.get("code", ""), "message": r.get("message", "")}
                    for r in (decision.reasons if decision else [])
                ],
                "reason_groups": reason_groups(decision.reasons if decision else []),
                "damage_types": sorted(types.get(claim.pk, ())),
                "photo_count": photo_counts.get(claim.pk, 0),
                "lock": lock_view(locks.get(claim.pk), user=user, now=now),
                "senior_review": claim.pk in contested,
            }
        )

    by_reason: dict[str, int] = defaultdict(int)
    for row in rows:
        for code in {r["code"] for r in row["reasons"]}:
            by_reason[code] += 1
    counts = {
        "total": len(rows),
        "mine": sum(1 for r in rows if r["lock"] and r["lock"]["mine"]),
        "locked_by_others": sum(1 for r in rows if r["lock"] and not r["lock"]["mine"]),
        "by_reason": dict(sorted(by_reason.items())),
        "senior_review": len(contested),
    }

    def keep(row: dict) -> bool:
        if reason and reason not in {r["code"] for r in row["reasons"]}:
            return False
        if damage_type and damage_type not in row["damage_types"]:
            return False
        if min_age_hours is not None and row["waiting_hours"] < min_age_hours:
            return False
        if senior_review and not row["senior_review"]:
            return False
        return not (mine and not (row["lock"] and row["lock"]["mine"]))

    selected = [r for r in rows if keep(r)]
    selected.sort(key=lambda r: (-r["priority"], r["waiting_since"], r["reference"]))
    return ReviewQueue(rows=selected, counts=counts)


def _reason_rank(code: str) -> int:
    if code in REASON_ORDER:
        return REASON_ORDER.index(code)
    # Whatever a contest is called by the code that records it, it stands at the top.
    return 0 if code.startswith("customer_contest") else len(REASON_ORDER)


def reason_groups(reasons: list[dict]) -> list[dict]:
    """The routing reasons grouped by code with a count, most important first (REASON_ORDER):
    29 low-confidence regions are one line "Model unsure about a region (29)", and a
    customer's contest, with the customer's own words (``detail``), comes first."""
    groups: dict[str, dict] = {}
    for reason in reasons:
        if not isinstance(reason, dict):
            continue
        code = str(reason.get("code", ""))
        group = groups.setdefault(
            code,
            {
                "code": code,
                "title": REASON_TITLES.get(code, code.replace("_", " ").capitalize()),
                "count": 0,
                "messages": [],
                "detail": "",
            },
        )
        group["count"] += 1
        message = str(reason.get("message", ""))
        if reason.get("detail"):  # the customer's words stand apart (``detail``), not twice
            message = message.replace(f" The customer wrote: “{reason['detail']}”", "")
        if message and message not in group["messages"]:
            group["messages"].append(message)
        if reason.get("detail") and not group["detail"]:
            group["detail"] = str(reason["detail"])
    order = list(groups)
    return sorted(groups.values(), key=lambda g: (_reason_rank(g["code"]), order.index(g["code"])))
