"""The change listener's position and heartbeat, one row per listener (hubctl.listener).

`hubctl listen` records here the last audit entry it passed on to Airflow and, every few seconds,
that it is alive, so `hubctl doctor` can tell from any machine whether changes are reaching
Airflow. Operational state, not configuration: no audit triggers (a heartbeat every few seconds
would flood the hash chain), and the runtime login writes it. Before this revision the position
lived in a file beside the snapshot; a listener that finds no row re-parses every unit once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE hub.listener_state (
  name text PRIMARY KEY
    CONSTRAINT ck_listener_state_name_length CHECK (length(name) BETWEEN 1 AND 200),
  -- NULL: no position yet (the listener is re-parsing every unit once).
  last_audit_id bigint CONSTRAINT ck_listener_state_last_audit_id_positive CHECK (last_audit_id >= 0),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz NOT NULL DEFAULT now(),
  host text NOT NULL CONSTRAINT ck_listener_state_host_length CHECK (length(host) <= 300),
  pid integer NOT NULL
);
"""
GRANTS = """
DO $$
BEGIN
  IF to_regrole('hub_operator') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE ON hub.listener_state TO hub_operator;
  END IF;
  IF to_regrole('hub_auditor') IS NOT NULL THEN
    GRANT SELECT ON hub.listener_state TO hub_auditor;
  END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute("DROP TABLE hub.listener_state")
