"""Reads for the quality dashboard: does the loop turn? Figures per model version and per week,
computed from what the stages stored (audit trail, decisions, override ledger, active time).

Every figure is defined once here and in docs/quality.md ("Quality dashboard"). The rows are
read once per request into small per-item lists (one per policy decision, model region and
reviewed claim) and grouped in Python by model version and by week, so the page, its weekly
trend and the CSV download apply the same definitions to the same items. The calibration
figures reuse the learning stage's records and statistics (``learning.calibration_data``,
``learning.backtest``, ``learning.claim_confidence``), time saved the effort model
(``flywheel.effort``).

Weeks start on Monday (UTC); dates filter on when the item happened: the policy's decision,
the label save of the ledger entry, the adjuster's final decision.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Sum

from assessment import policy
from assessment.models import AuditRecord, ClaimAssessment, Decision, DecisionPolicy, ModelVersion
from flywheel.effort import DEFAULT_EFFORT, Effort, PhotoWork, claim_effort
from learning.backtest import (
    DEFAULT_CONFIDENCE,
    DEFAULT_TARGET_ERROR,
    audit_error_estimate,
    sweep_claim_confidence,
)
from learning.calibration_data import (
    REVIEW_OUTCOMES,
    calibration_records_list,
    claim_confidence_records_list,
)
from learning.claim_confidence import claim_confidence_reliability
from review.models import ActiveTime, LabelRegion, OverrideLedgerEntry, PhotoLabels
from review.queue_selectors import review_queue_list

AUTOMATIC_OUTCOMES = (Decision.Outcome.AUTO_APPROVED, Decision.Outcome.NO_DAMAGE)
# Outcomes whose final estimate stands (a denial or a photo request prices nothing).
PRICED_OUTCOMES = (Decision.Outcome.APPROVED, Decision.Outcome.APPROVED_WITH_CORRECTIONS)
# How the adjuster treated the model's reading of a reviewed claim (current labels):
ACCEPTED = "accepted"  # no ledger entry other than "accepted" (nothing changed)
CORRECTED = "corrected"  # some model regions changed or deleted, or regions added, some kept
REPLACED = "replaced"  # regions drawn and no model region kept: the reading was replaced
REVIEW_KINDS = (ACCEPTED, CORRECTED, REPLACED)
# A week's trend of a rate is noise below this many items; the chart leaves such weeks out.
MIN_ITEMS_PER_POINT = 1
NO_VERSION = "(none)"

ERR_DATES_ORDER = "The start date must be on or before the end date."


@dataclass(frozen=True)
class QualityFilter:
    """The dashboard's filters: dates inclusive (UTC), a model version name or None for all."""

    date_from: date | None = None
    date_to: date | None = None
    model_version: str | None = None

    @property
    def since(self) -> datetime | None:
        return None if self.date_from is None else datetime.combine(self.date_from, time(), UTC)

    @property
    def until(self) -> datetime | None:
        if self.date_to is None:
            return None
        return datetime.combine(self.date_to + timedelta(days=1), time(), UTC)

    def window(self, queryset, field_name: str = "created_at"):
        if self.since is not None:
            queryset = queryset.filter(**{f"{field_name}__gte": self.since})
        if self.until is not None:
            queryset = queryset.filter(**{f"{field_name}__lt": self.until})
        return queryset


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class PolicyDecisionItem:
    """One decision of the policy (an automated-decision audit record): a claim's assessment."""

    at: datetime
    version: str
    automatic: bool
    audited: bool  # sent to review by a random audit


@dataclass(frozen=True)
class RegionItem:
    """One region of a photo's current labels against the model: a model region (``kept``
    or deleted, ``overridden`` when any entry is not "accepted") or one drawn (``added``)."""

    at: datetime
    version: str
    damage_type: str
    part: str
    added: bool
    overridden: bool
    kept: bool
    iou: float | None  # of a kept model region: corrected vs predicted mask


@dataclass(frozen=True)
class ReviewItem:
    """One reviewed claim: its final human decision and what it took."""

    claim_id: object
    reference: str
    at: datetime
    version: str
    outcome: str
    kind: str  # ACCEPTED, CORRECTED or REPLACED
    wait_s: float | None  # routed to review -> the adjuster's decision
    active_s: float | None  # claim-level active time (None: none reported)
    auto_total: Decimal | None
    reviewed_total: Decimal | None
    effort: Effort


