"""Roles as groups: a senior adjuster is an adjuster with the senior queue on top."""

import pytest
from django.contrib.auth.models import Group

from claims.roles import Role, user_has_role, user_is_staff, user_roles
from claims.tests.factories import AdjusterFactory, CustomerFactory, SeniorAdjusterFactory

pytestmark = pytest.mark.django_db


def test_the_role_groups_exist_after_migrating():
    names = set(Group.objects.values_list("name", flat=True))

    assert {"customer", "adjuster", "senior_adjuster", "data_team"} <= names


def test_a_senior_adjuster_has_every_adjuster_right_and_the_senior_one():
    senior = SeniorAdjusterFactory()

    assert user_has_role(senior, Role.ADJUSTER)
    assert user_has_role(senior, Role.SENIOR_ADJUSTER)
    assert user_is_staff(senior)
    assert user_roles(senior) == [Role.SENIOR_ADJUSTER.value]


def test_a_plain_adjuster_is_not_senior_and_a_customer_is_neither():
    adjuster, customer = AdjusterFactory(), CustomerFactory()

    assert user_has_role(adjuster, Role.ADJUSTER)
    assert not user_has_role(adjuster, Role.SENIOR_ADJUSTER)
    assert not user_has_role(customer, Role.ADJUSTER)
    assert not user_has_role(customer, Role.SENIOR_ADJUSTER)
