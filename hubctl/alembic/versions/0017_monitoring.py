"""Monitoring: alert thresholds and silences on the control rows, and the alerts' operational state.

Thresholds and silences are fields of the jobs and the groups (hubctl.tables describes them), so
they are validated, audited and protected by four-eyes like every other field. Alerts, their
deliveries, the source fetches of collection and the runs the monitor read are operational state:
no audit trigger (a `last_seen` update every few minutes would flood the hash chain), written by
the runtime login (hub_operator), read by the page's login and the auditors.

An index on (a, b) serves `WHERE a = ? ORDER BY b DESC` by scanning backwards: no DESC index.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import json
import re

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

JOB_RULES = ("failure_rate", "task_duration")
GROUP_RULES = ("data_late", "source_unreachable")
RULES = (*JOB_RULES, *GROUP_RULES)

# hubctl.tables.silence_until agrees: an ISO 8601 moment with a zone.
SILENCES_VALID = r"""
CREATE FUNCTION hub.silences_valid(s jsonb, rules text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, hub AS $$
DECLARE entry record;
BEGIN
  IF jsonb_typeof(s) <> 'object' THEN RETURN false; END IF;
  FOR entry IN SELECT key, value FROM jsonb_each(s) LOOP
    IF NOT (entry.key = ANY(rules)) OR jsonb_typeof(entry.value) <> 'string'
       OR (entry.value #>> '{}') !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}'
                                     '(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})$') THEN
      RETURN false;
    END IF;
    BEGIN
      PERFORM (entry.value #>> '{}')::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
      RETURN false;
    END;
  END LOOP;
  RETURN true;
END $$;
"""


def _array(rules: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{rule}'" for rule in rules) + "]"


COLUMNS = {
    "dag_configuration": [
        ("failure_rate_percent", "integer NOT NULL DEFAULT 5", "failure_rate_percent BETWEEN 1 AND 100"),
        ("failure_rate_runs", "integer NOT NULL DEFAULT 20", "failure_rate_runs BETWEEN 1 AND 1000"),
        ("task_minutes", "integer NOT NULL DEFAULT 30", "task_minutes BETWEEN 1 AND 10080"),
        ("silences", "jsonb NOT NULL DEFAULT '{}'", f"hub.silences_valid(silences, {_array(JOB_RULES)})"),
    ],
    "exchange_groups": [
        ("data_late_minutes", "integer NOT NULL DEFAULT 60", "data_late_minutes BETWEEN 1 AND 10080"),
        ("unreachable_fetches", "integer NOT NULL DEFAULT 3", "unreachable_fetches BETWEEN 1 AND 1000"),
        ("silences", "jsonb NOT NULL DEFAULT '{}'", f"hub.silences_valid(silences, {_array(GROUP_RULES)})"),
    ],
}  # fmt: skip

TABLES = f"""
CREATE TABLE hub.alerts (
  id bigserial PRIMARY KEY,
  rule text NOT NULL CONSTRAINT ck_alerts_rule CHECK (rule IN ({", ".join(f"'{r}'" for r in RULES)})),
  subject text NOT NULL CONSTRAINT ck_alerts_subject_length CHECK (length(subject) BETWEEN 1 AND 500),
  exchange_group text,
  dag_id text,
  value double precision NOT NULL,
  threshold double precision NOT NULL,
  detail text NOT NULL DEFAULT '' CONSTRAINT ck_alerts_detail_length CHECK (length(detail) <= 4000),
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  resolved_at timestamptz
);
-- One open alert per (rule, subject).
CREATE UNIQUE INDEX uq_alerts_open ON hub.alerts (rule, subject) WHERE resolved_at IS NULL;
CREATE INDEX ix_alerts_exchange_group ON hub.alerts (exchange_group);

-- The outbox: one delivery per transition of an alert.
CREATE TABLE hub.alert_deliveries (
  alert_id bigint NOT NULL REFERENCES hub.alerts (id) ON DELETE CASCADE,
  event text NOT NULL CONSTRAINT ck_alert_deliveries_event CHECK (event IN ('opened', 'resolved')),
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  PRIMARY KEY (alert_id, event)
);
CREATE INDEX ix_alert_deliveries_pending ON hub.alert_deliveries (created_at)
  WHERE delivered_at IS NULL;

-- Each call of a collection batch to the market-data source.
CREATE TABLE hub.source_fetches (
  id bigserial PRIMARY KEY,
  exchange_group text NOT NULL,
  dag_id text,
  run_id text,
  fetched_at timestamptz NOT NULL DEFAULT now(),
  ok boolean NOT NULL,
  error text CONSTRAINT ck_source_fetches_error_length CHECK (length(error) <= 4000)
);
CREATE INDEX ix_source_fetches_group_id ON hub.source_fetches (exchange_group, id);

-- The DAG runs the monitor read from Airflow's API.
CREATE TABLE hub.monitored_runs (
  dag_id text NOT NULL,
  run_id text NOT NULL,
  state text,
  start_date timestamptz,
  end_date timestamptz,
  duration_seconds double precision,
  updated_at timestamptz,
  PRIMARY KEY (dag_id, run_id)
);
CREATE INDEX ix_monitored_runs_dag_end ON hub.monitored_runs (dag_id, end_date);

CREATE TABLE hub.monitor_state (
  id boolean PRIMARY KEY DEFAULT true CONSTRAINT ck_monitor_state_singleton CHECK (id),
  runs_cursor timestamptz,
  tasks_cursor timestamptz,
  evaluated_at timestamptz,
  api_calls integer,
  last_error text
);
"""
OPERATIONAL = (
    "hub.alerts, hub.alert_deliveries, hub.source_fetches, hub.monitored_runs, hub.monitor_state"
)
# Alerts are kept (resolved, not deleted); fetches and runs read from Airflow may be pruned.
GRANTS = f"""
DO $$
BEGIN
  IF to_regrole('hub_operator') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE ON {OPERATIONAL} TO hub_operator;
    GRANT DELETE ON hub.source_fetches, hub.monitored_runs TO hub_operator;
    GRANT USAGE ON SEQUENCE hub.alerts_id_seq, hub.source_fetches_id_seq TO hub_operator;
  END IF;
  IF to_regrole('hub_auditor') IS NOT NULL THEN
    GRANT SELECT ON {OPERATIONAL} TO hub_auditor;
  END IF;
END
$$;
"""


def _added_defaults() -> dict[str, dict[str, object]]:
    """Per table, the added columns' defaults as JSON (from the definitions above)."""
    return {
        table: {
            name: json.loads(re.search(r"DEFAULT (\S+)", definition)[1].strip("'"))  # type: ignore[index]
            for name, definition, _ in columns
        }
        for table, columns in COLUMNS.items()
    }


# A change request stored before this revision that creates a row does not name the added
# columns; the row it writes has their defaults, which is what was approved. Comparing against
# the defaults (not NULL) lets it apply, and still refuses a row with any other value.
def _entry_matches_changes(base: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION hub.entry_matches_changes(a hub.audit_log, p_changes jsonb) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p_changes) c
     WHERE c->>'table' = a.table_name AND c->'key' = a.row_key
       AND c->>'action' = CASE a.action WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' WHEN 'DELETE' THEN 'delete' END
       AND (a.old_row->'version') IS NOT DISTINCT FROM nullif(c->'version_before', 'null')
       AND (a.action = 'DELETE'
            OR hub.as_row(a.table_name, coalesce(a.old_row, {base}) || (c->'after'))
               = (a.new_row - hub.bookkeeping_columns())))
$$;
"""


CREATED_ROWS_GET_DEFAULTS = _entry_matches_changes(
    f"coalesce('{json.dumps(_added_defaults())}'::jsonb -> a.table_name, '{{}}')"
)
CREATED_ROWS_AS_BEFORE = _entry_matches_changes("'{}'")


def upgrade() -> None:
    op.execute(SILENCES_VALID)
    for table, columns in COLUMNS.items():
        for name, definition, check in columns:
            op.execute(
                f"ALTER TABLE hub.{table} ADD COLUMN {name} {definition}"
                f" CONSTRAINT ck_{table}_{name}_valid CHECK ({check})"
            )
    op.execute(TABLES)
    op.execute(GRANTS)
    op.execute(CREATED_ROWS_GET_DEFAULTS)


def downgrade() -> None:
    op.execute(CREATED_ROWS_AS_BEFORE)
    op.execute(
        "DROP TABLE hub.monitor_state, hub.monitored_runs, hub.source_fetches,"
        " hub.alert_deliveries, hub.alerts"
    )
    for table, columns in COLUMNS.items():
        for name, _, _ in reversed(columns):
            op.execute(f"ALTER TABLE hub.{table} DROP COLUMN {name}")
    op.execute("DROP FUNCTION hub.silences_valid(jsonb, text[])")