@dataclass
class Items:
    decisions: list[PolicyDecisionItem] = field(default_factory=list)
    regions: list[RegionItem] = field(default_factory=list)
    reviews: list[ReviewItem] = field(default_factory=list)
    records: list = field(default_factory=list)  # learning.backtest.ClaimRecord of reviews
    confidence_records: list = field(default_factory=list)  # ClaimConfidenceRecord

    def subset(self, keep: Callable[[object], bool]) -> Items:
        """The items ``keep`` says yes to (each has ``at`` and ``version``)."""
        reviews = [r for r in self.reviews if keep(r)]
        references = {r.reference for r in reviews}
        claim_ids = {r.claim_id for r in reviews}
        return Items(
            decisions=[d for d in self.decisions if keep(d)],
            regions=[r for r in self.regions if keep(r)],
            reviews=reviews,
            records=[r for r in self.records if r.claim in references],
            confidence_records=[r for r in self.confidence_records if r.claim_id in claim_ids],
        )


def week_start(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _version_of(audit: AuditRecord | None, decision_version: str | None) -> str:
    if audit is not None and audit.model_version:
        return audit.model_version
    return decision_version or NO_VERSION


def quality_items(*, filters: QualityFilter) -> Items:
    """Every item in the filters' window and model version (see the item classes)."""
    items = Items(
        decisions=_decision_items(filters),
        regions=_region_items(filters),
        reviews=_review_items(filters),
    )
    calibration = calibration_records_list(since=filters.since, until=filters.until)
    references = {r.reference for r in items.reviews}
    items.records = [r for r in calibration.records if r.claim in references]
    confidence = claim_confidence_records_list(
        since=filters.since, until=filters.until, model_version=filters.model_version
    )
    claim_ids = {r.claim_id for r in items.reviews}
    items.confidence_records = [r for r in confidence.records if r.claim_id in claim_ids]
    return items


def _decision_items(filters: QualityFilter) -> list[PolicyDecisionItem]:
    audits = filters.window(AuditRecord.objects.filter(kind=AuditRecord.Kind.AUTOMATED_DECISION))
    if filters.model_version:
        audits = audits.filter(model_version=filters.model_version)
    return [
        PolicyDecisionItem(
            at=row["created_at"],
            version=row["model_version"] or NO_VERSION,
            automatic=row["outcome"] in AUTOMATIC_OUTCOMES,
            audited=any(r.get("code") == "random_audit" for r in row["rules_fired"] or []),
        )
        for row in audits.values("created_at", "model_version", "outcome", "rules_fired")
    ]


def _current_entries(claim_ids=None, filters: QualityFilter | None = None) -> list[dict]:
    """Ledger entries of each photo's current labels version (older saves are history)."""
    entries = OverrideLedgerEntry.objects.all()
    if claim_ids is not None:
        entries = entries.filter(claim_id__in=claim_ids)
    if filters is not None:
        entries = filters.window(entries)
        if filters.model_version:
            entries = entries.filter(model_version__version=filters.model_version)
    current = dict(
        PhotoLabels.objects.filter(photo_id__in=entries.values("photo_id").distinct()).values_list(
            "photo_id", "version"
        )
    )
    return [
        e
        for e in entries.order_by("photo_id", "id").values(
            "claim_id",
            "photo_id",
            "labels_version",
            "action",
            "source_index",
            "iou",
            "from_label",
            "to_label",
            "from_part",
            "to_part",
            "created_at",
            "model_version__version",
        )
        if current.get(e["photo_id"]) == e["labels_version"]
    ]


def _region_items(filters: QualityFilter) -> list[RegionItem]:
    by_region: dict = defaultdict(list)
    items = []
    for e in _current_entries(filters=filters):
        if e["source_index"] is None:  # drawn by the adjuster: a region the model missed
            items.append(
                RegionItem(
                    at=e["created_at"],
                    version=e["model_version__version"],
                    damage_type=e["to_label"],
                    part=e["to_part"],
                    added=True,
                    overridden=False,
                    kept=False,
                    iou=None,
                )
            )
        else:
            by_region[(e["photo_id"], e["source_index"])].append(e)
    for entries in by_region.values():
        first = entries[0]
        actions = {e["action"] for e in entries}
        kept = OverrideLedgerEntry.Action.DELETED not in actions
        ious = [e["iou"] for e in entries if e["iou"] is not None]
        items.append(
            RegionItem(
                at=first["created_at"],
                version=first["model_version__version"],
                damage_type=first["from_label"],
                part=first["from_part"],
                added=False,
                overridden=actions != {OverrideLedgerEntry.Action.ACCEPTED},
                kept=kept,
                iou=min(ious) if kept and ious else None,
            )
        )
    return items


def _review_items(filters: QualityFilter) -> list[ReviewItem]:
    finals = filters.window(
        Decision.objects.filter(
            automatic=False, decided_by__isnull=False, outcome__in=REVIEW_OUTCOMES
        )
    )
    final: dict = {}
    for row in finals.order_by("created_at", "id").values(
        "claim_id", "claim__reference", "outcome", "created_at", "model_version__version"
    ):
        final[row["claim_id"]] = row  # ordered: a claim's latest review wins
    if not final:
        return []
    ids = list(final)

    automated: dict = {}
    for audit in AuditRecord.objects.filter(
        claim_id__in=ids, kind=AuditRecord.Kind.AUTOMATED_DECISION
    ).order_by("created_at", "id"):
        if audit.created_at <= final[audit.claim_id]["created_at"]:
            automated[audit.claim_id] = audit  # the latest before the human decision
    human: dict = {}
    for audit in AuditRecord.objects.filter(
        claim_id__in=ids, kind=AuditRecord.Kind.HUMAN_DECISION
    ).order_by("created_at", "id"):
        if audit.created_at <= final[audit.claim_id]["created_at"]:
            human[audit.claim_id] = audit
    routed: dict = {}
    for row in (
        Decision.objects.filter(claim_id__in=ids, outcome=Decision.Outcome.ROUTED_TO_REVIEW)
        .order_by("created_at", "id")
        .values("claim_id", "created_at")
    ):
        if row["created_at"] <= final[row["claim_id"]]["created_at"]:
            routed[row["claim_id"]] = row["created_at"]
    active = dict(
        ActiveTime.objects.filter(claim_id__in=ids, photo__isnull=True)
        .values("claim_id")
        .annotate(ms=Sum("active_ms"))
        .values_list("claim_id", "ms")
    )
    final_totals = dict(
        ClaimAssessment.objects.filter(claim_id__in=ids).values_list("claim_id", "estimate_total")
    )
    regions_per_photo = dict(
        PhotoLabels.objects.filter(claim_id__in=ids).values_list("photo_id", "pk")
    )
    final_regions: dict = defaultdict(int)
    for labels_id in LabelRegion.objects.filter(
        labels_id__in=regions_per_photo.values()
    ).values_list("labels_id", flat=True):
        final_regions[labels_id] += 1
    entries_by_photo: dict = defaultdict(list)
    for e in _current_entries(claim_ids=ids):
        entries_by_photo[(e["claim_id"], e["photo_id"])].append(e)
    photos_by_claim: dict = defaultdict(list)
    for claim_id, photo_id in entries_by_photo:
        photos_by_claim[claim_id].append(photo_id)

    items = []
    for claim_id, row in final.items():
        entries = [e for p in photos_by_claim[claim_id] for e in entries_by_photo[(claim_id, p)]]
        work = [
            PhotoWork.from_ledger(
                entries_by_photo[(claim_id, p)],
                final_regions=final_regions[regions_per_photo[p]] if p in regions_per_photo else 0,
            )
            for p in photos_by_claim[claim_id]
        ]
        auto = automated.get(claim_id)
        human_record = human.get(claim_id)
        reviewed_total = None
        if row["outcome"] in PRICED_OUTCOMES:
            after = (human_record.detail or {}).get("estimate_after") if human_record else None
            reviewed_total = _decimal((after or {}).get("total")) or _decimal(
                final_totals.get(claim_id)
            )
        waited_from = routed.get(claim_id)
        items.append(
            ReviewItem(
                claim_id=claim_id,
                reference=row["claim__reference"],
                at=row["created_at"],
                version=_version_of(auto, row["model_version__version"]),
                outcome=row["outcome"],
                kind=_review_kind(entries),
                wait_s=(row["created_at"] - waited_from).total_seconds() if waited_from else None,
                active_s=active[claim_id] / 1000 if active.get(claim_id) else None,
                auto_total=_decimal((auto.scores or {}).get("estimate_total")) if auto else None,
                reviewed_total=reviewed_total,
                effort=claim_effort(work, DEFAULT_EFFORT),
            )
        )
    if filters.model_version:
        items = [i for i in items if i.version == filters.model_version]
    return items


def _review_kind(entries: list[dict]) -> str:
    """Accepted: nothing but "accepted" entries (or none). Replaced: regions drawn and no model
    region kept. Corrected: anything else."""
    actions = {e["action"] for e in entries}
    if actions <= {OverrideLedgerEntry.Action.ACCEPTED}:
        return ACCEPTED
    sources = {e["source_index"] for e in entries if e["source_index"] is not None}
    deleted = {
        e["source_index"] for e in entries if e["action"] == OverrideLedgerEntry.Action.DELETED
    }
    if OverrideLedgerEntry.Action.ADDED in actions and sources <= deleted:
        return REPLACED
    return CORRECTED


# --------------------------------------------------------------------------- figures


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in (0, 1]): a value that occurred."""
    values = sorted(values)
    if not values:
        return None
    rank = max(1, -(-len(values) * q // 1))  # ceil(n q)
    return values[int(rank) - 1]


UNKNOWN = "(unknown)"  # a region with no damage type or no part


def damage_type_display(name: str) -> str:
    """A damage type as every other page names it: the label map's display name."""
    from ml.labels import damage_type_display as display

    return display(name) if name != UNKNOWN else name


