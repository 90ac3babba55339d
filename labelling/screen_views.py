"""The item screen's own JSON endpoints, beside the labelling API: its lock (take, renew,
release) and the queue's next item. Session-authenticated and CSRF-protected like any Django
form post; errors in the project's one shape ``{"error": {"code", "message", "details"}}``.

Labels, flags, skips and QA go through the API (``labelling.apis``); these two exist because
the API has no notion of an open screen.
"""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from config.errors import ApplicationError
from labelling import locks, selectors
from labelling.apis import IsLabellingUser
from labelling.models import ItemLock

# The bodies here are a purpose and an id or two: anything bigger is not from the screen.
MAX_BODY_BYTES = 4096
ERR_BODY = "Send a small JSON object."
ERR_SIGN_IN = "Your session has ended. Sign in again to continue."
ERR_CUSTOMER = "Customer accounts cannot use labelling projects."
DIRECTIONS = ("next", "forward", "back")


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
        status=exc.status_code,
    )


def _body(request: HttpRequest) -> dict:
    if request.content_type != "application/json":
        return request.POST.dict()
    if len(request.body) > MAX_BODY_BYTES:
        raise ApplicationError(ERR_BODY, code="invalid_request")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise ApplicationError(ERR_BODY, code="invalid_request") from None
    if not isinstance(data, dict):
        raise ApplicationError(ERR_BODY, code="invalid_request")
    return data


def _purpose(value) -> str:
    return ItemLock.Purpose.QA if value == "qa" else ItemLock.Purpose.LABEL


def _status(status: int, message: str = ERR_SIGN_IN) -> JsonResponse:
    code = "not_authenticated" if status == 401 else "permission_denied"
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


@require_http_methods(["POST", "DELETE"])
def item_lock(request: HttpRequest, project_id, item_id) -> JsonResponse:
    """POST ``{"purpose": "label" | "qa"}`` takes or renews the caller's lock (409
    ``item_locked`` while someone else holds it); DELETE gives it back."""
    if not request.user.is_authenticated:
        return _status(401)
    if not IsLabellingUser().has_permission(request, None):
        return _status(403, ERR_CUSTOMER)
    try:
        project = selectors.project_get(user=request.user, project_id=project_id)
        item = selectors.item_get(project=project, item_id=item_id)
        if request.method == "DELETE":
            locks.item_lock_release(item=item, user=request.user)
            return JsonResponse({"released": True})
        lock = locks.item_lock_take(
            item=item, user=request.user, purpose=_purpose(_body(request).get("purpose"))
        )
    except ApplicationError as exc:
        return _error(exc)
    return JsonResponse(
        {
            "purpose": lock.purpose,
            "expires_at": lock.expires_at.isoformat(),
            "user": lock.user.get_username(),
        }
    )


@require_http_methods(["POST"])
def queue_next(request: HttpRequest, project_id) -> HttpResponse:
    """Take the next item of the caller's queue and go there.

    Body (form or JSON): ``mode`` "label" | "qa", ``current`` (the item on screen, released and
    never returned), ``direction`` "next" | "forward" | "back" (see ``locks.queue_take``).
    A form post is redirected (303) to the item, or to the project page with ``?empty=<mode>``;
    a JSON post gets ``{"url", "item_id"}`` (``item_id`` null when the queue is empty).
    """
    wants_json = request.content_type == "application/json"
    if not request.user.is_authenticated:
        return _status(401) if wants_json else redirect(f"{reverse('login')}?next={request.path}")
    if not IsLabellingUser().has_permission(request, None):
        return _status(403, ERR_CUSTOMER)
    try:
        project = selectors.project_get(user=request.user, project_id=project_id)
        data = _body(request)
        mode = "qa" if data.get("mode") == "qa" else "label"
        direction = data.get("direction") if data.get("direction") in DIRECTIONS else "next"
        current = None
        if data.get("current"):
            current = selectors.item_get(project=project, item_id=data["current"])
        found = locks.queue_take(
            project=project,
            user=request.user,
            purpose=_purpose(mode),
            current=current,
            direction=direction,
        )
    except ApplicationError as exc:
        if wants_json:
            return _error(exc)
        template = (
            "labelling/not_found.html" if exc.status_code == 404 else "labelling/forbidden.html"
        )
        return render(request, template, {"message": exc.message}, status=exc.status_code)
    if found is None:
        url = reverse("labelling-project", kwargs={"project_id": project.pk}) + f"?empty={mode}"
    else:
        name = "labelling-qa-item" if mode == "qa" else "labelling-item"
        url = reverse(name, kwargs={"project_id": project.pk, "item_id": found.pk})
    if wants_json:
        return JsonResponse({"url": url, "item_id": str(found.pk) if found else None})
    response = HttpResponse(status=303)  # See Other: the browser GETs the page
    response["Location"] = url
    return response
