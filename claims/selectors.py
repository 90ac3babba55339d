"""Reads for claims, always scoped to the asking user: another customer's claim is a 404."""

import uuid

from django.db.models import QuerySet

from claims.models import ApiToken, Claim, Photo
from config.errors import NotFoundError

ERR_CLAIM_NOT_FOUND = "No claim with that id."
ERR_PHOTO_NOT_FOUND = "No photo with that id on this claim."


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


def api_token_get(*, key: str) -> ApiToken | None:
    """The live token with this key (compared by hash), with its user; None if unknown."""
    from claims.services import api_token_hash

    return ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