def part_display(name: str) -> str:
    """A car part as every other page names it: the part map's display name."""
    from ml.labels import DEFAULT_PART_MAP, display_from_name

    if name in DEFAULT_PART_MAP.names:
        return DEFAULT_PART_MAP.display(name)
    return display_from_name(name) if name != UNKNOWN else name


def _rates_by(regions: list[RegionItem], key: Callable[[RegionItem], str]) -> list[dict]:
    rows: dict = {}
    for r in regions:
        name = key(r) or UNKNOWN
        row = rows.setdefault(name, {"name": name, "regions": 0, "overridden": 0, "added": 0})
        if r.added:
            row["added"] += 1
        else:
            row["regions"] += 1
            row["overridden"] += int(r.overridden)
    for row in rows.values():
        row["rate"] = share(row["overridden"], row["regions"])
    return sorted(rows.values(), key=lambda row: (-row["regions"] - row["added"], row["name"]))


def _base_rules() -> policy.PolicyRules:
    active = DecisionPolicy.objects.filter(is_active=True).first()
    return policy.PolicyRules.from_dict(active.rules) if active else policy.PolicyRules()


def quality_summary(items: Items, *, curves: bool = False) -> dict:
    """Every figure over ``items`` (see docs/quality.md). ``curves``: also the reliability
    table and the coverage-risk sweep (whole windows only; a week is too few claims)."""
    decided = len(items.decisions)
    auto = sum(d.automatic for d in items.decisions)
    model_regions = [r for r in items.regions if not r.added]
    overridden = sum(r.overridden for r in model_regions)
    ious = [r.iou for r in model_regions if r.iou is not None]
    reviews = items.reviews
    audit = audit_error_estimate(items.records, DEFAULT_CONFIDENCE)
    waits = [r.wait_s for r in reviews if r.wait_s is not None]
    sla_s = float(settings.CLAIMVISION_REVIEW_SLA_HOURS) * 3600
    errors = [
        float(abs(r.auto_total - r.reviewed_total) / r.reviewed_total)
        for r in reviews
        if r.auto_total is not None and r.reviewed_total
    ]
    effort = sum((r.effort for r in reviews), Effort(0.0, 0.0, 0, 0))
    active_by_kind = {}
    for kind in REVIEW_KINDS:
        seconds = [r.active_s for r in reviews if r.kind == kind and r.active_s is not None]
        active_by_kind[kind] = {
            "claims": sum(1 for r in reviews if r.kind == kind),
            "timed": len(seconds),
            "median_s": median(seconds),
        }
    measured = [r.active_s for r in reviews if r.active_s is not None]
    summary = {
        "decided": decided,
        "auto_decided": auto,
        "reviewed_routed": decided - auto,
        "random_audits": sum(d.audited for d in items.decisions),
        "auto_rate": share(auto, decided),
        "review_rate": share(decided - auto, decided),
        "model_regions": len(model_regions),
        "overridden_regions": overridden,
        "added_regions": sum(r.added for r in items.regions),
        "override_rate": share(overridden, len(model_regions)),
        "override_by_type": _rates_by(items.regions, lambda r: r.damage_type),
        "override_by_part": _rates_by(items.regions, lambda r: r.part),
        "agreement_iou": statistics.fmean(ious) if ious else None,
        "agreement_regions": len(ious),
        "reviewed": len(reviews),
        "audit": {
            "n": audit.n_audited,
            "changed": audit.n_changed,
            "rate": audit.error_rate if audit.n_audited else None,
            "bound": audit.error_upper if audit.n_audited else None,
            "confidence": audit.confidence,
        },
        "wait": {
            "n": len(waits),
            "median_h": None if not waits else median(waits) / 3600,
            "p90_h": None if not waits else percentile(waits, 0.9) / 3600,
            "over_sla": sum(w > sla_s for w in waits),
            "over_sla_share": share(sum(w > sla_s for w in waits), len(waits)),
        },
        "estimate": {
            "n": len(errors),
            "median_ape": median(errors),
            "within_10": share(sum(e <= 0.10 for e in errors), len(errors)),
        },
        "active": active_by_kind,
        "effort": {
            "claims": effort.claims,
            "photos": effort.photos,
            "assisted_s": effort.assisted_s,
            "scratch_s": effort.scratch_s,
            "saved": effort.saved,
            "assisted_per_claim_s": share(effort.assisted_s, effort.claims),
            "measured_median_s": median(measured),
        },
    }
    if curves:
        reliability = claim_confidence_reliability(items.confidence_records, None)
        summary["reliability"] = {
            "n": reliability["n"],
            "kept": reliability["kept"],
            "ece": reliability["prior"]["ece"],
            "bins": reliability["prior"]["bins"],
            "n_bins": reliability["prior"]["n_bins"],
        }
        points = sweep_claim_confidence(_base_rules(), items.records)
        summary["coverage_risk"] = [p.to_dict() for p in points]
        summary["target_error"] = DEFAULT_TARGET_ERROR
    return summary


