"""API tokens stored hashed, with an expiry (claims.models.ApiToken), and usernames unique
regardless of case.

DRF's plain-text tokens (``authtoken_token``, from when ``rest_framework.authtoken`` was
installed) are carried over as hashes expiring after the staff session length, then deleted
from that table, so no usable token is left in the database.
"""

import hashlib
from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


PLAIN_TOKENS = "authtoken_token"
USERNAME_INDEX = "claims_username_ci_unique"


def hash_plain_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if PLAIN_TOKENS not in connection.introspection.table_names():
        return
    from django.utils import timezone

    ApiToken = apps.get_model("claims", "ApiToken")
    expires = timezone.now() + timedelta(hours=settings.CLAIMVISION_STAFF_SESSION_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {PLAIN_TOKENS}")  # noqa: S608 - a constant
        rows = cursor.fetchall()
        ApiToken.objects.bulk_create(
            ApiToken(
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                prefix=key[:8],
                user_id=user_id,
                expires_at=expires,
            )
            for key, user_id in rows
        )
        cursor.execute(f"DELETE FROM {PLAIN_TOKENS}")  # noqa: S608 - a constant


def username_unique_ci(apps, schema_editor):
    table = apps.get_model(*settings.AUTH_USER_MODEL.split("."))._meta.db_table
    schema_editor.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {USERNAME_INDEX} ON {table} (lower(username))"
    )


def username_unique_ci_drop(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {USERNAME_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0003_more_photos_requested'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('prefix', models.CharField(editable=False, max_length=8)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField(db_index=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['user', 'created_at'], name='apitoken_user_created')],
            },
        ),
        migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop),
        migrations.RunPython(username_unique_ci, username_unique_ci_drop),
    ]
