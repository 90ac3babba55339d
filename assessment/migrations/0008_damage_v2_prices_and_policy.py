"""Price the damage-v2 types in an existing default price table, and give them the default
policy's treatment (assessment.defaults). Types staff already priced, tables and policies staff
made themselves, and an empty database (seeded from the current defaults) are left alone."""

from django.db import migrations


def prices(apps, schema_editor):
    from assessment.defaults import price_rules_add_missing

    price_rules_add_missing(
        apps.get_model("assessment", "PriceTable"), apps.get_model("assessment", "PriceRule")
    )


def policy(apps, schema_editor):
    from assessment.defaults import decision_policy_add_missing_types

    decision_policy_add_missing_types(apps.get_model("assessment", "DecisionPolicy"))


class Migration(migrations.Migration):
    dependencies = [("assessment", "0007_bundled_model_upgrade")]
    operations = [
        migrations.RunPython(prices, migrations.RunPython.noop),
        migrations.RunPython(policy, migrations.RunPython.noop),
    ]
