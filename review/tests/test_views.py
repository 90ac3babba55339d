"""The adjuster pages: where an adjuster lands after signing in."""

import pytest
from django.urls import reverse

from claims.tests.factories import AdjusterFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-pass-42"


def test_sign_in_as_adjuster_on_the_customer_sign_in_page_lands_on_the_queue(client):
    # given: an adjuster using the one sign-in page (the customers')
    adjuster = AdjusterFactory()
    adjuster.set_password(PASSWORD)
    adjuster.save()

    # when
    response = client.post(
        reverse("login"), {"username": adjuster.username, "password": PASSWORD}, follow=True
    )

    # then: the review queue, not the customers' "these pages are for customers" page
    assert response.redirect_chain[-1][0] == reverse("review-queue")
    assert response.status_code == 200
    assert "review/queue.html" in [t.name for t in response.templates]


def test_adjuster_opening_the_customer_home_is_sent_to_the_queue(client):
    client.force_login(AdjusterFactory())

    response = client.get(reverse("home"))

    assert (response.status_code, response.url) == (302, reverse("review-queue"))
