"""Customer pages (mobile web). They are thin: they render templates, and the browser talks to
the REST API for every write to a claim. Only registration and sign-in post to Django itself."""

from functools import wraps

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from claims import selectors, services
from claims.apis import ClaimOutputSerializer
from claims.forms import LoginForm, RegisterForm
from claims.models import Claim
from claims.roles import Role, user_has_role
from config.errors import ApplicationError, NotFoundError

# The status page re-reads the claim this often while workers are on it: a few seconds feels
# live to a waiting customer and is one indexed read per open page.
POLL_INTERVAL_MS = 3000
POLLING_STATUSES = [Claim.Status.SUBMITTED.value, Claim.Status.ASSESSING.value]

# The timeline a customer sees. It depends on the status and on whether the claim was decided
# automatically before a person took it over (contested): earlier steps stay visible as done.
# Status names are strings, not ``Claim.Status`` members, so a status another app adds (such
# as ``more_photos_requested``) gets a timeline without this module importing it.
STEP_LABELS = {
    "draft": _("Draft"),
    "submitted": _("Submitted"),
    "assessing": _("Being assessed"),
    "auto_decided": _("Decided automatically"),
    "in_review": _("With an adjuster"),
    "more_photos_requested": _("More photos needed"),
    "decided": _("Decided"),
}
_INTAKE = ["draft", "submitted", "assessing"]
MORE_PHOTOS_REQUESTED = "more_photos_requested"
# What each status means to the customer, on the status page (and to its poller).
STATUS_EXPLANATIONS = {
    Claim.Status.DRAFT: _("This claim has not been submitted yet."),
    Claim.Status.SUBMITTED: _(
        "We have your claim and photos. The assessment starts shortly; this page updates by itself."
    ),
    Claim.Status.ASSESSING: _(
        "We are assessing the damage in your photos. This page updates by itself."
    ),
    Claim.Status.IN_REVIEW: _(
        "An adjuster is looking at your claim. We will let you know the outcome."
    ),
    Claim.Status.AUTO_DECIDED: _(
        "Your claim has been decided automatically. If you disagree, you can ask for a person "
        "to review it."
    ),
    Claim.Status.DECIDED: _(
        "Your claim has been decided. If you disagree or have a question, you can ask for it to "
        "be looked at again."
    ),
    MORE_PHOTOS_REQUESTED: _(
        "An adjuster needs more photos before deciding. Add them and submit the claim again."
    ),
}
# Outcomes that put a claim in ``auto_decided`` (assessment.models.Decision.Outcome).
AUTOMATIC_OUTCOMES = ("auto_approved", "no_damage")


def _staff_areas(user) -> list[tuple[str, str]]:
    """(URL, link text) of the areas a staff account does have: its way out of a customer
    page. The admin site only for accounts that may use it."""
    areas = []
    if user_has_role(user, Role.ADJUSTER):
        areas.append((reverse("review-queue"), _("Go to the review queue")))
    if user_has_role(user, Role.DATA_TEAM):
        areas.append((reverse("data-exports"), _("Go to your label exports")))
    if user.is_staff:
        areas.append((reverse("admin:index"), _("Go to the administration site")))
    return areas


