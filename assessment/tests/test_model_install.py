"""Installing and activating model versions: ``manage.py model_install``, the audit record of
every activation, and the upgrade migration off the old bundled starter (0007)."""

import importlib
import json
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from assessment import model_registry, model_versions
from assessment.management.commands import model_install
from assessment.models import AuditRecord, ModelVersion
from assessment.tests.conftest import model_dir_make
from claims.tests.factories import UserFactory
from ml.labels import DEFAULT_LABEL_MAP, PRODUCT_LABEL_MAP

pytestmark = pytest.mark.django_db

upgrade_migration = importlib.import_module("assessment.migrations.0007_bundled_model_upgrade")


def _install(*args) -> str:
    out = StringIO()
    call_command("model_install", *args, stdout=out)
    return out.getvalue()


def _activations() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(kind=AuditRecord.Kind.MODEL_ACTIVATED))


@pytest.fixture
def starter(tmp_path) -> ModelVersion:
    """An installation's active model as the old release registered it on first use."""
    folder = model_dir_make(
        tmp_path / "starter", "starter-2026.11.28", DEFAULT_LABEL_MAP.to_dict(), payload=b"old"
    )
    mv = model_versions.model_version_register(model_dir=folder)
    ModelVersion.objects.filter(pk=mv.pk).update(status=ModelVersion.Status.ACTIVE)
    mv.refresh_from_db()
    return mv


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """The release's bundled model folder, standing in for ml.inference.DEFAULT_MODEL_DIR."""
    import ml.inference

    folder = model_dir_make(tmp_path / "damage-v2", "damage-v2-2026.12.01", payload=b"new")
    monkeypatch.setattr(ml.inference, "DEFAULT_MODEL_DIR", folder)
    return folder


# --------------------------------------------------------------------------- the command


def test_model_install_bundled_activate_replaces_the_starter_and_audits(starter, bundled):
    # given an installation on the old starter and a staff user
    staff = UserFactory(username="ops")

    # when the upgrade step runs
    out = _install("--bundled", "--activate", "--user", "ops", "--reason", "release 1.4")

    # then the bundled model is registered and active, the starter retired
    active = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    assert active.version == "damage-v2-2026.12.01"
    assert active.label_map == PRODUCT_LABEL_MAP.to_dict()
    assert active.artifact_sha256 == model_registry.artifact_sha256(bundled)
    starter.refresh_from_db()
    assert starter.status == ModelVersion.Status.RETIRED
    assert "damage-v2-2026.12.01 is now the active model (was starter-2026.11.28)." in out
    # and the activation is in the audit trail, belonging to no claim
    (record,) = _activations()
    assert record.claim_id is None
    assert record.claim_reference == ""
    assert record.model_version == "damage-v2-2026.12.01"
    assert (record.actor, record.actor_id) == ("ops", staff.pk)
    assert record.outcome == "activated"
    assert record.detail == {"previous": "starter-2026.11.28", "reason": "release 1.4"}
    assert record.inputs["artifact_sha256"] == active.artifact_sha256


def test_model_install_twice_changes_and_records_nothing_the_second_time(starter, bundled):
    _install("--bundled", "--activate")
    rows, records = ModelVersion.objects.count(), len(_activations())

    out = _install("--bundled", "--activate")

    assert (ModelVersion.objects.count(), len(_activations())) == (rows, records) == (2, 1)
    assert "already registered" in out
    assert "damage-v2-2026.12.01 was already the active model; nothing changed." in out


def test_model_install_without_activate_only_registers(starter, tmp_path):
    folder = model_dir_make(tmp_path / "candidate", "insurer-2027.01")

    out = _install(str(folder))

    mv = ModelVersion.objects.get(version="insurer-2027.01")
    assert mv.status == ModelVersion.Status.CANDIDATE
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == starter
    assert _activations() == []
    assert "run again with --activate" in out


