"""Labelling pages (desktop): a person's projects, a project's progress, queues, QA agreement
and measured time saved, and the item screen (the review screen's mask editor on a project
item). The item screen is a shell: it reads and writes through the labelling API
(``/api/v1/labelling/``) and takes its lock from ``labelling.screen_views``.

Who: the same rule as the API (``labelling.apis.IsLabellingUser``): a customer account gets a
page saying why (403), a project one is not a member of is a 404.
"""

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from config.errors import NotFoundError
from labelling import queue_selectors, report_selectors, selectors, time_saved
from labelling.apis import IsLabellingUser
from labelling.models import ItemLock, ProjectItem

# The labelling API's root; the item screen builds its item's endpoints from it.
LABELLING_API_ROOT = "/api/v1/labelling/"
# As the review screen (review.views): the lock is renewed every minute while the person is
# active, and active time stops counting after a minute without input.
LOCK_RENEW_MS = 60_000
IDLE_AFTER_MS = 60_000
# The project page lists this many waiting items per queue (the rest are counted).
QUEUE_PREVIEW = 10
MODES = {"label": ItemLock.Purpose.LABEL, "qa": ItemLock.Purpose.QA}


def labelling_user_required(view):
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not IsLabellingUser().has_permission(request, None):
            return render(request, "labelling/forbidden.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            return render(request, "labelling/not_found.html", {"message": exc.message}, status=404)

    return wrapper


def class_names(project) -> dict[str, str]:
    """Damage type -> the name people read (the label map's display name, else the name)."""
    return {
        c["name"]: c.get("display") or c["name"].replace("_", " ").capitalize()
        for c in project.label_map.get("classes", [])
    }


def _progress_rows(progress: dict) -> list[dict]:
    total = progress["total"] or 1
    return [
        {
            "status": status,
            "label": label,
            "count": progress["by_status"].get(status, 0),
            "percent": round(100 * progress["by_status"].get(status, 0) / total, 1),
        }
        for status, label in ProjectItem.Status.choices
    ]


@labelling_user_required
def project_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for project in selectors.project_list(user=request.user):
        progress = selectors.project_progress(project=project)
        by_status = progress["by_status"]
        rows.append(
            {
                "project": project,
                "roles": queue_selectors.project_screen_roles(project=project, user=request.user),
                "waiting": queue_selectors.project_queue_counts(project=project, user=request.user),
                "total": progress["total"],
                "done": by_status[ProjectItem.Status.ACCEPTED]
                + by_status[ProjectItem.Status.LABELLED],
            }
        )
    return render(request, "labelling/projects.html", {"rows": rows})


NO_DATA = "\N{EN DASH}"  # what a cell without data shows


def pct(value: float | None) -> str:
    return NO_DATA if value is None else f"{value * 100:.0f}%"


def duration(ms: float | None) -> str:
    """Minutes:seconds ("1:05") of active time; NO_DATA without data."""
    if ms is None:
        return NO_DATA
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _time_saved_rows(report: dict, names: dict[str, str]) -> list[dict]:
    rows = []
    for entry in [report["overall"], *report["per_class"]]:
        if entry.label == "all":
            title = "All items"
        elif entry.label == time_saved.NO_DAMAGE:
            title = "No damage"
        else:
            title = names.get(entry.label, entry.label)
        interval = (
            f"{pct(entry.low)} to {pct(entry.high)}"
            if entry.low is not None
            else "needs 2 + 2 items"
        )
        rows.append(
            {
                "title": title,
                "entry": entry,
                "overall": entry.label == "all",
                "saved": pct(entry.saved),
                "interval": interval if entry.saved is not None else NO_DATA,
                "scratch_mean": duration(entry.scratch.mean_ms),
                "scratch_median": duration(entry.scratch.median_ms),
                "with_mean": duration(entry.prelabelled.mean_ms),
                "with_median": duration(entry.prelabelled.median_ms),
                "accepted": pct(entry.accepted_share),
                "unchanged": pct(entry.unchanged_share),
            }
        )
    return rows


@labelling_user_required
def project_detail(request: HttpRequest, project_id) -> HttpResponse:
    project = selectors.project_get(user=request.user, project_id=project_id)
    user = request.user
    roles = queue_selectors.project_screen_roles(project=project, user=user)
    progress = selectors.project_progress(project=project)
    names = class_names(project)
    label_queue = queue_selectors.labelling_queue(project=project, user=user)
    qa_queue = queue_selectors.qa_queue(project=project, user=user)
    by_class = report_selectors.qa_agreement_by_class(project=project)
    by_labeller = report_selectors.qa_agreement_by_labeller(project=project)
    for row in [*by_class, *by_labeller]:
        row["title"] = names.get(row.get("label"), row.get("label") or row.get("labeller"))
        row["iou"] = NO_DATA if row["mean_iou"] is None else f"{row['mean_iou']:.2f}"
        row["types"] = pct(row["type_agreement"])
    report = time_saved.time_saved_report(project=project)
    return render(
        request,
        "labelling/project.html",
        {
            "project": project,
            "roles": roles,
            "progress": progress,
            "progress_rows": _progress_rows(progress),
            "label_queue": list(label_queue[:QUEUE_PREVIEW]) if roles["labeller"] else [],
            "label_waiting": label_queue.count() if roles["labeller"] else 0,
            "qa_queue": list(qa_queue[:QUEUE_PREVIEW]) if roles["reviewer"] else [],
            "qa_waiting": qa_queue.count() if roles["reviewer"] else 0,
            "by_labeller": by_labeller,
            "by_class": by_class,
            "time_saved": _time_saved_rows(report, names),
            "overall": report["overall"],
            "empty": request.GET.get("empty", ""),
        },
    )


@labelling_user_required
def item_screen(request: HttpRequest, project_id, item_id, mode: str = "label") -> HttpResponse:
    """The item screen. Only ids and endpoints go into the page: the item's regions (and the
    pre-labels, where the item may show them) come from the API, so a from-scratch item's
    pre-labels are in neither the page nor its JSON."""
    project = selectors.project_get(user=request.user, project_id=project_id)
    item = selectors.item_get(project=project, item_id=item_id)
    roles = queue_selectors.project_screen_roles(project=project, user=request.user)
    if not roles["reviewer" if mode == "qa" else "labeller"]:
        return render(
            request,
            "labelling/forbidden.html",
            {"project": project, "needs": "reviewer" if mode == "qa" else "labeller"},
            status=403,
        )
    kwargs = {"project_id": project.pk, "item_id": item.pk}
    names = class_names(project)
    return render(
        request,
        "labelling/item.html",
        {
            "project": project,
            "item": item,
            "mode": mode,
            "item_api": f"{LABELLING_API_ROOT}projects/{project.pk}/items/{item.pk}/",
            "lock_url": reverse("labelling-item-lock", kwargs=kwargs),
            "next_url": reverse("labelling-queue-next", kwargs={"project_id": project.pk}),
            "project_url": reverse("labelling-project", kwargs={"project_id": project.pk}),
            "sent_back": queue_selectors.item_last_send_back(item=item),
            "classes_json": json.dumps(
                [
                    {"name": c["name"], "colour": c.get("colour"), "display": names[c["name"]]}
                    for c in project.label_map.get("classes", [])
                ]
            ),
            "lock_renew_ms": LOCK_RENEW_MS,
            "idle_after_ms": IDLE_AFTER_MS,
        },
    )
