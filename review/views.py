"""Adjuster pages: the review queue and the review screen.

Both are thin shells: they render a template, and the browser reads and writes everything
through the review API (docs/review-api.md). Only adjusters get them; anyone else signed in
gets a page saying why (403).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from assessment.selectors import label_classes, label_map_current
from claims.models import Claim
from claims.roles import Role, user_has_role
from review.queue_selectors import REASON_TITLES

# The review API's root (docs/review-api.md); the scripts build every endpoint from it.
REVIEW_API_ROOT = "/api/v1/review/"
# The screen renews its lock this often while the adjuster is active: well inside the
# server's lock expiry (CLAIMVISION_REVIEW_LOCK_MINUTES, 15 by default).
LOCK_RENEW_MS = 60_000
# Active time counts only while the tab is visible and the adjuster did something this recently.
IDLE_AFTER_MS = 60_000
# Filter choices on the queue: waiting at least this many hours.
AGE_FILTERS = [(1, "1 hour"), (4, "4 hours"), (24, "1 day"), (72, "3 days")]


def adjuster_required(view):
    """Signed-in adjusters only; anyone else signed in gets a page saying why (403)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_has_role(request.user, Role.ADJUSTER):
            return render(request, "review/not_adjuster.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _damage_types() -> list[dict]:
    """Types for the queue's filter (name and display name): the active model's label map,
    else the bundled model's."""
    return label_classes(label_map_current())


@adjuster_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "review/queue.html",
        {
            "api_root": REVIEW_API_ROOT,
            "damage_types": _damage_types(),
            "age_filters": AGE_FILTERS,
            # The same short titles the queue rows and the screen use for each reason code.
            "reason_titles": REASON_TITLES,
            # Senior adjusters also get the senior queue (contested claims) and its filter.
            "senior": user_has_role(request.user, Role.SENIOR_ADJUSTER),
        },
    )


@adjuster_required
def screen(request: HttpRequest, claim_id) -> HttpResponse:
    claim = Claim.objects.filter(pk=claim_id).only("id", "reference").first()
    if claim is None:
        return render(request, "review/not_found.html", status=404)
    return render(
        request,
        "review/screen.html",
        {
            "claim": claim,
            "api_root": REVIEW_API_ROOT,
            "lock_renew_ms": LOCK_RENEW_MS,
            "idle_after_ms": IDLE_AFTER_MS,
        },
    )
