"""The database itself refuses UPDATE and DELETE on audit records (PostgreSQL and SQLite).

On PostgreSQL a retention purge is possible only for a session that sets
``claimvision.allow_audit_purge = on`` (a DBA's deliberate act, e.g. after the legal retention
period; the test suite uses it to empty tables between tests). Nothing in the product sets it.
"""

from django.db import migrations

TABLE = "assessment_auditrecord"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('claimvision.allow_audit_purge', true) = 'on' AND TG_OP <> 'UPDATE' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit records are append-only (%% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_record_append_only();
CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_record_append_only();
CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS audit_record_no_update ON {TABLE};
DROP TRIGGER IF EXISTS audit_record_no_delete ON {TABLE};
DROP TRIGGER IF EXISTS audit_record_no_truncate ON {TABLE};
DROP FUNCTION IF EXISTS audit_record_append_only();
"""
SQLITE_UP = [
    f"CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit records are append-only (UPDATE refused)'); END;",
    f"CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit records are append-only (DELETE refused)'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_record_no_update;",
    "DROP TRIGGER IF EXISTS audit_record_no_delete;",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("assessment", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
