"""Unit tests for the claims selectors: every read is scoped to its owner."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from claims import selectors
from claims.models import Claim
from claims.tests.factories import ClaimFactory, PhotoFactory
from config.errors import NotFoundError

pytestmark = pytest.mark.django_db


def test_claim_list_for_owner_returns_only_their_claims_newest_first(customer, other_customer):
    older = ClaimFactory(owner=customer)
    newer = ClaimFactory(owner=customer)
    Claim.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    ClaimFactory(owner=other_customer)

    claims = list(selectors.claim_list_for_owner(owner=customer))

    assert claims == [newer, older]


def test_claim_get_for_owner_returns_the_claim(claim):
    assert selectors.claim_get_for_owner(owner=claim.owner, claim_id=str(claim.pk)) == claim


@pytest.mark.parametrize("claim_id", ["not-a-uuid", "", str(uuid.uuid4())])
def test_claim_get_for_owner_raises_not_found_for_unknown_ids(customer, claim_id):
    with pytest.raises(NotFoundError) as exc:
        selectors.claim_get_for_owner(owner=customer, claim_id=claim_id)

    assert exc.value.code == "not_found"
    assert exc.value.message == selectors.ERR_CLAIM_NOT_FOUND


def test_claim_get_for_owner_hides_another_customers_claim(claim, other_customer):
    with pytest.raises(NotFoundError) as exc:
        selectors.claim_get_for_owner(owner=other_customer, claim_id=claim.pk)

    assert exc.value.message == selectors.ERR_CLAIM_NOT_FOUND


def test_photo_get_for_owner_returns_the_photo(photo):
    found = selectors.photo_get_for_owner(
        owner=photo.claim.owner, claim_id=str(photo.claim_id), photo_id=str(photo.pk)
    )

    assert found == photo


def test_photo_get_for_owner_hides_another_customers_photo(photo, other_customer):
    with pytest.raises(NotFoundError) as exc:
        selectors.photo_get_for_owner(
            owner=other_customer, claim_id=photo.claim_id, photo_id=photo.pk
        )

    assert exc.value.message == selectors.ERR_PHOTO_NOT_FOUND


def test_photo_get_for_owner_requires_the_photo_to_belong_to_the_claim(photo):
    sibling_claim = ClaimFactory(owner=photo.claim.owner)

    with pytest.raises(NotFoundError):
        selectors.photo_get_for_owner(
            owner=photo.claim.owner, claim_id=sibling_claim.pk, photo_id=photo.pk
        )


@pytest.mark.parametrize("photo_id", ["../", "12", ""])
def test_photo_get_for_owner_raises_not_found_for_malformed_ids(claim, photo_id):
    PhotoFactory(claim=claim)

    with pytest.raises(NotFoundError):
        selectors.photo_get_for_owner(owner=claim.owner, claim_id=claim.pk, photo_id=photo_id)
