"""The audit cannot be silenced by the schema's owner; hub_operator may read the revision.

An event trigger refuses, for everyone but a superuser: disabling a trigger that runs a hub
function (the audit, the append-only guards, touch_row), dropping a trigger, function or table
of schema hub, and creating or replacing a function in it (the audit triggers run hub
functions). Without it the owner could `ALTER TABLE ... DISABLE TRIGGER`, change configuration
unaudited, rewrite history and re-chain it, and `audit verify` would pass.

Creating an event trigger needs a superuser: a migrating role that is not one gets a notice and
no guard (docs/deploy.md). The guard's function lives in schema hub_guard, owned by that
superuser, so the owner of schema hub cannot replace or drop it. Downgrading past this revision
needs a superuser for the same reason.

hub_operator gets SELECT on alembic_version: `hubctl doctor` and `hubctl db current` read it
as the runtime login.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GUARD = r"""
CREATE SCHEMA hub_guard;
REVOKE ALL ON SCHEMA hub_guard FROM PUBLIC;

CREATE FUNCTION hub_guard.keep_the_audit_on() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RETURN;
  END IF;
  IF TG_EVENT = 'sql_drop' THEN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
                WHERE d.object_type IN ('trigger', 'function', 'table')
                  -- a trigger has no schema of its own: its identity is 'name on hub.table'
                  AND (d.schema_name = 'hub' OR d.object_identity LIKE '% on hub.%')) THEN
      RAISE EXCEPTION 'only a superuser may drop triggers, functions or tables of schema hub:'
        ' the audit depends on them' USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                 WHERE c.schema_name = 'hub' AND c.object_type = 'function') THEN
    RAISE EXCEPTION 'only a superuser may create or replace functions of schema hub:'
      ' the audit triggers run them' USING ERRCODE = 'insufficient_privilege';
  ELSIF EXISTS (SELECT 1 FROM pg_trigger t
                  JOIN pg_class c ON c.oid = t.tgrelid
                  JOIN pg_proc p ON p.oid = t.tgfoid
                 WHERE c.relnamespace = 'hub'::regnamespace AND p.pronamespace = 'hub'::regnamespace
                   AND NOT t.tgisinternal AND t.tgenabled <> 'A') THEN
    RAISE EXCEPTION 'the audit triggers of schema hub stay enabled: only a superuser may disable them'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$$;

CREATE EVENT TRIGGER hub_keep_the_audit_on ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'CREATE FUNCTION', 'ALTER FUNCTION', 'CREATE TRIGGER')
  EXECUTE FUNCTION hub_guard.keep_the_audit_on();
CREATE EVENT TRIGGER hub_keep_the_audit_on_drop ON sql_drop
  EXECUTE FUNCTION hub_guard.keep_the_audit_on();
"""

READ_REVISION = """
DO $$
BEGIN
  IF to_regrole('hub_operator') IS NOT NULL AND to_regclass('public.alembic_version') IS NOT NULL THEN
    GRANT SELECT ON public.alembic_version TO hub_operator;
  END IF;
END
$$;
"""


def upgrade() -> None:
    superuser = op.get_bind().exec_driver_sql(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    if superuser.scalar():
        op.execute(GUARD)
    else:
        op.execute(
            "DO $$ BEGIN RAISE NOTICE 'not a superuser: the event trigger that keeps the audit"
            " triggers on was not created (docs/deploy.md)'; END $$;"
        )
    op.execute(READ_REVISION)


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF to_regrole('hub_operator') IS NOT NULL"
        " AND to_regclass('public.alembic_version') IS NOT NULL THEN"
        " REVOKE SELECT ON public.alembic_version FROM hub_operator; END IF; END $$;"
    )
    op.execute("DROP EVENT TRIGGER IF EXISTS hub_keep_the_audit_on_drop")
    op.execute("DROP EVENT TRIGGER IF EXISTS hub_keep_the_audit_on")
    op.execute("DROP SCHEMA IF EXISTS hub_guard CASCADE")
