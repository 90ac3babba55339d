"""Decision policies and price tables: validated forms in the admin, and every change audited."""

import pytest
from django.urls import reverse

from assessment import configuration
from assessment.models import AuditRecord, DecisionPolicy, PriceTable
from claims.tests.factories import UserFactory
from ml.labels import DEFAULT_LABEL_MAP

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = UserFactory(username="olga", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _config_records(obj: str) -> list[AuditRecord]:
    return [
        r for r in AuditRecord.objects.filter(kind="config_changed") if r.detail["object"] == obj
    ]


def _policy_form(**overrides) -> dict:
    rules = configuration.decision_policy_active().rules
    data = {
        "note": "stricter glass",
        "min_photo_confidence": rules["min_photo_confidence"],
        "min_region_confidence": rules["min_region_confidence"],
        "min_region_confidence_by_type": '{"scratch": 0.8}',
        "max_auto_estimate": rules["max_auto_estimate"],
        "always_human_types": rules["always_human_types"],
        "always_human_severities": rules["always_human_severities"],
        "quality_warnings_route": rules["quality_warnings_route"],
        "duplicate_photo_routes": "on",
        "no_damage": rules["no_damage"],
        "min_claim_confidence": "",
        "audit_sample_share": rules["audit_sample_share"],
    }
    data.update(overrides)
    return data


def test_an_invalid_policy_value_is_a_field_error_not_a_500(staff_client):
    configuration.decision_policy_active()  # an empty database starts from the default version
    versions = DecisionPolicy.objects.count()
    url = reverse("admin:assessment_decisionpolicy_add")

    response = staff_client.post(url, _policy_form(min_photo_confidence="7"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "min_photo_confidence" in errors
    assert DecisionPolicy.objects.count() == versions
    response = staff_client.post(url, _policy_form(min_region_confidence_by_type='["scratch"]'))
    assert "min_region_confidence_by_type" in response.context["adminform"].form.errors
    response = staff_client.post(url, _policy_form(min_region_confidence_by_type='{"dent": 3}'))
    assert "min_region_confidence_by_type" in response.context["adminform"].form.errors
    assert DecisionPolicy.objects.count() == versions


def test_policy_form_checks_audit_share_and_claim_confidence_and_saves_them(staff_client):
    configuration.decision_policy_active()
    url = reverse("admin:assessment_decisionpolicy_add")

    for field, value in (("audit_sample_share", "1.5"), ("min_claim_confidence", "-0.2")):
        response = staff_client.post(url, _policy_form(**{field: value}))
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
    response = staff_client.post(
        url, _policy_form(audit_sample_share="0.02", min_claim_confidence="0.6")
    )

    assert response.status_code == 302
    created = DecisionPolicy.objects.order_by("-version").first()
    assert (created.rules["audit_sample_share"], created.rules["min_claim_confidence"]) == (
        0.02,
        0.6,
    )


def test_a_new_policy_version_from_the_form_is_saved_and_audited(staff_client):
    before = configuration.decision_policy_active()

    response = staff_client.post(
        reverse("admin:assessment_decisionpolicy_add"), _policy_form(max_auto_estimate="1500")
    )

    assert response.status_code == 302
    created = DecisionPolicy.objects.order_by("-version").first()
    assert created.version == before.version + 1 and not created.is_active
    assert created.rules["max_auto_estimate"] == 1500
    assert created.rules["min_region_confidence_by_type"] == {"scratch": 0.8}
    (record,) = _config_records("decision_policy")
    assert record.outcome == "created" and record.actor == "olga"
    assert record.detail["before"]["version"] == before.version
    assert record.detail["after"]["rules"]["max_auto_estimate"] == 1500


def test_activating_a_policy_is_audited_with_who_and_what_it_replaced(staff_client):
    active = configuration.decision_policy_active()
    candidate = configuration.decision_policy_create(
        rules={**active.rules, "max_auto_estimate": 900.0}, note="lower limit", activate=False
    )

    response = staff_client.post(
        reverse("admin:assessment_decisionpolicy_changelist"),
        {"action": "activate", "_selected_action": [candidate.pk]},
        follow=True,
    )

    assert configuration.decision_policy_active().pk == candidate.pk
    assert f"Policy version {candidate.version} is now active." in response.content.decode()
    record = _config_records("decision_policy")[-1]
    assert record.outcome == "activated" and record.actor == "olga"
    assert record.detail["before"]["version"] == active.version
    assert record.detail["after"]["rules"]["max_auto_estimate"] == 900.0


def _price_table_form(table: PriceTable, **overrides) -> dict:
    rules = list(table.rules.order_by("pk"))
    data = {
        "name": table.name,
        "currency": table.currency,
        "labour_rate": str(table.labour_rate),
        "paint_rate": str(table.paint_rate),
        "is_active": "on" if table.is_active else "",
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    # The part prices and repair times inlines, left as they are.
    for prefix, rows, fields in (
        (
            "part_prices",
            table.part_prices.order_by("pk"),
            ["part", "operation", "labour_hours", "parts_cost", "description"],
        ),
        (
            "repair_times",
            table.repair_times.order_by("pk"),
            ["damage_type", "severity", "size_band", "labour_hours"],
        ),
    ):
        rows = list(rows)
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(len(rows)),
                f"{prefix}-INITIAL_FORMS": str(len(rows)),
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = str(row.pk)
            data[f"{prefix}-{i}-table"] = str(table.pk)
            data.update({f"{prefix}-{i}-{f}": str(getattr(row, f)) for f in fields})
    for i, rule in enumerate(rules):
        data.update(
            {
                f"rules-{i}-id": str(rule.pk),
                f"rules-{i}-table": str(table.pk),
                f"rules-{i}-damage_type": rule.damage_type,
                f"rules-{i}-severity": rule.severity,
                f"rules-{i}-operation": rule.operation,
                f"rules-{i}-labour_hours": str(rule.labour_hours),
                f"rules-{i}-parts_cost": str(rule.parts_cost),
                f"rules-{i}-description": rule.description,
            }
        )
    data.update(overrides)
    return data


def test_a_price_table_change_is_audited_with_before_and_after(staff_client):
    table = configuration.price_table_active()
    old_rate = str(table.labour_rate)
    url = reverse("admin:assessment_pricetable_change", args=[table.pk])

    response = staff_client.post(
        url, _price_table_form(table, labour_rate="99.50", **{"rules-0-parts_cost": "1234.00"})
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    (record,) = _config_records("price_table")
    assert record.outcome == "changed" and record.actor == "olga"
    assert record.detail["before"]["labour_rate"] == old_rate
    assert record.detail["after"]["labour_rate"] == "99.50"
    assert "1234.00" in {r["parts_cost"] for r in record.detail["after"]["rules"]}
    assert "1234.00" not in {r["parts_cost"] for r in record.detail["before"]["rules"]}

    # saving it unchanged records nothing
    staff_client.post(url, _price_table_form(PriceTable.objects.get(pk=table.pk)))
    assert len(_config_records("price_table")) == 1


def test_activating_another_price_table_is_audited_and_leaves_one_active(staff_client):
    active = configuration.price_table_active()
    spare = PriceTable.objects.create(name="2027", labour_rate=70, paint_rate=80)

    response = staff_client.post(
        reverse("admin:assessment_pricetable_change", args=[spare.pk]),
        _price_table_form(spare, is_active="on"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(PriceTable.objects.filter(is_active=True)) == [spare]
    record = _config_records("price_table")[-1]
    assert record.outcome == "activated" and record.detail["after"]["name"] == "2027"
    assert active.pk != spare.pk


def test_policy_versions_made_by_services_are_audited_as_the_system():
    active = configuration.decision_policy_active()

    configuration.decision_policy_create(rules=active.rules, note="same again", activate=True)

    record = _config_records("decision_policy")[-1]
    assert record.outcome == "activated" and record.actor == "system"
    assert record.claim_id is None


def test_the_policy_form_opens_with_the_active_rules(staff_client):
    active = configuration.decision_policy_active()

    response = staff_client.get(reverse("admin:assessment_decisionpolicy_add"))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form["max_auto_estimate"].initial == active.rules["max_auto_estimate"]
    assert set(form["always_human_types"].initial) == set(active.rules["always_human_types"])
    # each type is offered by its display name, as every other page names it
    choices = dict(form.fields["always_human_types"].choices)
    assert choices["broken_part"] == "Broken or missing part"
    assert choices["tire_flat"] == DEFAULT_LABEL_MAP.by_name("tire_flat").display_name
    assert choices["dent"] == "Dent" and "background" not in choices
    assert b">broken_part<" not in response.content


@pytest.mark.django_db
def test_a_default_created_by_a_concurrent_request_is_taken_not_a_500():
    # given: another request created the active price table and policy between our check and
    # our insert (here: they exist, and our insert runs regardless)
    table = configuration.price_table_active()
    active = configuration.decision_policy_active()

    # when: our insert hits the "one active" constraint
    taken = configuration.created_once(
        lambda: PriceTable.objects.create(
            name="racer", currency="EUR", labour_rate=1, paint_rate=1, is_active=True
        ),
        PriceTable.objects.filter(is_active=True).first,
    )
    policy_taken = configuration.created_once(
        lambda: DecisionPolicy.objects.create(version=active.version, rules={}, is_active=True),
        DecisionPolicy.objects.filter(is_active=True).first,
    )

    # then: the winner's rows are returned and no second one exists
    assert taken == table and PriceTable.objects.count() == 1
    assert policy_taken == active and DecisionPolicy.objects.filter(is_active=True).count() == 1
