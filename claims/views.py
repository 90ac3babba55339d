"""Customer pages (mobile web). They are thin: they render templates, and the browser talks to
the REST API for every write to a claim. Only registration and sign-in post to Django itself."""

from functools import wraps

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from claims import selectors, services
from claims.apis import ClaimOutputSerializer
from claims.forms import RegisterForm
from claims.models import Claim
from claims.roles import Role, user_has_role
from config.errors import ApplicationError, NotFoundError

# The status page re-reads the claim this often while workers are on it: a few seconds feels
# live to a waiting customer and is one indexed read per open page.
POLL_INTERVAL_MS = 3000
POLLING_STATUSES = [Claim.Status.SUBMITTED.value, Claim.Status.ASSESSING.value]

# The timeline a customer sees; later states fold into the step they belong to.
TIMELINE = [
    ("draft", "Draft"),
    ("submitted", "Submitted"),
    ("assessing", "Being assessed"),
    ("decided", "Decided"),
]
TIMELINE_STEP = {
    Claim.Status.DRAFT: 0,
    Claim.Status.SUBMITTED: 1,
    Claim.Status.ASSESSING: 2,
    Claim.Status.IN_REVIEW: 2,
    Claim.Status.AUTO_DECIDED: 3,
    Claim.Status.DECIDED: 3,
}
# What each status means to the customer, on the status page (and to its poller).
STATUS_EXPLANATIONS = {
    Claim.Status.DRAFT: "This claim has not been submitted yet.",
    Claim.Status.SUBMITTED: (
        "We have your claim and photos. The assessment starts shortly; this page updates by itself."
    ),
    Claim.Status.ASSESSING: (
        "We are assessing the damage in your photos. This page updates by itself."
    ),
    Claim.Status.IN_REVIEW: (
        "An adjuster is looking at your claim. We will let you know the outcome."
    ),
    Claim.Status.AUTO_DECIDED: "Your claim has been decided automatically.",
    Claim.Status.DECIDED: "Your claim has been decided.",
}


def customer_required(view):
    """Signed-in customers only; anyone else signed in gets a page saying why (403)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_has_role(request.user, Role.CUSTOMER):
            return render(request, "claims/not_customer.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _claim_or_404(request: HttpRequest, claim_id) -> Claim | HttpResponse:
    """The caller's own claim, or the not-found page: another customer's claim does not exist."""
    try:
        return selectors.claim_get_for_owner(owner=request.user, claim_id=claim_id)
    except NotFoundError:
        return render(request, "claims/not_found.html", status=404)


def _upload_context() -> dict:
    return {
        "max_photos": settings.CLAIMVISION_MAX_PHOTOS_PER_CLAIM,
        "max_upload_bytes": settings.CLAIMVISION_MAX_UPLOAD_BYTES,
        "max_upload_mb": settings.CLAIMVISION_MAX_UPLOAD_BYTES // (1024 * 1024),
    }


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ApplicationError as exc:
            if exc.code == "weak_password":
                for message in exc.details.get("password", [exc.message]):
                    form.add_error("password", message)
            elif exc.code == "username_taken":
                form.add_error("username", exc.message)
            else:
                form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "registration/register.html", {"form": form})


@customer_required
def home(request: HttpRequest) -> HttpResponse:
    claims = selectors.claim_list_for_owner(owner=request.user)
    return render(request, "claims/home.html", {"claims": claims})


@customer_required
def claim_new(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(request, "claims/claim_new.html", {"today": today, "max_year": today.year + 1})


@customer_required
def claim_photos(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(request, claim_id)
    if isinstance(claim, HttpResponse):
        return claim
    if claim.status != Claim.Status.DRAFT:
        return redirect("claim-status", claim_id=claim.pk)
    return render(
        request,
        "claims/claim_photos.html",
        {"claim": claim, "claim_data": ClaimOutputSerializer(claim).data, **_upload_context()},
    )


@customer_required
def claim_review(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(request, claim_id)
    if isinstance(claim, HttpResponse):
        return claim
    if claim.status != Claim.Status.DRAFT:
        return redirect("claim-status", claim_id=claim.pk)
    return render(request, "claims/claim_review.html", {"claim": claim})


@customer_required
def claim_status(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(request, claim_id)
    if isinstance(claim, HttpResponse):
        return claim
    current = TIMELINE_STEP.get(claim.status, 0)
    steps = [
        {"key": key, "label": label, "state": _step_state(index, current)}
        for index, (key, label) in enumerate(TIMELINE)
    ]
    return render(
        request,
        "claims/claim_status.html",
        {
            "claim": claim,
            "steps": steps,
            "timeline_step": {str(k): v for k, v in TIMELINE_STEP.items()},
            "polling": claim.status in POLLING_STATUSES,
            "polling_statuses": POLLING_STATUSES,
            "poll_interval_ms": POLL_INTERVAL_MS,
            "explanation": STATUS_EXPLANATIONS.get(claim.status, ""),
            "explanations": {str(k): v for k, v in STATUS_EXPLANATIONS.items()},
        },
    )


def _step_state(index: int, current: int) -> str:
    if index < current:
        return "done"
    return "current" if index == current else "todo"
