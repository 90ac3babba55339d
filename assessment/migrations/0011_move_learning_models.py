"""Retraining runs and label exports now live in the learning app (its migration 0001 renames
the tables and takes the rows); here they only leave the assessment app's state."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("assessment", "0010_audit_config_changes"),
        ("learning", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ExportJob"),
                migrations.DeleteModel(name="RetrainingRun"),
            ],
            database_operations=[],
        ),
    ]
