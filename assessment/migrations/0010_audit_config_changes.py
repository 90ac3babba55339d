"""The audit trail records every change to a decision policy or price table (``config_changed``,
which belongs to no claim, like a model activation). On SQLite the constraint change rebuilds
the audit table, dropping the append-only triggers of migration 0002: they are created again
right after, and again after a reversal (see 0006)."""

import importlib

from django.db import migrations, models

sqlite_triggers_recreate = importlib.import_module(
    "assessment.migrations.0006_region_part_and_model_audit"
).sqlite_triggers_recreate


class Migration(migrations.Migration):
    dependencies = [
        ("assessment", "0009_contest"),
    ]

    operations = [
        # Reversed last: restores the triggers after the reversal rebuilt the table.
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_recreate),
        migrations.RemoveConstraint(
            model_name="auditrecord",
            name="audit_record_claim_unless_model_activated",
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
                    ("config_changed", "Decision configuration changed"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="auditrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("claim_id__isnull", False),
                    ("kind__in", ["model_activated", "config_changed"]),
                    _connector="OR",
                ),
                name="audit_record_claim_unless_claimless_kind",
            ),
        ),
        migrations.RunPython(sqlite_triggers_recreate, migrations.RunPython.noop),
    ]