def queue_now(*, user, model_version: str | None = None) -> dict:
    """The review queue as it stands (filters of dates do not apply: it is now)."""
    rows = review_queue_list(user=user).rows
    if model_version:
        versions = dict(
            ClaimAssessment.objects.filter(claim_id__in=[r["id"] for r in rows]).values_list(
                "claim_id", "model_version__version"
            )
        )
        rows = [r for r in rows if versions.get(r["id"]) == model_version]
    hours = [r["waiting_hours"] for r in rows]
    return {
        "depth": len(rows),
        "sla_hours": float(settings.CLAIMVISION_REVIEW_SLA_HOURS),
        "over_sla": sum(r["sla_breached"] for r in rows),
        "median_wait_h": median(hours),
        "oldest_wait_h": max(hours) if hours else None,
    }


@dataclass(frozen=True)
class QualityDashboard:
    filters: QualityFilter
    overall: dict
    by_version: list[tuple[str, dict]]
    by_week: list[tuple[date, dict]]  # all versions in the filter, week by week
    queue: dict


def quality_versions() -> list[str]:
    """Model versions to filter by, newest first."""
    return list(
        ModelVersion.objects.order_by("-created_at", "-id").values_list("version", flat=True)
    )


def _versions_in(items: Items) -> list[str]:
    seen = {i.version for i in (*items.decisions, *items.regions, *items.reviews)}
    return sorted(seen)


