"""The data team's export page (desktop): choose what to export, start it, follow it, download.

A thin shell like the review pages: the view renders the form's choices, and the browser starts,
lists and follows jobs through the export API (docs/exports.md), so the page and the API apply
the same rules, one member's jobs never shown to another included. Only data-team members get
it; anyone else signed in gets a page saying why (403).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from assessment.selectors import label_classes, label_map_current
from claims.roles import Role, user_has_role
from learning.export_selectors import export_model_versions, export_projects
from ml.label_export import FORMATS

# The page re-reads a queued or running job this often: a few seconds feels live for a job
# that takes seconds to minutes, and it is one indexed read per open page.
POLL_INTERVAL_MS = 2000
# What each format is, in the data team's words (docs/exports.md has the details).
FORMAT_CHOICES = {
    "coco": ("COCO", "instance segmentation, compressed RLE masks"),
    "voc": ("VOC PNG masks", "class and instance PNGs with a label map"),
    "yolo": ("YOLO", "segmentation polygons and data.yaml, for Ultralytics"),
    "labelstudio": ("Label Studio", "tasks with predictions and annotations, labelling config"),
    "csv": ("CSV", "one row per region and per override ledger entry"),
}
SPLIT_CHOICES = [("", "Both"), ("train", "Train only"), ("eval", "Eval only")]


def data_team_required(view):
    """Signed-in data-team members only; anyone else signed in gets a page saying why (403)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_has_role(request.user, Role.DATA_TEAM):
            is_adjuster = user_has_role(request.user, Role.ADJUSTER)
            return render(
                request,
                "learning/not_data_team.html",
                {"is_adjuster": is_adjuster},
                status=403,
            )
        return view(request, *args, **kwargs)

    return wrapper


@data_team_required
def export_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "learning/exports.html",
        {
            "api_root": reverse("api-exports"),
            "poll_interval_ms": POLL_INTERVAL_MS,
            "formats": [
                {"name": name, "title": FORMAT_CHOICES[name][0], "hint": FORMAT_CHOICES[name][1]}
                for name in FORMATS
            ],
            "splits": SPLIT_CHOICES,
            "damage_types": label_classes(label_map_current()),
            "model_versions": export_model_versions(),
            "projects": export_projects(user=request.user),
            "is_adjuster": user_has_role(request.user, Role.ADJUSTER),
        },
    )
