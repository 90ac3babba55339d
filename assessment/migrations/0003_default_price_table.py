"""Seed the default price table (assessment.defaults) so a fresh installation can estimate."""

from django.db import migrations


def seed(apps, schema_editor):
    from assessment.defaults import price_table_create_default

    PriceTable = apps.get_model("assessment", "PriceTable")
    if not PriceTable.objects.exists():
        price_table_create_default(PriceTable, apps.get_model("assessment", "PriceRule"))


class Migration(migrations.Migration):
    dependencies = [("assessment", "0002_audit_append_only")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