def _weeks_in(items: Items) -> list[date]:
    return sorted({week_start(i.at) for i in (*items.decisions, *items.regions, *items.reviews)})


def quality_dashboard_get(*, filters: QualityFilter, user) -> QualityDashboard:
    items = quality_items(filters=filters)
    return QualityDashboard(
        filters=filters,
        overall=quality_summary(items, curves=True),
        by_version=[
            (v, quality_summary(items.subset(lambda i, v=v: i.version == v)))
            for v in _versions_in(items)
        ],
        by_week=[
            (w, quality_summary(items.subset(lambda i, w=w: week_start(i.at) == w)))
            for w in _weeks_in(items)
        ],
        queue=queue_now(user=user, model_version=filters.model_version),
    )


# --------------------------------------------------------------------------- CSV rows

# ``group`` is the code (damage type, part, review outcome), ``group_name`` the name the page
# shows for it; appended last so the older columns keep their places.
CSV_HEADER = ("week_start", "model_version", "figure", "group", "value", "n", "group_name")


def _figure_rows(summary: dict) -> Iterable[tuple[str, str, float | None, int, str]]:
    """(figure, group, value, n, group_name) for one summary: the tidy long format of the CSV,
    every row named as the page names it."""
    for figure, group, value, n in _figure_values(summary):
        if figure.endswith("_by_type"):
            name = damage_type_display(group)
        elif figure.endswith("_by_part"):
            name = part_display(group)
        else:
            name = group
        yield figure, group, value, n, name


