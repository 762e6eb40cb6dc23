"""Every audited change is announced on the `hub_changes` channel (pg_notify), for the listener.

The audit triggers already see every write by every path (hubctl, the SQL API, raw SQL, the web
page). Rather than edit them, a trigger on hub.audit_log itself notifies after each entry is
appended: the audit functions and the hash chain stay byte-for-byte what they were, and TRUNCATE
entries are covered too. NOTIFY is transactional, so a listener hears only committed changes,
in commit order.

The payload is JSON: ``{"id": audit id, "table": table, "groups": [...]}`` where groups are the
exchange groups whose DAGs the change can affect (a JSON null element: jobs without a group),
``[]`` for a table no DAG is built from (tickers are read when tasks run), and ``null`` for
"every group" (a TRUNCATE). hub.audit_affected_groups computes the same from any audit row, so
the listener catches up from the log with the same answer.

Revision ID: 0010
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

CHANNEL = "hub_changes"

UPGRADE = f"""
CREATE FUNCTION hub.audit_affected_groups(p_table text, p_action text, p_old jsonb, p_new jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN p_table NOT IN ('exchange_groups', 'dag_configuration') THEN '[]'::jsonb
    WHEN p_action = 'TRUNCATE' THEN NULL
    ELSE (
      SELECT coalesce(jsonb_agg(DISTINCT r.row_value -> k.key_name), '[]'::jsonb)
        FROM (VALUES (p_old), (p_new)) AS r(row_value),
             (VALUES (CASE p_table WHEN 'exchange_groups' THEN 'group_name'
                                   ELSE 'exchange_group' END)) AS k(key_name)
       WHERE r.row_value IS NOT NULL)
  END
$$;

CREATE FUNCTION hub.notify_audit_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', jsonb_build_object(
    'id', NEW.id,
    'table', NEW.table_name,
    'groups', hub.audit_affected_groups(NEW.table_name, NEW.action, NEW.old_row, NEW.new_row)
  )::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_notify AFTER INSERT ON hub.audit_log
  FOR EACH ROW EXECUTE FUNCTION hub.notify_audit_entry();
ALTER TABLE hub.audit_log ENABLE ALWAYS TRIGGER audit_log_notify;
"""

DOWNGRADE = """
DROP TRIGGER audit_log_notify ON hub.audit_log;
DROP FUNCTION hub.notify_audit_entry();
DROP FUNCTION hub.audit_affected_groups(text, text, jsonb, jsonb);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
