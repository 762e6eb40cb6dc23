"""Scheduled changes: captured write commands to apply at a later time, audited like the config.

`hubctl schedule add --at TIME <write command>` stores the rows the command would write, each with
the version of its target row then (its base). The hub_scheduler job applies due ones with
`via = 'schedule'`, so the audit_log CHECK learns that value. The table has the control tables'
bookkeeping and audit triggers: every state change is in the hash chain.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATES = "'scheduled', 'applied', 'suspended', 'cancelled', 'failed'"
TABLE = f"""
CREATE TABLE hub.scheduled_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_at timestamptz NOT NULL,
  command text NOT NULL,
  changes jsonb NOT NULL CONSTRAINT ck_scheduled_changes_changes_list
    CHECK (jsonb_typeof(changes) = 'array' AND jsonb_array_length(changes) > 0),
  actor text NOT NULL,
  reason text,
  state text NOT NULL DEFAULT 'scheduled'
    CONSTRAINT ck_scheduled_changes_state CHECK (state IN ({STATES})),
  note text,
  applied_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT session_user,
  CONSTRAINT ck_scheduled_changes_applied_at CHECK ((state = 'applied') = (applied_at IS NOT NULL))
);
-- What the scheduler looks for every minute.
CREATE INDEX ix_scheduled_changes_due ON hub.scheduled_changes (run_at) WHERE state = 'scheduled';
CREATE TRIGGER scheduled_changes_touch BEFORE INSERT OR UPDATE ON hub.scheduled_changes
  FOR EACH ROW EXECUTE FUNCTION hub.touch_row();
CREATE TRIGGER scheduled_changes_audit AFTER INSERT OR UPDATE OR DELETE ON hub.scheduled_changes
  FOR EACH ROW EXECUTE FUNCTION hub.audit_row_change('id');
CREATE TRIGGER scheduled_changes_audit_truncate BEFORE TRUNCATE ON hub.scheduled_changes
  FOR EACH STATEMENT EXECUTE FUNCTION hub.audit_truncate();
ALTER TABLE hub.scheduled_changes ENABLE ALWAYS TRIGGER scheduled_changes_touch;
ALTER TABLE hub.scheduled_changes ENABLE ALWAYS TRIGGER scheduled_changes_audit;
ALTER TABLE hub.scheduled_changes ENABLE ALWAYS TRIGGER scheduled_changes_audit_truncate;
"""
# Cancelling is a state, so nobody but the owner deletes a scheduled change.
GRANTS = {
    "hub_operator": "GRANT SELECT, INSERT, UPDATE ON hub.scheduled_changes TO hub_operator",
    "hub_auditor": "GRANT SELECT ON hub.scheduled_changes TO hub_auditor",
}


def _when_role_exists(role: str, statement: str) -> str:
    return (
        f"DO $$ BEGIN IF to_regrole('{role}') IS NOT NULL THEN EXECUTE '{statement}'; END IF;"
        " END $$;"
    )


def _via_check(values: str) -> None:
    op.execute("ALTER TABLE hub.audit_log DROP CONSTRAINT ck_audit_log_via")
    op.execute(
        f"ALTER TABLE hub.audit_log ADD CONSTRAINT ck_audit_log_via CHECK (via IN ({values}))"
    )


def upgrade() -> None:
    _via_check("'hubctl', 'sql', 'web', 'schedule'")
    op.execute(TABLE)
    for role, statement in GRANTS.items():
        op.execute(_when_role_exists(role, statement))


def downgrade() -> None:
    op.execute("DROP TABLE hub.scheduled_changes")
    _via_check("'hubctl', 'sql', 'web'")