def _figure_values(summary: dict) -> Iterable[tuple[str, str, float | None, int]]:
    """(figure, group, value, n) for one summary, the group as its code."""
    yield "auto_rate", "", summary["auto_rate"], summary["decided"]
    yield "review_rate", "", summary["review_rate"], summary["decided"]
    yield "random_audits", "", summary["random_audits"], summary["decided"]
    yield "override_rate", "", summary["override_rate"], summary["model_regions"]
    for row in summary["override_by_type"]:
        yield "override_rate_by_type", row["name"], row["rate"], row["regions"]
        yield "added_by_type", row["name"], row["added"], row["added"]
    for row in summary["override_by_part"]:
        yield "override_rate_by_part", row["name"], row["rate"], row["regions"]
        yield "added_by_part", row["name"], row["added"], row["added"]
    yield "agreement_iou", "", summary["agreement_iou"], summary["agreement_regions"]
    audit = summary["audit"]
    yield "audit_error_rate", "", audit["rate"], audit["n"]
    yield "audit_error_bound_95", "", audit["bound"], audit["n"]
    wait = summary["wait"]
    yield "review_wait_median_h", "", wait["median_h"], wait["n"]
    yield "review_wait_p90_h", "", wait["p90_h"], wait["n"]
    yield "review_wait_over_sla_share", "", wait["over_sla_share"], wait["n"]
    estimate = summary["estimate"]
    yield "estimate_median_abs_pct_error", "", estimate["median_ape"], estimate["n"]
    for kind, row in summary["active"].items():
        yield "active_review_median_s", kind, row["median_s"], row["timed"]
    effort = summary["effort"]
    yield "time_saved", "", effort["saved"], effort["claims"]
    yield "modelled_review_s_per_claim", "", effort["assisted_per_claim_s"], effort["claims"]


def quality_csv_rows(*, filters: QualityFilter) -> Iterable[tuple]:
    """One block of figures per (week, model version) with items, then the whole window per
    version and for all ("all" in the week and version columns)."""
    items = quality_items(filters=filters)
    versions = _versions_in(items)
    for week in _weeks_in(items):
        for version in versions:
            subset = items.subset(
                lambda i, w=week, v=version: week_start(i.at) == w and i.version == v
            )
            if subset.decisions or subset.regions or subset.reviews:
                for figure in _figure_rows(quality_summary(subset)):
                    yield (week.isoformat(), version, *figure)
    for version in versions:
        subset = items.subset(lambda i, v=version: i.version == v)
        for figure in _figure_rows(quality_summary(subset)):
            yield ("all", version, *figure)
    for figure in _figure_rows(quality_summary(items)):
        yield ("all", "all", *figure)
