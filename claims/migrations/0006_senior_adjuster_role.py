"""The senior adjuster role: adjusters who decide contested claims (claims.roles). Going back
keeps the group: its members were granted by people, and a re-run finds it again."""

from django.db import migrations


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="senior_adjuster")


class Migration(migrations.Migration):
    dependencies = [("claims", "0005_account_preference")]

    operations = [migrations.RunPython(create_role, migrations.RunPython.noop)]
