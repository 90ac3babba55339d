"""Regions keep the car part the model put them on; the audit trail records model activations.

A model activation belongs to no claim, so ``claim_id`` becomes nullable, and a check
constraint keeps it required for every other kind. On SQLite, altering the audit table means
Django rebuilds it, which drops the append-only triggers of migration 0002: they are created
again right after (and again after a reversal, which rebuilds the table too).
"""

import importlib

from django.db import migrations, models

append_only = importlib.import_module("assessment.migrations.0002_audit_append_only")


def sqlite_triggers_recreate(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL keeps its triggers through ALTER TABLE
    for statement in append_only.SQLITE_DOWN + append_only.SQLITE_UP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("assessment", "0005_export_job"),
    ]

    operations = [
        # Reversed last: restores the triggers after the reversal rebuilt the table.
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_recreate),
        migrations.AddField(
            model_name="region",
            name="part",
            field=models.CharField(blank=True, max_length=60),
        ),
        migrations.AddField(
            model_name="region",
            name="part_share",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="claim_id",
            field=models.UUIDField(blank=True, db_index=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="claim_reference",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="kind",
            field=models.CharField(
                choices=[
                    ("automated_decision", "Automated decision"),
                    ("human_decision", "Human decision"),
                    ("human_override", "Human override"),
                    ("customer_contest", "Customer contested"),
                    ("assessment_failed", "Assessment failed"),
                    ("model_activated", "Model activated"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="auditrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(("claim_id__isnull", False), ("kind", "model_activated"), _connector="OR"),
                name="audit_record_claim_unless_model_activated",
            ),
        ),
        migrations.AddConstraint(
            model_name="region",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("part_share__isnull", True),
                    models.Q(("part_share__gte", 0), ("part_share__lte", 1)),
                    _connector="OR",
                ),
                name="region_part_share_unit_interval",
            ),
        ),
        migrations.RunPython(sqlite_triggers_recreate, migrations.RunPython.noop),
    ]
