"""Stored row changes must have the shape hubctl reads; free text has a documented size.

A change request's or scheduled change's ``changes`` is read back as row changes by `requests
list`, `schedule list` and the hub_scheduler job: one malformed list used to break all of them.
A validating trigger refuses such a list on INSERT, for every login (ENABLE ALWAYS). Not a CHECK:
a CHECK is re-checked on every UPDATE, so a bad row stored before this revision could then never
be marked failed, cancelled or rejected. The readers skip such legacy rows and report them.

Reasons, actors, notes and command lines are capped (hubctl.author repeats the limits). The caps
are NOT VALID: history is kept as written and the million-row audit log is not scanned.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

REASON_LIMIT = 2000
ACTOR_LIMIT = 200
TEXT_LIMIT = 4000

# NULL when p is a list of row changes hubctl can read (hubctl.services.row_change), else why not.
# before/after hold every column but the bookkeeping ones: hubctl writes whole rows.
ROW_CHANGES_PROBLEM = """
CREATE FUNCTION hub.row_changes_problem(p jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, hub AS $$
DECLARE c jsonb; i int := 0; keys text[]; cols text[];
BEGIN
  IF jsonb_typeof(p) IS DISTINCT FROM 'array' OR jsonb_array_length(p) = 0 THEN
    RETURN 'changes: not a non-empty list';
  END IF;
  FOR c IN SELECT value FROM jsonb_array_elements(p) LOOP
    i := i + 1;
    IF jsonb_typeof(c) <> 'object' THEN RETURN format('change %s: not an object', i); END IF;
    IF NOT (c ?& ARRAY['table','key','action','before','after'])
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k WHERE k NOT IN
                  ('table','key','action','before','after','version_before','version_after')) THEN
      RETURN format('change %s: keys must be table, key, action, before, after,'
                    ' version_before, version_after', i);
    END IF;
    keys := CASE c->>'table' WHEN 'exchange_groups' THEN ARRAY['group_name']
              WHEN 'dag_configuration' THEN ARRAY['dag_name','job_name']
              WHEN 'tickers' THEN ARRAY['ticker'] END;
    IF keys IS NULL THEN
      RETURN format('change %s: table %s is not a control table', i, c->>'table');
    END IF;
    IF jsonb_typeof(c->'key') <> 'object'
       OR (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c->'key') k)
          <> (SELECT array_agg(k ORDER BY k) FROM unnest(keys) k)
       OR EXISTS (SELECT 1 FROM jsonb_each(c->'key') e WHERE jsonb_typeof(e.value) <> 'string') THEN
      RETURN format('change %s: key must name %s', i, array_to_string(keys, ', '));
    END IF;
    IF NOT (c->>'action' = 'create' AND c->'before' = 'null' AND jsonb_typeof(c->'after') = 'object'
         OR c->>'action' = 'update' AND jsonb_typeof(c->'before') = 'object'
            AND jsonb_typeof(c->'after') = 'object'
         OR c->>'action' = 'delete' AND jsonb_typeof(c->'before') = 'object' AND c->'after' = 'null') THEN
      RETURN format('change %s: action, before and after do not agree', i);
    END IF;
    IF coalesce(jsonb_typeof(c->'version_before'), 'null') NOT IN ('null','number')
       OR coalesce(jsonb_typeof(c->'version_after'), 'null') NOT IN ('null','number') THEN
      RETURN format('change %s: versions must be integers or null', i);
    END IF;
    SELECT array_agg(attname::text ORDER BY attname::text) INTO cols FROM pg_attribute
     WHERE attrelid = ('hub.' || (c->>'table'))::regclass AND attnum > 0 AND NOT attisdropped
       AND attname::text <> ALL (hub.bookkeeping_columns());
    IF c->'after' <> 'null'
       AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c->'after') k) <> cols
       OR c->'before' <> 'null'
       AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(c->'before') k) <> cols THEN
      RETURN format('change %s: before and after must hold exactly the fields %s',
                    i, array_to_string(cols, ', '));
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION hub.check_row_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
DECLARE problem text := hub.row_changes_problem(NEW.changes);
BEGIN
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '%: %', TG_ARGV[0], problem USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
"""
# Named to fire before the tables' other BEFORE INSERT triggers (PostgreSQL fires them by name).
CHECK_TRIGGERS = {
    "change_requests": "change request",
    "scheduled_changes": "scheduled change",
}
# (table, column, most characters); NOT VALID: rows written before are kept and not scanned.
LIMITS = (
    ("audit_log", "reason", REASON_LIMIT),
    ("audit_log", "actor", ACTOR_LIMIT),
    ("change_requests", "reason", REASON_LIMIT),
    ("change_requests", "requester", ACTOR_LIMIT),
    ("break_glass_acks", "note", REASON_LIMIT),
    ("scheduled_changes", "reason", REASON_LIMIT),
    ("scheduled_changes", "actor", ACTOR_LIMIT),
    ("scheduled_changes", "command", TEXT_LIMIT),
    ("scheduled_changes", "note", TEXT_LIMIT),
)


def upgrade() -> None:
    op.execute(ROW_CHANGES_PROBLEM)
    for table, what in CHECK_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_check_changes BEFORE INSERT ON hub.{table}"
            f" FOR EACH ROW EXECUTE FUNCTION hub.check_row_changes('{what}');"
            f" ALTER TABLE hub.{table} ENABLE ALWAYS TRIGGER {table}_check_changes"
        )
    for table, column, limit in LIMITS:
        op.execute(
            f"ALTER TABLE hub.{table} ADD CONSTRAINT ck_{table}_{column}_length"
            f" CHECK (length({column}) <= {limit}) NOT VALID"
        )


def downgrade() -> None:
    for table, column, _ in reversed(LIMITS):
        op.execute(f"ALTER TABLE hub.{table} DROP CONSTRAINT ck_{table}_{column}_length")
    for table in CHECK_TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_check_changes ON hub.{table}")
    op.execute("DROP FUNCTION hub.check_row_changes()")
    op.execute("DROP FUNCTION hub.row_changes_problem(jsonb)")
