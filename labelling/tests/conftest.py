"""Fixtures for labelling tests: a project with a labeller and a reviewer, a scripted model.

The scripted segmenter (assessment's) stands in for the network; storage, validation and the
database are real. Pre-labelling messages are recorded, not sent (no test talks to a broker).
"""

import pytest

from assessment.tests.conftest import (  # noqa: F401 - shared fixtures
    ScriptedSegmenter,
    model_version,
    segmenter,
)
from claims.tests.conftest import (  # noqa: F401 - shared fixtures
    _fast_and_isolated,
    api_client_for,
    customer,
    data_team_member,
    enqueued,
    media_root,
)
from claims.tests.factories import UserFactory
from labelling import tasks
from labelling.models import ProjectMember
from labelling.tests.factories import MemberFactory, ProjectFactory


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture(autouse=True)
def prelabel_sent(monkeypatch) -> list[str]:
    """Item ids sent to the pre-labelling queue."""
    sent: list[str] = []
    monkeypatch.setattr(tasks.prelabel_item_task, "delay", lambda item_id: sent.append(item_id))
    return sent


@pytest.fixture
def project(data_team_member, model_version):
    return ProjectFactory(created_by=data_team_member, label_map=model_version.label_map)


@pytest.fixture
def labeller(project):
    user = UserFactory(username="lena")
    MemberFactory(project=project, user=user, role=ProjectMember.Role.LABELLER)
    return user


@pytest.fixture
def reviewer(project):
    user = UserFactory(username="rui")
    MemberFactory(project=project, user=user, role=ProjectMember.Role.REVIEWER)
    return user


@pytest.fixture
def outsider(db):
    return UserFactory(username="otto")