def test_model_install_refuses_a_version_registered_with_other_files(starter, tmp_path):
    # given the starter's version re-exported with different bytes
    folder = model_dir_make(tmp_path / "other", "starter-2026.11.28", payload=b"different")

    with pytest.raises(CommandError) as error:
        _install(str(folder), "--activate")

    assert str(error.value) == model_versions.ERR_MODEL_VERSION_TAKEN.format(
        version="starter-2026.11.28", path=starter.path
    )
    assert ModelVersion.objects.count() == 1
    assert _activations() == []


def test_model_install_refuses_a_folder_without_model_json_or_its_files(db, tmp_path):
    with pytest.raises(CommandError) as error:
        _install(str(tmp_path), "--activate")
    assert str(error.value) == model_versions.ERR_MODEL_DIR.format(path=tmp_path)

    folder = model_dir_make(tmp_path / "broken", "broken-1")
    (folder / "model.onnx").unlink()
    with pytest.raises(CommandError) as error:
        _install(str(folder), "--activate")
    assert str(error.value) == model_versions.ERR_MODEL_FILES.format(
        path=folder, files="model.onnx"
    )

    meta = json.loads((folder / "model.json").read_text())
    meta["label_map"]["classes"][0]["id"] = 9  # ids must be 1..n
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CommandError, match="not a usable model description"):
        _install(str(folder))
    assert ModelVersion.objects.count() == 0


def test_model_install_needs_exactly_one_of_path_and_bundled(db, bundled):
    for args in ((), (str(bundled), "--bundled")):
        with pytest.raises(CommandError) as error:
            _install(*args)
        assert str(error.value) == model_install.ERR_PATH_OR_BUNDLED


def test_model_install_unknown_user_is_refused(db, bundled):
    with pytest.raises(CommandError) as error:
        _install("--bundled", "--activate", "--user", "nobody")
    assert str(error.value) == model_install.ERR_UNKNOWN_USER.format(username="nobody")
    assert ModelVersion.objects.count() == 0


# --------------------------------------------------------------------------- every activation


def test_model_version_activate_audits_each_change_and_not_a_repeat(starter, tmp_path):
    newer = model_versions.model_version_register(
        model_dir=model_dir_make(tmp_path / "newer", "newer-1")
    )

    model_versions.model_version_activate(model_version=newer, reason="why")
    model_versions.model_version_activate(model_version=newer, reason="again")  # already active

    (record,) = _activations()
    assert record.model_version == "newer-1"
    assert record.actor == "system"
    assert record.detail == {"previous": "starter-2026.11.28", "reason": "why"}


def test_first_use_activation_of_the_bundled_model_is_audited(db, bundled):
    active = model_versions.model_version_active()

    assert active.version == "damage-v2-2026.12.01"
    (record,) = _activations()
    assert record.detail == {"previous": None, "reason": model_versions.REASON_FIRST_USE}


