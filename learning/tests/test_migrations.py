"""The move of retraining runs and label exports from the assessment app (learning 0001 and
assessment 0011) on a database that already holds them: rows, ids, links and content types
survive, new rows go on from the old ids, and the move reverses. Runs on SQLite and, in CI,
on PostgreSQL (django-test-migrations' ``migrator`` migrates the test database itself)."""

import pytest

BEFORE = [("assessment", "0010_audit_config_changes")]
AFTER = [("assessment", "0011_move_learning_models"), ("learning", "0001_initial")]
UNDONE = [("assessment", "0010_audit_config_changes"), ("learning", None)]


def _history(apps):
    """A parent and a candidate version, a finished run between them, two exports (the second
    incremental on the first), and the content types and permission a migrated site has."""
    version = apps.get_model("assessment", "ModelVersion")
    parent = version.objects.create(
        version="before-move-parent", path="x", artifact_sha256="0" * 64, label_map={}
    )
    candidate = version.objects.create(
        version="before-move-candidate", path="y", artifact_sha256="1" * 64, label_map={}
    )
    run = apps.get_model("assessment", "RetrainingRun").objects.create(
        status="succeeded", trigger="count", progress=1.0, parent=parent, candidate=candidate
    )
    user = apps.get_model("auth", "User").objects.create(username="dana")
    export = apps.get_model("assessment", "ExportJob")
    first = export.objects.create(
        requested_by=user, formats=["coco"], status="succeeded", file="exports/1.zip"
    )
    second = export.objects.create(requested_by=user, formats=["voc"], since_export=first)
    content_type = apps.get_model("contenttypes", "ContentType")
    types = {
        model: content_type.objects.get_or_create(app_label="assessment", model=model)[0].pk
        for model in ("retrainingrun", "exportjob")
    }
    permission = apps.get_model("auth", "Permission").objects.create(
        name="Can view export job", codename="view_exportjob", content_type_id=types["exportjob"]
    )
    return {
        "run": run.pk,
        "first": first.pk,
        "second": second.pk,
        "types": types,
        "perm": permission.pk,
    }


@pytest.mark.django_db(transaction=True)
def test_runs_and_exports_made_before_the_move_keep_rows_links_and_content_types(migrator):
    # given a database with runs and exports in the assessment app's tables
    made = _history(migrator.apply_initial_migration(BEFORE).apps)

    # when the move is applied
    apps = migrator.apply_tested_migration(AFTER).apps

    # then every row is in the learning app's model, with its id and its links
    run = apps.get_model("learning", "RetrainingRun").objects.get(pk=made["run"])
    assert (run.status, run.trigger, run.parent.version, run.candidate.version) == (
        "succeeded",
        "count",
        "before-move-parent",
        "before-move-candidate",
    )
    export = apps.get_model("learning", "ExportJob")
    second = export.objects.get(pk=made["second"])
    assert second.since_export_id == made["first"] and second.requested_by.username == "dana"
    assert export.objects.get(pk=made["first"]).file == "exports/1.zip"
    assert export._meta.db_table == "learning_exportjob"
    # a new row continues after the old ids (the sequence moved with its table)
    third = export.objects.create(requested_by=second.requested_by, formats=["csv"])
    assert third.pk > made["second"]
    # the content types moved, so permissions and admin history follow the models
    content_type = apps.get_model("contenttypes", "ContentType")
    moved = content_type.objects.get(pk=made["types"]["exportjob"])
    assert (moved.app_label, moved.model) == ("learning", "exportjob")
    assert not content_type.objects.filter(app_label="assessment", model="retrainingrun").exists()
    permission = apps.get_model("auth", "Permission").objects.get(pk=made["perm"])
    assert permission.content_type.app_label == "learning"


@pytest.mark.django_db(transaction=True)
def test_the_move_reverses_with_its_rows(migrator):
    made = _history(migrator.apply_initial_migration(BEFORE).apps)
    migrator.apply_tested_migration(AFTER)

    # when the move is undone
    apps = migrator.apply_tested_migration(UNDONE).apps

    # then the rows are back in the assessment app's tables
    run = apps.get_model("assessment", "RetrainingRun").objects.get(pk=made["run"])
    assert run.candidate.version == "before-move-candidate"
    export = apps.get_model("assessment", "ExportJob")
    assert export.objects.get(pk=made["second"]).since_export_id == made["first"]
    content_type = apps.get_model("contenttypes", "ContentType")
    assert content_type.objects.get(pk=made["types"]["retrainingrun"]).app_label == "assessment"
