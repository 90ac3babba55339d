"""The labelling pages and the item screen's endpoints (labelling.views, labelling.screen_views)
with a signed-in browser session: permissions, the queue and its locks, QA through the
endpoints the screen calls, and pre-labels that a from-scratch item must never show."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from claims.tests.factories import UserFactory, jpeg_bytes
from labelling import locks, services
from labelling.models import ItemLock, ProjectItem, ProjectMember, QAReview
from labelling.tests.factories import MemberFactory, ProjectFactory, item_make, region_in
from labelling.tests.test_time_saved import _predicted

S = ProjectItem.Status


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post_json(client, url, body=None, method="post"):
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


def item_url(item, name="labelling-item"):
    return reverse(name, kwargs={"project_id": item.project_id, "item_id": item.pk})


def api_item(item):
    return f"/api/v1/labelling/projects/{item.project_id}/items/{item.pk}/"


def next_url(project):
    return reverse("labelling-queue-next", kwargs={"project_id": project.pk})


@pytest.fixture
def items(project):
    return [item_make(project, name=f"p{n}.jpg", data=jpeg_bytes(seed=n)) for n in range(3)]


def _prelabel_all(items, model_version):
    for item in items:
        _predicted(item, model_version, [(10, 10, 20, 12)])


# --------------------------------------------------------------------------- permissions


def test_project_list_shows_only_the_users_projects(project, labeller, data_team_member):
    other = ProjectFactory(created_by=data_team_member, name="Not yours")

    response = client_for(labeller).get(reverse("labelling-projects"))

    assert response.status_code == 200
    assert project.name in response.content.decode()
    assert other.name not in response.content.decode()


def test_project_pages_of_a_non_member_are_404(project, items, outsider):
    client = client_for(outsider)
    item = items[0]

    assert client.get(reverse("labelling-project", args=[project.pk])).status_code == 404
    assert client.get(item_url(item)).status_code == 404
    assert client.get(item_url(item, "labelling-qa-item")).status_code == 404
    lock = reverse("labelling-item-lock", kwargs={"project_id": project.pk, "item_id": item.pk})
    response = post_json(client, lock, {"purpose": "label"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert post_json(client, next_url(project), {"mode": "label"}).status_code == 404
    assert not ItemLock.objects.exists()


def test_labelling_pages_are_403_for_a_customer(project, items, customer):
    client = client_for(customer)

    response = client.get(reverse("labelling-projects"))
    assert response.status_code == 403
    assert "customer account" in response.content.decode()
    assert client.get(reverse("labelling-project", args=[project.pk])).status_code == 403
    assert client.get(item_url(items[0])).status_code == 403
    response = post_json(client, next_url(project), {"mode": "label"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_labeller_who_is_not_a_reviewer_cannot_qa(project, items, labeller):
    client = client_for(labeller)

    response = client.get(item_url(items[0], "labelling-qa-item"))
    assert response.status_code == 403
    assert "not a reviewer" in response.content.decode()
    response = post_json(client, next_url(project), {"mode": "qa"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == services.ERR_NOT_REVIEWER
    lock = reverse("labelling-item-lock", kwargs={"project_id": project.pk, "item_id": items[0].pk})
    assert post_json(client, lock, {"purpose": "qa"}).status_code == 403


def test_pages_ask_for_a_sign_in(project):
    response = Client().get(reverse("labelling-project", args=[project.pk]))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_lock_endpoint_is_csrf_protected(project, items, labeller):
    client = client_for(labeller, enforce_csrf_checks=True)
    lock = reverse("labelling-item-lock", kwargs={"project_id": project.pk, "item_id": items[0].pk})

    assert post_json(client, lock, {"purpose": "label"}).status_code == 403
    assert not ItemLock.objects.exists()


# --------------------------------------------------------------------------- hidden pre-labels


def test_a_from_scratch_item_shows_no_prelabels_in_the_page_or_its_json(
    project, items, labeller, reviewer, model_version
):
    # given: an item with the model's regions, drawn to be labelled from scratch
    item = items[0]
    prediction = _predicted(item, model_version, [(10, 10, 20, 12)])
    ProjectItem.objects.filter(pk=item.pk).update(show_prelabels=False)
    counts = prediction.regions[0]["mask_rle"]["counts"]
    client = client_for(labeller)

    # when / then: neither the screen nor its JSON carries the prediction
    page = client.get(item_url(item)).content.decode()
    assert counts not in page and "mask_rle" not in page
    detail = client.get(api_item(item))
    assert detail.status_code == 200
    assert detail.json()["prediction"] is None
    assert counts not in detail.content.decode()
    assert "0.9" not in json.dumps(detail.json().get("labels"))
    # and: the labels saved from scratch are "added", with no pre-label to point at
    response = post_json(
        client,
        api_item(item) + "labels/",
        {"base_version": 0, "regions": [region_in(item, source_index=0)], "submit": True},
        method="put",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_region"
    # the reviewer's view of it carries no prediction either
    ProjectItem.objects.filter(pk=item.pk).update(status=S.IN_QA)
    assert client_for(reviewer).get(api_item(item)).json()["prediction"] is None


def test_a_prelabelled_item_gets_its_prediction_from_the_json_only(
    project, items, labeller, model_version
):
    item = items[0]
    prediction = _predicted(item, model_version, [(10, 10, 20, 12)])
    client = client_for(labeller)

    page = client.get(item_url(item)).content.decode()
    detail = client.get(api_item(item)).json()

    assert prediction.regions[0]["mask_rle"]["counts"] not in page
    assert detail["prediction"]["regions"][0]["index"] == 0


# --------------------------------------------------------------------------- queue and locks


def test_queue_next_hands_two_labellers_different_items(project, items, labeller, model_version):
    _prelabel_all(items, model_version)
    second = UserFactory(username="leo")
    MemberFactory(project=project, user=second, role=ProjectMember.Role.LABELLER)

    first_pick = post_json(client_for(labeller), next_url(project), {"mode": "label"}).json()
    second_pick = post_json(client_for(second), next_url(project), {"mode": "label"}).json()

    assert first_pick["item_id"] == str(items[0].pk)
    assert second_pick["item_id"] == str(items[1].pk)
    assert ItemLock.objects.get(item=items[0]).user == labeller
    lock = reverse("labelling-item-lock", kwargs={"project_id": project.pk, "item_id": items[0].pk})
    response = post_json(client_for(second), lock, {"purpose": "label"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "item_locked"
    assert "lena" in response.json()["error"]["message"]


def test_queue_next_walks_forward_and_back_and_releases_the_current_item(
    project, items, labeller, model_version
):
    _prelabel_all(items, model_version)
    client = client_for(labeller)

    forward = post_json(
        client,
        next_url(project),
        {"mode": "label", "current": str(items[0].pk), "direction": "forward"},
    ).json()
    back = post_json(
        client,
        next_url(project),
        {"mode": "label", "current": forward["item_id"], "direction": "back"},
    ).json()
    first = post_json(
        client,
        next_url(project),
        {"mode": "label", "current": str(items[0].pk), "direction": "back"},
    ).json()

    assert forward["item_id"] == str(items[1].pk)
    assert forward["url"] == item_url(items[1])
    assert back["item_id"] == str(items[0].pk)
    assert first["item_id"] is None  # nothing before the first item
    assert not ItemLock.objects.filter(item=items[1]).exists()


def test_queue_next_form_redirects_to_the_item_then_to_the_project_when_empty(
    project, items, labeller, model_version
):
    _prelabel_all(items[:1], model_version)  # the others wait for pre-labels: not offered
    client = client_for(labeller)

    response = client.post(next_url(project), {"mode": "label"})
    assert response.status_code == 303
    assert response["Location"] == item_url(items[0])

    response = client.post(next_url(project), {"mode": "label", "current": str(items[0].pk)})
    assert response.status_code == 303
    assert response["Location"].endswith(f"/labelling/{project.pk}/?empty=label")
    page = client.get(response["Location"]).content.decode()
    assert "Nothing is waiting for you to label" in page


def test_a_lapsed_lock_is_taken_over(project, items, labeller, reviewer):
    from datetime import timedelta

    from django.utils import timezone

    second = UserFactory(username="leo")
    MemberFactory(project=project, user=second, role=ProjectMember.Role.LABELLER)
    past = timezone.now() - timedelta(minutes=locks.LOCK_MINUTES + 1)
    locks.item_lock_take(item=items[0], user=labeller, purpose="label", now=past)

    lock = locks.item_lock_take(item=items[0], user=second, purpose="label")

    assert lock.user == second and ItemLock.objects.count() == 1


# --------------------------------------------------------------------------- QA


def _submitted(project, labeller, item):
    project.qa_share = 1.0
    project.save()
    client = client_for(labeller)
    response = post_json(
        client,
        api_item(item) + "labels/",
        {"base_version": 0, "regions": [region_in(item)], "active_ms": 12_000, "submit": True},
        method="put",
    )
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert item.status == S.IN_QA
    return client


def test_qa_accept_through_the_screen_endpoints(project, items, labeller, reviewer):
    # given: a labeller submitted an item, drawn for QA
    item = items[0]
    _submitted(project, labeller, item)
    client = client_for(reviewer)

    # when: the reviewer starts QA from the project page and accepts with a correction
    picked = post_json(client, next_url(project), {"mode": "qa"}).json()
    assert picked["url"] == item_url(item, "labelling-qa-item")
    assert client.get(picked["url"]).status_code == 200
    response = post_json(
        client,
        api_item(item) + "qa/",
        {"outcome": "accepted", "regions": [region_in(item, box=(10, 10, 20, 30))]},
    )

    # then: accepted, agreement recorded and shown per labeller and per class
    assert response.status_code == 201, response.content
    item.refresh_from_db()
    assert item.status == S.ACCEPTED
    review = QAReview.objects.get(item=item)
    assert review.mean_iou == pytest.approx(0.5)  # 20x30 of 40x30
    page = client.get(reverse("labelling-project", args=[project.pk])).content.decode()
    assert "QA agreement by labeller" in page
    assert '<th scope="row">lena</th><td class="num">1</td><td class="num">1</td>' in page
    assert "0.50" in page
    # and: nothing is left in the reviewer's queue
    assert post_json(client, next_url(project), {"mode": "qa"}).json()["item_id"] is None


def test_qa_send_back_needs_a_note_and_returns_the_item_first_to_its_labeller(
    project, items, labeller, reviewer, model_version
):
    _prelabel_all(items[1:], model_version)
    item = items[0]
    labeller_client = _submitted(project, labeller, item)
    client = client_for(reviewer)

    refused = post_json(client, api_item(item) + "qa/", {"outcome": "sent_back"})
    sent = post_json(
        client, api_item(item) + "qa/", {"outcome": "sent_back", "note": "Dent is larger"}
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "note_required"
    assert sent.status_code == 201
    item.refresh_from_db()
    assert item.status == S.SENT_BACK
    picked = post_json(labeller_client, next_url(project), {"mode": "label"}).json()
    assert picked["item_id"] == str(item.pk)  # before the pre-labelled ones
    page = labeller_client.get(picked["url"]).content.decode()
    assert "Sent back by rui" in page and "Dent is larger" in page


def test_a_reviewer_is_not_offered_their_own_labels(project, items, model_version):
    both = UserFactory(username="bo")
    MemberFactory(project=project, user=both, role=ProjectMember.Role.LABELLER)
    MemberFactory(project=project, user=both, role=ProjectMember.Role.REVIEWER)
    _submitted(project, both, items[0])

    picked = post_json(client_for(both), next_url(project), {"mode": "qa"}).json()

    assert picked["item_id"] is None


def test_project_page_shows_progress_and_time_saved(project, items, labeller, model_version):
    client = client_for(labeller)  # the three items wait for their pre-labels

    page = client.get(reverse("labelling-project", args=[project.pk])).content.decode()

    assert "Time saved by pre-labels" in page
    assert (
        'id="progress"' in page
        and '<th scope="row">Pre-labelling</th><td class="num">3</td>' in page
    )
    assert "All items" in page
