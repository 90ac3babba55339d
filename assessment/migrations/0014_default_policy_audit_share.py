"""Random audits in an existing default policy: a new active version with
``audit_sample_share`` 0.05 when the active version is the project's unmodified default saved
before the rule existed (assessment.defaults.decision_policy_add_audit_share). A policy staff
made, and an empty database (whose default is created with the share), are left alone."""

from django.db import migrations


def audit_share(apps, schema_editor):
    from assessment.defaults import decision_policy_add_audit_share

    decision_policy_add_audit_share(apps.get_model("assessment", "DecisionPolicy"))


class Migration(migrations.Migration):
    dependencies = [("assessment", "0013_claim_confidence")]
    operations = [migrations.RunPython(audit_share, migrations.RunPython.noop)]
