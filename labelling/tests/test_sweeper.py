"""The sweeper of items stuck in pre-labelling: a stuck item is sent again, a fresh one is not,
and an item sent too often without an outcome is left to be labelled without pre-labels."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from labelling import services, tasks
from labelling.models import ProjectItem
from labelling.tests.factories import item_make

pytestmark = pytest.mark.django_db

S = ProjectItem.Status


def waiting_since(project, minutes: float, **fields) -> ProjectItem:
    """An imported item still in ``prelabelling``, last moved ``minutes`` ago."""
    item = item_make(project)
    at = timezone.now() - timedelta(minutes=minutes)
    ProjectItem.objects.filter(pk=item.pk).update(updated_at=at, **fields)
    return ProjectItem.objects.get(pk=item.pk)


def test_items_sweep_stuck_resends_only_stuck_items(
    project, settings, prelabel_sent, django_capture_on_commit_callbacks
):
    # given: one item waiting past the limit, one in time, one stuck but already pre-labelled
    settings.CLAIMVISION_PRELABEL_STUCK_MINUTES = 15
    stuck = waiting_since(project, 20)
    waiting_since(project, 5)
    waiting_since(project, 60, status=S.PRELABELLED)
    now = timezone.now()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        swept = services.items_sweep_stuck(now=now)

    # then: sent once more, its clock restarted and the send counted
    assert swept == {"resent": [str(stuck.pk)], "gave_up": []}
    assert prelabel_sent == [str(stuck.pk)]
    stuck.refresh_from_db()
    assert stuck.status == S.PRELABELLING
    assert stuck.prelabel_resends == 1
    assert stuck.updated_at == now


def test_items_sweep_stuck_does_not_resend_an_item_it_just_resent(
    project, prelabel_sent, django_capture_on_commit_callbacks
):
    stuck = waiting_since(project, 60)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.items_sweep_stuck(now=now)

    with django_capture_on_commit_callbacks(execute=True):
        swept = services.items_sweep_stuck(now=now + timedelta(minutes=5))

    assert swept == {"resent": [], "gave_up": []}
    assert prelabel_sent == [str(stuck.pk)]


def test_items_sweep_stuck_leaves_an_item_sent_too_often_to_be_labelled_from_scratch(
    project, settings, prelabel_sent, django_capture_on_commit_callbacks
):
    # given: sent at import and twice by the sweeper, still no outcome
    settings.CLAIMVISION_PRELABEL_MAX_ATTEMPTS = 3
    item = waiting_since(project, 60, prelabel_resends=2)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        swept = services.items_sweep_stuck()

    # then: not sent again; labellable, and it says why it has no pre-labels
    assert swept == {"resent": [], "gave_up": [str(item.pk)]}
    assert prelabel_sent == []
    item.refresh_from_db()
    assert item.status == S.PRELABELLED
    assert item.prelabel_error == services.ERR_PRELABEL_GAVE_UP.format(attempts=3)
    assert item.predictions.count() == 0


def test_items_sweep_stuck_task_calls_the_sweeper(
    project, prelabel_sent, django_capture_on_commit_callbacks
):
    stuck = waiting_since(project, 60)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.items_sweep_stuck_task()

    assert prelabel_sent == [str(stuck.pk)]


def test_items_sweep_stuck_runs_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["labelling-sweep-stuck"]

    assert entry["task"] == tasks.items_sweep_stuck_task.name == "labelling.sweep_stuck_items"