def customer_required(view):
    """Signed-in customers only; anyone else signed in gets a page saying why (403)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not user_has_role(request.user, Role.CUSTOMER):
            return render(
                request,
                "claims/not_customer.html",
                {"staff_areas": _staff_areas(request.user)},
                status=403,
            )
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
    """Sign-in with limits per account and per address (claims.login_limits)."""

    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form) -> HttpResponse:
        # The account's saved language follows the person onto this device, past sign-out.
        response = super().form_valid(form)
        language = selectors.user_language_get(user=form.get_user())
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
            )
        return response

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked:
            response.status_code = 429
        return response


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        # Every problem at once: the form's own checks and the account rules, per field.
        form.is_valid()
        for field, messages in selectors.user_registration_problems(
            username=form.cleaned_data.get("username") or form.data.get("username", ""),
            email=form.cleaned_data.get("email", ""),
            password=form.data.get("password", ""),
        ).items():
            if field not in form.errors:
                for message in messages:
                    form.add_error(field, message)
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
            elif exc.code in ("username_taken", "username_invalid", "username_confusable"):
                form.add_error("username", exc.message)
            else:
                form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "registration/register.html", {"form": form})


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie, redirect back), and for a signed-in person the account's
    saved choice too, so it follows them to other devices and after signing out and in."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.user_language_set(user=request.user, language=language)
    return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    # Where sign-in lands (LOGIN_REDIRECT_URL): staff who signed in on this (the customers')
    # sign-in page go to their own area, adjusters to the review queue, the data team to
    # their exports.
    if not user_has_role(request.user, Role.CUSTOMER):
        if user_has_role(request.user, Role.ADJUSTER):
            return redirect("review-queue")
        if user_has_role(request.user, Role.DATA_TEAM):
            return redirect("data-exports")
    return _customer_home(request)


@customer_required
def _customer_home(request: HttpRequest) -> HttpResponse:
    claims = selectors.claim_list_for_owner(owner=request.user)
    return render(request, "claims/home.html", {"claims": claims})


@customer_required
def claim_new(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(request, "claims/claim_new.html", {"today": today, "max_year": today.year + 1})


# A draft, or a claim whose adjuster asked for more photos: the customer may add photos.
EDITABLE_STATUSES = {Claim.Status.DRAFT, Claim.Status.MORE_PHOTOS_REQUESTED}


@customer_required
def claim_photos(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(request, claim_id)
    if isinstance(claim, HttpResponse):
        return claim
    if claim.status not in EDITABLE_STATUSES:
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
    if claim.status not in EDITABLE_STATUSES:
        return redirect("claim-status", claim_id=claim.pk)
    return render(request, "claims/claim_review.html", {"claim": claim})


@customer_required
def claim_status(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(request, claim_id)
    if isinstance(claim, HttpResponse):
        return claim
    after_auto = _was_decided_automatically(claim)
    return render(
        request,
        "claims/claim_status.html",
        {
            "claim": claim,
            "claim_data": ClaimOutputSerializer(claim).data,
            "steps": timeline_steps(claim.status, after_auto=after_auto),
            "timelines": {
                "after_auto": after_auto,
                "plain": {s: timeline_steps(s, after_auto=False) for s in STEP_LABELS},
                "auto": {s: timeline_steps(s, after_auto=True) for s in STEP_LABELS},
            },
            "polling": claim.status in POLLING_STATUSES,
            "polling_statuses": POLLING_STATUSES,
            "poll_interval_ms": POLL_INTERVAL_MS,
            "explanation": STATUS_EXPLANATIONS.get(claim.status, ""),
            "explanations": {str(k): v for k, v in STATUS_EXPLANATIONS.items()},
            "photos_url": reverse("claim-photos", kwargs={"claim_id": claim.pk}),
        },
    )


def timeline_steps(status: str, *, after_auto: bool = False) -> list[dict]:
    """The steps shown for ``status``: intake, then the decision path the claim took.

    Before a decision the last step is a plain "Decided". An automatic decision ends the
    timeline unless the customer contests it; a person's review adds "With an adjuster" (and
    "More photos needed" while the adjuster waits for photos) before "Decided".
    """
    status = str(status)
    if status in _INTAKE or status not in STEP_LABELS:
        keys = [*_INTAKE, "decided"]
        # A status this page does not know yet comes after intake: show it as being worked on.
        current = keys.index(status) if status in _INTAKE else len(_INTAKE) - 1
    elif status == "auto_decided":
        keys = [*_INTAKE, "auto_decided"]
        current = len(keys) - 1
    else:
        keys = [*_INTAKE, *(["auto_decided"] if after_auto else []), "in_review"]
        if status == MORE_PHOTOS_REQUESTED:
            keys.append(MORE_PHOTOS_REQUESTED)
        keys.append("decided")
        current = keys.index(status)
    return [
        {"key": key, "label": STEP_LABELS[key], "state": _step_state(index, current)}
        for index, key in enumerate(keys)
    ]


def _was_decided_automatically(claim: Claim) -> bool:
    """Whether the claim had an automatic decision before a person took it over."""
    if claim.status == Claim.Status.AUTO_DECIDED:
        return False  # it is the current step, not history
    return claim.decisions.filter(automatic=True, outcome__in=AUTOMATIC_OUTCOMES).exists()


def _step_state(index: int, current: int) -> str:
    if index < current:
        return "done"
    return "current" if index == current else "todo"
