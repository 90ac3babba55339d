"""The quality dashboard (desktop, server-rendered): the figures of ``flywheel.quality_selectors``
as tiles, inline SVG charts and tables, filtered by dates and model version, and the same
figures as a CSV download. Staff only (adjusters, the data team, admins); anyone else signed
in gets a page saying why (403), anonymous visitors the sign-in page.
"""

from __future__ import annotations

import csv
from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from claims.roles import Role, user_has_role, user_is_staff
from flywheel import quality_charts as charts
from flywheel.quality_selectors import (
    CSV_HEADER,
    ERR_DATES_ORDER,
    REVIEW_KINDS,
    QualityFilter,
    damage_type_display,
    part_display,
    quality_csv_rows,
    quality_dashboard_get,
    quality_versions,
)

DASH = "\N{EN DASH}"
CSV_FILENAME = "claimvision-quality.csv"


def staff_required(view):
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_is_staff(request.user):
            return render(request, "flywheel/not_staff.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


class QualityFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To (inclusive, UTC)")
    model_version = forms.ChoiceField(required=False, label="Model version")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].choices = [("", "All versions")] + [
            (v, v) for v in quality_versions()
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(ERR_DATES_ORDER)
        return data

    def filters(self) -> QualityFilter:
        return QualityFilter(
            date_from=self.cleaned_data.get("date_from"),
            date_to=self.cleaned_data.get("date_to"),
            model_version=self.cleaned_data.get("model_version") or None,
        )


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def hours(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} h"


def seconds(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _tiles(s: dict, queue: dict) -> list[dict]:
    audit, wait, estimate, effort = s["audit"], s["wait"], s["estimate"], s["effort"]
    return [
        {
            "id": "auto-rate",
            "title": "Decided automatically",
            "value": pct(s["auto_rate"]),
            "detail": f"{s['auto_decided']} of {s['decided']} policy decisions",
        },
        {
            "id": "review-rate",
            "title": "Sent to review",
            "value": pct(s["review_rate"]),
            "detail": f"{s['reviewed_routed']} claims, {s['random_audits']} random audits",
        },
        {
            "id": "override-rate",
            "title": "Model regions overridden",
            "value": pct(s["override_rate"]),
            "detail": f"{s['overridden_regions']} of {s['model_regions']}; "
            f"{s['added_regions']} drawn",
        },
        {
            "id": "agreement",
            "title": "Agreement (mean IoU)",
            "value": DASH if s["agreement_iou"] is None else f"{s['agreement_iou']:.2f}",
            "detail": f"{s['agreement_regions']} kept model regions",
        },
        {
            "id": "audit-error",
            "title": "Audit error",
            "value": pct(audit["rate"]),
            "detail": f"{audit['changed']} of {audit['n']} audits changed; "
            f"95% bound {pct(audit['bound'])}",
        },
        {
            "id": "queue",
            "title": "Review queue now",
            "value": str(queue["depth"]),
            "detail": f"{queue['over_sla']} past the {queue['sla_hours']:g} h SLA; "
            f"oldest {hours(queue['oldest_wait_h'])}",
        },
        {
            "id": "wait",
            "title": "Time in review (median)",
            "value": hours(wait["median_h"]),
            "detail": f"p90 {hours(wait['p90_h'])}; {pct(wait['over_sla_share'], 0)} of "
            f"{wait['n']} past the SLA",
        },
        {
            "id": "estimate",
            "title": "Estimate error (median)",
            "value": pct(estimate["median_ape"]),
            "detail": f"{estimate['n']} approved claims; {pct(estimate['within_10'], 0)} "
            "within 10%",
        },
        {
            "id": "time-saved",
            "title": "Time saved",
            "value": pct(effort["saved"], 0),
            "detail": f"{effort['claims']} reviewed claims, modelled "
            f"{seconds(effort['assisted_per_claim_s'])} per claim; measured median "
            f"{seconds(effort['measured_median_s'])}",
        },
    ]


def _version_rows(by_version: list[tuple[str, dict]]) -> list[dict]:
    return [
        {
            "version": version,
            "decided": s["decided"],
            "auto_rate": pct(s["auto_rate"]),
            "review_rate": pct(s["review_rate"]),
            "override_rate": pct(s["override_rate"]),
            "agreement": DASH if s["agreement_iou"] is None else f"{s['agreement_iou']:.2f}",
            "audit": f"{pct(s['audit']['rate'])} (≤ {pct(s['audit']['bound'])}, "
            f"n={s['audit']['n']})"
            if s["audit"]["n"]
            else DASH,
            "estimate": pct(s["estimate"]["median_ape"]),
            "saved": pct(s["effort"]["saved"], 0),
            "reviewed": s["reviewed"],
        }
        for version, s in by_version
    ]


def _charts(dashboard) -> dict:
    weeks = [w.isoformat() for w, _ in dashboard.by_week]
    overall = dashboard.overall
    reliability = overall["reliability"]
    return {
        "trend": charts.trend_chart(
            weeks,
            {
                "automatic": [s["auto_rate"] for _, s in dashboard.by_week],
                "review": [s["review_rate"] for _, s in dashboard.by_week],
                "overridden": [s["override_rate"] for _, s in dashboard.by_week],
            },
            "Share of claims decided automatically, sent to review, and of model regions "
            "overridden, per week",
        )
        if weeks
        else None,
        "reliability": charts.reliability_chart(
            reliability["bins"],
            reliability["n_bins"],
            "Reliability: share of reviewed claims whose line items were kept, by claim confidence",
        )
        if reliability["n"]
        else None,
        "coverage_risk": charts.coverage_risk_chart(
            overall["coverage_risk"],
            overall["target_error"],
            "Coverage and risk: error of the automatic decisions against their share, over "
            "claim-confidence thresholds",
        )
        if any(p["n_auto"] for p in overall["coverage_risk"])
        else None,
        "by_type": charts.bar_rows(
            _named(overall["override_by_type"], damage_type_display),
            "Share of model regions overridden, by damage type",
        )
        if overall["override_by_type"]
        else None,
        "by_part": charts.bar_rows(
            _named(overall["override_by_part"], part_display),
            "Share of model regions overridden, by car part",
        )
        if overall["override_by_part"]
        else None,
    }


def _named(rows: list[dict], display) -> list[dict]:
    return [{**row, "name": display(row["name"])} for row in rows]


def _rate_rows(rows: list[dict]) -> list[dict]:
    return [{**row, "rate_text": pct(row["rate"])} for row in rows]


@staff_required
def quality_page(request: HttpRequest) -> HttpResponse:
    form = QualityFilterForm(request.GET or None)
    context = {"form": form, "is_adjuster": user_has_role(request.user, Role.ADJUSTER)}
    if form.is_bound and not form.is_valid():
        return render(request, "flywheel/quality.html", context, status=400)
    filters = form.filters() if form.is_bound else QualityFilter()
    dashboard = quality_dashboard_get(filters=filters, user=request.user)
    overall = dashboard.overall
    n_bins = overall["reliability"]["n_bins"]
    context.update(
        {
            "dashboard": dashboard,
            "has_data": bool(overall["decided"] or overall["model_regions"] or overall["reviewed"]),
            "tiles": _tiles(overall, dashboard.queue),
            "versions": _version_rows(dashboard.by_version),
            "charts": _charts(dashboard),
            "by_type": _rate_rows(_named(overall["override_by_type"], damage_type_display)),
            "by_part": _rate_rows(_named(overall["override_by_part"], part_display)),
            "active": [
                {
                    "kind": kind,
                    "claims": overall["active"][kind]["claims"],
                    "timed": overall["active"][kind]["timed"],
                    "median": seconds(overall["active"][kind]["median_s"]),
                }
                for kind in REVIEW_KINDS
            ],
            "reliability": overall["reliability"],
            "reliability_rows": [
                {
                    **row,
                    "range": f"{row['bin'] / n_bins:.1f}\N{EN DASH}{(row['bin'] + 1) / n_bins:.1f}",
                    "kept_text": pct(row["accuracy"], 0),
                    "shown": f"{row['confidence']:.2f}",
                }
                for row in overall["reliability"]["bins"]
            ],
            "query": request.GET.urlencode(),
        }
    )
    return render(request, "flywheel/quality.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@staff_required
def quality_csv(request: HttpRequest) -> HttpResponse:
    form = QualityFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    filters = form.filters() if form.is_bound else QualityFilter()
    writer = csv.writer(_Echo())
    rows = (
        writer.writerow([_csv_value(v) for v in row])
        for row in (CSV_HEADER, *quality_csv_rows(filters=filters))
    )
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{CSV_FILENAME}"'
    return response
