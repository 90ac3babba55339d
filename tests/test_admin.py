"""Every admin page staff use renders: changelists and, where adding is allowed, add forms."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    ((m._meta.app_label, m._meta.model_name) for m in admin.site._registry),
)


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.test", "x-pass-123")
    client.force_login(user)
    return client


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_admin_changelist_and_add_pages_render(staff_client, app_label, model_name):
    changelist = staff_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    add = staff_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    assert add.status_code in (200, 403)  # 403 where the trail or jobs forbid adding


def test_audit_records_cannot_be_added_changed_or_deleted_in_admin(staff_client):
    response = staff_client.get(reverse("admin:assessment_auditrecord_add"))
    assert response.status_code == 403
