"""Retraining runs and label exports move here from the assessment app, rows and all.

The state moves (this creates them here, assessment 0011 removes them there); the database
renames the two tables to this app's names, renames the export index to a stable name, and
moves their content types, so admin history and permissions follow. Reversible.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLES = {
    "RetrainingRun": ("assessment_retrainingrun", "learning_retrainingrun"),
    "ExportJob": ("assessment_exportjob", "learning_exportjob"),
}
MODELS = ("retrainingrun", "exportjob")


def tables_rename(apps, schema_editor, reverse=False):
    for name, (old, new) in TABLES.items():
        # The assessment app's state still holds the model here (its 0011 runs after this).
        model = apps.get_model("assessment", name)
        schema_editor.alter_db_table(model, *((new, old) if reverse else (old, new)))


def tables_rename_back(apps, schema_editor):
    tables_rename(apps, schema_editor, reverse=True)


def content_types_move(apps, schema_editor, source="assessment", target="learning"):
    content_type = apps.get_model("contenttypes", "ContentType")
    rows = content_type.objects.using(schema_editor.connection.alias)
    for model in MODELS:
        # A database migrated before contenttypes had rows for the target keeps those.
        if not rows.filter(app_label=target, model=model).exists():
            rows.filter(app_label=source, model=model).update(app_label=target)


def content_types_move_back(apps, schema_editor):
    content_types_move(apps, schema_editor, source="learning", target="assessment")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("assessment", "0010_audit_config_changes"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('formats', models.JSONField()),
                        ('coco_polygons', models.BooleanField(default=False)),
                        ('filters', models.JSONField(default=dict)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=20)),
                        ('counts', models.JSONField(blank=True, default=dict)),
                        ('file', models.CharField(blank=True, max_length=200)),
                        ('size_bytes', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('sha256', models.CharField(blank=True, max_length=64)),
                        ('error', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('since_export', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='learning.exportjob')),
                    ],
                    options={
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['requested_by', '-created_at'], name='assessment__request_504db2_idx')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'succeeded', 'failed'])), name='export_job_status_valid'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'succeeded'), _negated=True), models.Q(('file', ''), _negated=True), _connector='OR'), name='export_job_succeeded_has_file')],
                    },
                ),
                migrations.CreateModel(
                    name='RetrainingRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=20)),
                        ('trigger', models.CharField(choices=[('manual', 'Manual'), ('count', 'Enough new reviewed photos'), ('schedule', 'Schedule')], max_length=20)),
                        ('progress', models.FloatField(default=0.0)),
                        ('message', models.CharField(blank=True, max_length=300)),
                        ('reviewed_count', models.PositiveIntegerField(default=0)),
                        ('promoted', models.BooleanField(default=False)),
                        ('log_tail', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('candidate', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='assessment.modelversion')),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='assessment.modelversion')),
                    ],
                    options={
                        'ordering': ['-created_at', '-id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='retraining_progress_unit_interval')],
                    },
                ),
            ],
            database_operations=[migrations.RunPython(tables_rename, tables_rename_back)],
        ),
        migrations.RenameIndex(
            model_name="exportjob",
            new_name="export_job_user_recent_idx",
            old_name="assessment__request_504db2_idx",
        ),
        migrations.RunPython(content_types_move, content_types_move_back),
    ]