def test_audit_record_without_a_claim_is_refused_for_claim_kinds(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditRecord.objects.create(
            claim_id=None, kind=AuditRecord.Kind.AUTOMATED_DECISION, actor="system", outcome="x"
        )


# --------------------------------------------------------------------------- migration 0007


def test_upgrade_migration_moves_the_old_starter_to_the_bundled_model(starter, bundled):
    upgrade_migration.upgrade(django_apps, None)

    active = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    assert active.version == "damage-v2-2026.12.01"
    (record,) = _activations()
    assert record.detail["previous"] == "starter-2026.11.28"
    assert record.detail["reason"] == (
        "migration assessment 0007: the active model starter-2026.11.28 is the old bundled starter"
    )


def test_upgrade_migration_is_idempotent(starter, bundled):
    upgrade_migration.upgrade(django_apps, None)
    upgrade_migration.upgrade(django_apps, None)

    assert ModelVersion.objects.filter(version="damage-v2-2026.12.01").count() == 1
    assert len(_activations()) == 1


def test_upgrade_migration_replaces_an_active_model_whose_files_are_gone(db, bundled):
    lost = ModelVersion.objects.create(
        version="retrain-20261120-r3",
        path="/nowhere/retrain-r3",
        artifact_sha256="3" * 64,
        label_map=DEFAULT_LABEL_MAP.to_dict(),
        status=ModelVersion.Status.ACTIVE,
    )

    upgrade_migration.upgrade(django_apps, None)

    lost.refresh_from_db()
    assert lost.status == ModelVersion.Status.RETIRED
    assert ModelVersion.objects.get(status="active").version == "damage-v2-2026.12.01"
    assert (
        "files of the active model retrain-20261120-r3 are missing"
        in (_activations()[0].detail["reason"])
    )


def test_upgrade_migration_keeps_a_model_the_insurer_trained(db, bundled, tmp_path):
    own = model_versions.model_version_register(
        model_dir=model_dir_make(tmp_path / "own", "retrain-20261125-r7"), activate=True
    )
    before = len(_activations())

    upgrade_migration.upgrade(django_apps, None)

    assert ModelVersion.objects.get(status="active") == own
    assert not ModelVersion.objects.filter(version="damage-v2-2026.12.01").exists()
    assert len(_activations()) == before


def test_upgrade_migration_leaves_an_empty_database_alone(db, bundled):
    upgrade_migration.upgrade(django_apps, None)

    assert ModelVersion.objects.count() == 0
    assert _activations() == []


def test_upgrade_migration_does_nothing_while_the_starter_is_still_the_bundled_model(
    starter, monkeypatch
):
    # given a release whose DEFAULT_MODEL_DIR is still the starter's folder
    import ml.inference

    monkeypatch.setattr(
        ml.inference, "DEFAULT_MODEL_DIR", model_registry.model_dir_resolve(starter.path)
    )

    upgrade_migration.upgrade(django_apps, None)

    assert ModelVersion.objects.get(status="active") == starter
    assert _activations() == []


# --------------------------------------------------------------------------- registration audit


def _version_changes() -> list[AuditRecord]:
    return list(
        AuditRecord.objects.filter(
            kind=AuditRecord.Kind.CONFIG_CHANGED, detail__object="model_version"
        ).order_by("id")
    )


def test_registering_a_version_is_audited_once(tmp_path):
    # given an admin and a model folder
    admin = UserFactory(username="ops")
    folder = model_dir_make(tmp_path / "cand", "cand-1", DEFAULT_LABEL_MAP.to_dict())

    # when it is installed without activating, then installed and registered again
    model_versions.model_version_install(model_dir=folder, activate=False, actor=admin)
    model_versions.model_version_install(model_dir=folder, activate=False, actor=admin)
    model_versions.model_version_register(model_dir=folder)

    # then one record: who registered which files, as what
    (record,) = _version_changes()
    assert (record.actor, record.outcome) == ("ops", "created")
    assert record.detail["before"] is None
    after = record.detail["after"]
    assert (after["version"], after["status"]) == ("cand-1", "candidate")
    assert after["artifact_sha256"] == ModelVersion.objects.get(version="cand-1").artifact_sha256


def test_moving_versions_to_shadow_is_audited_for_each_version_it_moves(tmp_path):
    from learning import promotion

    # given two registered candidates, the first in shadow
    admin = UserFactory(username="ops")
    first, second = (
        model_versions.model_version_register(
            model_dir=model_dir_make(tmp_path / name, name, DEFAULT_LABEL_MAP.to_dict())
        )
        for name in ("shadow-a", "shadow-b")
    )
    promotion.model_version_set_shadow(model_version=first, actor=admin)
    registered = len(_version_changes())

    # when the second goes into shadow
    promotion.model_version_set_shadow(model_version=second, actor=admin)

    # then the first went back to candidate and the second into shadow, both recorded
    moves = [
        (r.detail["after"]["version"], r.detail["before"]["status"], r.detail["after"]["status"])
        for r in _version_changes()[registered:]
    ]
    assert moves == [("shadow-a", "shadow", "candidate"), ("shadow-b", "candidate", "shadow")]
    assert all(r.actor == "ops" for r in _version_changes()[registered:])
