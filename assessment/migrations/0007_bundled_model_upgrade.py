"""Move an installation off the old bundled starter model onto the bundled default.

Only when the active model is the old starter (``ml/models/starter``, version ``starter-...``)
or its files are missing: a model the insurer trained or installed stays active, and an empty
database is left alone (the bundled model becomes active on first use). The activation is
audited like any other (kind ``model_activated``). ``manage.py model_install --bundled
--activate`` is the same step by hand. Nothing to undo on reversal: the previous version is
retired, not deleted, and can be reactivated in the admin.
"""

from pathlib import Path

from django.db import migrations

NOTE = "migration assessment 0007"


def upgrade(apps, schema_editor):
    from assessment.model_registry import bundled_upgrade
    from ml.inference import DEFAULT_MODEL_DIR

    bundled_upgrade(
        apps.get_model("assessment", "ModelVersion"),
        apps.get_model("assessment", "AuditRecord"),
        model_dir=Path(DEFAULT_MODEL_DIR),
        note=NOTE,
    )


class Migration(migrations.Migration):
    dependencies = [("assessment", "0006_region_part_and_model_audit")]
    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop)]
