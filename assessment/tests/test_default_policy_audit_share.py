"""Migration 0014: random audits in the project's default policy saved before the rule, as a
new version; a policy staff made (or one that has the rule) is never changed."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model

from assessment import configuration, defaults
from assessment.models import DecisionPolicy
from assessment.policy import PolicyRules

pytestmark = pytest.mark.django_db

migration = importlib.import_module("assessment.migrations.0014_default_policy_audit_share")

# A default version as stored before audit sampling and the claim confidence existed.
STORED_BEFORE = {
    k: v
    for k, v in PolicyRules().to_dict().items()
    if k not in ("audit_sample_share", "min_claim_confidence", "claim_confidence_calibrator")
}


@pytest.mark.parametrize("note", [defaults.DEFAULTS_POLICY_NOTE, defaults.DAMAGE_V2_POLICY_NOTE])
def test_migration_adds_the_audit_share_to_the_default_policy_as_a_new_version(note):
    # given the active default version, saved before the rule (it audits nothing)
    old = DecisionPolicy.objects.create(version=2, rules=STORED_BEFORE, note=note, is_active=True)
    assert PolicyRules.from_dict(old.rules).audit_sample_share == 0.0

    # when the migration runs (twice: once only)
    migration.audit_share(django_apps, None)
    migration.audit_share(django_apps, None)

    # then a new active version audits 5%, with every other rule as it was
    active = DecisionPolicy.objects.get(is_active=True)
    assert (active.version, active.note) == (3, defaults.AUDIT_SHARE_POLICY_NOTE)
    assert active.rules["audit_sample_share"] == 0.05
    assert {k: active.rules[k] for k in STORED_BEFORE} == STORED_BEFORE
    old.refresh_from_db()
    assert (old.is_active, old.rules) == (False, STORED_BEFORE)  # never edited
    assert DecisionPolicy.objects.count() == 2


def test_migration_leaves_a_policy_staff_wrote_alone():
    # given a staff version without the rule (by note, and one by author with the default note)
    staff = get_user_model().objects.create_user("alice", is_staff=True)
    DecisionPolicy.objects.create(version=1, rules=STORED_BEFORE, note="tighter", is_active=True)

    migration.audit_share(django_apps, None)
    assert list(DecisionPolicy.objects.values_list("version", "is_active")) == [(1, True)]

    DecisionPolicy.objects.update(is_active=False)
    DecisionPolicy.objects.create(
        version=2,
        rules=STORED_BEFORE,
        note=defaults.DEFAULTS_POLICY_NOTE,
        is_active=True,
        created_by=staff,
    )
    migration.audit_share(django_apps, None)
    assert DecisionPolicy.objects.count() == 2
    assert "audit_sample_share" not in DecisionPolicy.objects.get(is_active=True).rules


def test_migration_leaves_a_default_that_has_the_rule_alone():
    # given a fresh database's default (created with the share) or one with audits off
    configuration.decision_policy_active()
    assert defaults.decision_policy_add_audit_share(DecisionPolicy) is None

    DecisionPolicy.objects.update(rules={**STORED_BEFORE, "audit_sample_share": 0.0})
    assert defaults.decision_policy_add_audit_share(DecisionPolicy) is None
    assert DecisionPolicy.objects.count() == 1
