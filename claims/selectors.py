"""Reads for claims, always scoped to the asking user: another customer's claim is a 404."""

import uuid

from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from claims.models import AccountPreference, ApiToken, Claim, Photo
from config.errors import NotFoundError

ERR_CLAIM_NOT_FOUND = _("No claim with that id.")
ERR_PHOTO_NOT_FOUND = _("No photo with that id on this claim.")


def claim_list_for_owner(*, owner) -> QuerySet[Claim]:
    return Claim.objects.filter(owner=owner).prefetch_related("photos").order_by("-created_at")


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def claim_get_for_owner(*, owner, claim_id) -> Claim:
    claim_id = _as_uuid(claim_id)
    if claim_id is None:
        raise NotFoundError(ERR_CLAIM_NOT_FOUND)
    claim = claim_list_for_owner(owner=owner).filter(pk=claim_id).first()
    if claim is None:
        raise NotFoundError(ERR_CLAIM_NOT_FOUND)
    return claim


def photo_get_for_owner(*, owner, claim_id, photo_id) -> Photo:
    claim_id, photo_id = _as_uuid(claim_id), _as_uuid(photo_id)
    if claim_id is None or photo_id is None:
        raise NotFoundError(ERR_PHOTO_NOT_FOUND)
    photo = (
        Photo.objects.select_related("claim")
        .filter(pk=photo_id, claim_id=claim_id, claim__owner=owner)
        .first()
    )
    if photo is None:
        raise NotFoundError(ERR_PHOTO_NOT_FOUND)
    return photo


def user_registration_problems(*, username: str, email: str, password: str) -> dict[str, list]:
    """Every reason a registration would be refused, by field, at once: the name's form and
    look-alike letters, a taken name, and each of Django's password rules (the same checks as
    ``claims.services.user_register``, which still decides). The page shows them all in one
    go instead of one per attempt."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from claims.services import ERR_USERNAME_TAKEN, username_normalise
    from config.errors import ApplicationError

    User = get_user_model()
    problems: dict[str, list] = {}
    name = None
    if username:
        try:
            name = username_normalise(username)
        except ApplicationError as exc:
            problems["username"] = [exc.message]
    if name and User.objects.filter(username__iexact=name).exists():
        problems["username"] = [ERR_USERNAME_TAKEN]
    if password:
        try:
            validate_password(password, user=User(username=name or username or "", email=email))
        except ValidationError as exc:
            problems["password"] = list(exc.messages)
    return problems


def api_token_get(*, key: str) -> ApiToken | None:
    """The live token with this key (compared by hash), with its user; None if unknown."""
    from claims.services import api_token_hash

    return ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()


def user_language_get(*, user) -> str | None:
    """The language the account chose (claims.services.user_language_set), or None: follow the
    browser. One primary-key read per signed-in request (claims.i18n.AccountLanguageMiddleware)."""
    language = (
        AccountPreference.objects.filter(user=user).values_list("language", flat=True).first()
    )
    return language or None


def claim_status_counts() -> dict[str, int]:
    """Claims in each status, every status present (0 when none): one GROUP BY on the status
    index, cheap enough for each metrics scrape (``in_review`` is the review queue's depth)."""
    counts = dict.fromkeys(Claim.Status.values, 0)
    for row in Claim.objects.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts
