"""Control plane: schema hub, its tables, validators, the tamper-evident audit and the seed's SQL API.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SLUG = r"^[a-z][a-z0-9_]{0,62}$"
EXCHANGE_CODE = r"[A-Z][A-Z0-9_]{0,15}"
BOOKKEEPING = "ARRAY['version', 'created_at', 'updated_at', 'updated_by']"

VALIDATORS = r"""
CREATE SCHEMA hub;

-- Validators used by CHECK constraints. They are the database's copy of hubctl.schemas'
-- rules, so raw SQL cannot store a row that the generator cannot build.
CREATE FUNCTION hub.cpu_millicores(q text) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE
    WHEN q ~ '^[0-9]{1,9}m$' THEN rtrim(q, 'm')::numeric
    WHEN q ~ '^[0-9]{1,6}(\.[0-9]{1,3})?$' THEN q::numeric * 1000
  END
$$;

CREATE FUNCTION hub.memory_bytes(q text) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT m[1]::numeric * CASE coalesce(m[2], '')
      WHEN '' THEN 1 WHEN 'k' THEN 1e3 WHEN 'M' THEN 1e6 WHEN 'G' THEN 1e9 WHEN 'T' THEN 1e12
      WHEN 'Ki' THEN 1024 WHEN 'Mi' THEN 1024^2 WHEN 'Gi' THEN 1024^3 WHEN 'Ti' THEN 1024^4
    END
  FROM regexp_match(q, '^([0-9]{1,12}(?:\.[0-9]{1,3})?)(k|M|G|T|Ki|Mi|Gi|Ti)?$') AS m
$$;

CREATE FUNCTION hub.is_valid_timezone(tz text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = tz)
$$;

CREATE FUNCTION hub.cron_field_value(token text, field integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE
    WHEN token ~ '^[0-9]{1,2}$' THEN token::integer
    WHEN field = 4 THEN array_position(
      ARRAY['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'], token)
    WHEN field = 5 THEN array_position(ARRAY['SUN','MON','TUE','WED','THU','FRI','SAT'], token) - 1
  END
$$;

-- A five-field cron expression (numbers, names, ranges, lists, steps) or an Airflow preset.
CREATE FUNCTION hub.is_valid_schedule(s text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  lowest integer[] := ARRAY[0, 0, 1, 1, 0];
  highest integer[] := ARRAY[59, 23, 31, 12, 7];
  fields text[] := regexp_split_to_array(btrim(s), '\s+');
  item text;
  m text[];
  first_value integer;
  last_value integer;
BEGIN
  IF s IN ('@once', '@hourly', '@daily', '@weekly', '@monthly', '@quarterly', '@yearly',
           '@annually', '@continuous') THEN
    RETURN true;
  END IF;
  IF coalesce(array_length(fields, 1), 0) <> 5 THEN
    RETURN false;
  END IF;
  FOR i IN 1..5 LOOP
    FOREACH item IN ARRAY string_to_array(fields[i], ',') LOOP
      m := regexp_match(upper(item), '^(\*|([0-9A-Z]{1,3})(-([0-9A-Z]{1,3}))?)(/([0-9]{1,2}))?$');
      IF m IS NULL OR m[6]::integer = 0 THEN
        RETURN false;
      END IF;
      CONTINUE WHEN m[1] = '*';
      first_value := hub.cron_field_value(m[2], i);
      last_value := CASE WHEN m[4] IS NULL THEN first_value ELSE hub.cron_field_value(m[4], i) END;
      IF first_value IS NULL OR last_value IS NULL OR first_value < lowest[i]
         OR last_value > highest[i] OR first_value > last_value THEN
        RETURN false;
      END IF;
    END LOOP;
  END LOOP;
  RETURN true;
END
$$;
"""

TABLES = rf"""
CREATE TABLE hub.exchange_groups (
  group_name text PRIMARY KEY
    CONSTRAINT ck_exchange_groups_group_name_slug CHECK (group_name ~ '{SLUG}'),
  display_name text NOT NULL
    CONSTRAINT ck_exchange_groups_display_name_length
    CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
  exchanges text[] NOT NULL
    CONSTRAINT ck_exchange_groups_exchanges_codes
    CHECK (array_ndims(exchanges) = 1
           AND array_to_string(exchanges, ',', '*') ~ '^{EXCHANGE_CODE}(,{EXCHANGE_CODE})*$'),
  primary_timezone text NOT NULL
    CONSTRAINT ck_exchange_groups_primary_timezone_iana CHECK (hub.is_valid_timezone(primary_timezone)),
  market_open time NOT NULL DEFAULT '09:30',
  market_close time NOT NULL DEFAULT '16:00',
  enabled boolean NOT NULL DEFAULT true,
  priority integer NOT NULL DEFAULT 5
    CONSTRAINT ck_exchange_groups_priority_range CHECK (priority BETWEEN 1 AND 10),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT session_user,
  CONSTRAINT ck_exchange_groups_market_hours CHECK (market_open < market_close)
);

CREATE TABLE hub.dag_configuration (
  dag_name text NOT NULL CONSTRAINT ck_dag_configuration_dag_name_slug CHECK (dag_name ~ '{SLUG}'),
  job_name text NOT NULL CONSTRAINT ck_dag_configuration_job_name_slug CHECK (job_name ~ '{SLUG}'),
  exchange_group text
    CONSTRAINT fk_dag_configuration_exchange_group REFERENCES hub.exchange_groups (group_name)
    ON UPDATE CASCADE ON DELETE RESTRICT,
  schedule text CONSTRAINT ck_dag_configuration_schedule_valid CHECK (hub.is_valid_schedule(schedule)),
  cpu_request text NOT NULL DEFAULT '500m'
    CONSTRAINT ck_dag_configuration_cpu_request_quantity CHECK (coalesce(hub.cpu_millicores(cpu_request), 0) > 0),
  cpu_limit text NOT NULL DEFAULT '2000m'
    CONSTRAINT ck_dag_configuration_cpu_limit_quantity CHECK (coalesce(hub.cpu_millicores(cpu_limit), 0) > 0),
  memory_request text NOT NULL DEFAULT '1Gi'
    CONSTRAINT ck_dag_configuration_memory_request_quantity CHECK (coalesce(hub.memory_bytes(memory_request), 0) > 0),
  memory_limit text NOT NULL DEFAULT '2Gi'
    CONSTRAINT ck_dag_configuration_memory_limit_quantity CHECK (coalesce(hub.memory_bytes(memory_limit), 0) > 0),
  batch_size integer NOT NULL DEFAULT 500
    CONSTRAINT ck_dag_configuration_batch_size_positive CHECK (batch_size > 0),
  timeout_seconds integer NOT NULL DEFAULT 3600
    CONSTRAINT ck_dag_configuration_timeout_seconds_positive CHECK (timeout_seconds > 0),
  max_retries integer NOT NULL DEFAULT 3
    CONSTRAINT ck_dag_configuration_max_retries_non_negative CHECK (max_retries >= 0),
  retry_delay_minutes integer NOT NULL DEFAULT 5
    CONSTRAINT ck_dag_configuration_retry_delay_minutes_non_negative CHECK (retry_delay_minutes >= 0),
  max_active_tasks integer NOT NULL DEFAULT 16
    CONSTRAINT ck_dag_configuration_max_active_tasks_positive CHECK (max_active_tasks > 0),
  enabled boolean NOT NULL DEFAULT true,
  priority integer NOT NULL DEFAULT 5
    CONSTRAINT ck_dag_configuration_priority_range CHECK (priority BETWEEN 1 AND 10),
  params jsonb NOT NULL DEFAULT '{{}}'
    CONSTRAINT ck_dag_configuration_params_object CHECK (jsonb_typeof(params) = 'object'),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT session_user,
  CONSTRAINT pk_dag_configuration PRIMARY KEY (dag_name, job_name),
  CONSTRAINT ck_dag_configuration_cpu_request_le_limit
    CHECK (hub.cpu_millicores(cpu_request) <= hub.cpu_millicores(cpu_limit)),
  CONSTRAINT ck_dag_configuration_memory_request_le_limit
    CHECK (hub.memory_bytes(memory_request) <= hub.memory_bytes(memory_limit))
);
CREATE INDEX ix_dag_configuration_exchange_group ON hub.dag_configuration (exchange_group);

CREATE TABLE hub.tickers (
  ticker text PRIMARY KEY
    CONSTRAINT ck_tickers_ticker_symbol CHECK (ticker ~ '^[A-Z0-9^][A-Z0-9.=^-]{{0,31}}$'),
  exchange text NOT NULL CONSTRAINT ck_tickers_exchange_code CHECK (exchange ~ '^{EXCHANGE_CODE}$'),
  groupings text[] NOT NULL DEFAULT '{{}}'
    CONSTRAINT ck_tickers_groupings_slugs
    CHECK (array_to_string(groupings, ',', '*') ~ '^([a-z0-9][a-z0-9_]{{0,62}}(,[a-z0-9][a-z0-9_]{{0,62}})*)?$'),
  enabled boolean NOT NULL DEFAULT true,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT session_user
);
CREATE INDEX ix_tickers_exchange ON hub.tickers (exchange);
"""

AUDIT = rf"""
CREATE SEQUENCE hub.audit_log_id_seq;
CREATE TABLE hub.audit_log (
  id bigint PRIMARY KEY DEFAULT nextval('hub.audit_log_id_seq'),
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  txid bigint NOT NULL DEFAULT txid_current(),
  table_name text NOT NULL,
  action text NOT NULL
    CONSTRAINT ck_audit_log_action CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
  row_key jsonb,
  old_row jsonb,
  new_row jsonb,
  changed_fields jsonb,
  actor text NOT NULL,
  reason text,
  via text NOT NULL CONSTRAINT ck_audit_log_via CHECK (via IN ('hubctl', 'sql')),
  db_user text NOT NULL,
  client_addr inet,
  application_name text,
  change_set text,
  prev_hash text,
  row_hash text NOT NULL
);
ALTER SEQUENCE hub.audit_log_id_seq OWNED BY hub.audit_log.id;
CREATE INDEX ix_audit_log_occurred_at ON hub.audit_log (occurred_at);
CREATE INDEX ix_audit_log_table_name_row_key ON hub.audit_log (table_name, row_key);
CREATE INDEX ix_audit_log_change_set ON hub.audit_log (change_set);

-- The end of the hash chain. Locking this row serialises audited writers, so the chain has one
-- order even with concurrent transactions; it also lets verify notice rows cut from the tail.
CREATE TABLE hub.audit_chain_head (
  id integer PRIMARY KEY CONSTRAINT ck_audit_chain_head_single_row CHECK (id = 1),
  last_id bigint,
  last_hash text
);
INSERT INTO hub.audit_chain_head (id) VALUES (1);

CREATE FUNCTION hub.bookkeeping_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT {BOOKKEEPING} $$;

CREATE FUNCTION hub.current_actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('hub.actor', true), ''), session_user::text)
$$;

-- The hash input: every column but the hashes, in a form that does not depend on the session
-- (occurred_at as epoch microseconds, not in the session's TimeZone). hubctl.audit repeats it.
CREATE FUNCTION hub.audit_canonical(a hub.audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_array(
    a.id, (extract(epoch FROM a.occurred_at) * 1000000)::bigint, a.txid, a.table_name, a.action,
    a.row_key, a.old_row, a.new_row, a.changed_fields, a.actor, a.reason, a.via, a.db_user,
    host(a.client_addr), a.application_name, a.change_set
  )::text
$$;

CREATE FUNCTION hub.append_audit(
  p_table text, p_action text, p_key jsonb, p_old jsonb, p_new jsonb, p_changed jsonb
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE
  actor_setting text := nullif(current_setting('hub.actor', true), '');
  entry hub.audit_log%ROWTYPE;
BEGIN
  SELECT last_hash INTO entry.prev_hash FROM hub.audit_chain_head WHERE id = 1 FOR UPDATE;
  entry.id := nextval('hub.audit_log_id_seq');
  entry.occurred_at := clock_timestamp();
  entry.txid := txid_current();
  entry.table_name := p_table;
  entry.action := p_action;
  entry.row_key := p_key;
  entry.old_row := p_old;
  entry.new_row := p_new;
  entry.changed_fields := p_changed;
  entry.actor := coalesce(actor_setting, session_user::text);
  entry.reason := nullif(current_setting('hub.reason', true), '');
  entry.via := coalesce(nullif(current_setting('hub.via', true), ''),
                        CASE WHEN actor_setting IS NULL THEN 'sql' ELSE 'hubctl' END);
  entry.db_user := session_user;
  entry.client_addr := inet_client_addr();
  entry.application_name := nullif(current_setting('application_name', true), '');
  entry.change_set := nullif(current_setting('hub.change_set', true), '');
  entry.row_hash := encode(
    sha256(convert_to(coalesce(entry.prev_hash, '') || hub.audit_canonical(entry), 'UTF8')), 'hex');
  INSERT INTO hub.audit_log SELECT entry.*;
  UPDATE hub.audit_chain_head SET last_id = entry.id, last_hash = entry.row_hash WHERE id = 1;
END
$$;

-- Keeps version, created_at, updated_at and updated_by true whatever the writer sends; a version
-- moves only when a real column changed, which is what optimistic concurrency compares.
CREATE FUNCTION hub.touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.created_at := now();
    NEW.updated_at := now();
    NEW.updated_by := hub.current_actor();
  ELSIF (to_jsonb(NEW) - hub.bookkeeping_columns()) IS DISTINCT FROM
        (to_jsonb(OLD) - hub.bookkeeping_columns()) THEN
    NEW.version := OLD.version + 1;
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
    NEW.updated_by := hub.current_actor();
  ELSE
    NEW.version := OLD.version;
    NEW.created_at := OLD.created_at;
    NEW.updated_at := OLD.updated_at;
    NEW.updated_by := OLD.updated_by;
  END IF;
  RETURN NEW;
END
$$;

-- Trigger arguments name the key columns of the table.
CREATE FUNCTION hub.audit_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  changed jsonb;
  row_key jsonb := '{{}}';
  key_column text;
BEGIN
  SELECT jsonb_object_agg(f.name, jsonb_build_object('old', old_row -> f.name, 'new', new_row -> f.name))
    INTO changed
    FROM jsonb_object_keys(coalesce(new_row, old_row)) AS f(name)
   WHERE f.name <> ALL (hub.bookkeeping_columns())
     AND (old_row -> f.name) IS DISTINCT FROM (new_row -> f.name);
  IF changed IS NULL THEN
    RETURN NULL;
  END IF;
  FOREACH key_column IN ARRAY TG_ARGV LOOP
    row_key := row_key || jsonb_build_object(key_column, coalesce(new_row, old_row) -> key_column);
  END LOOP;
  PERFORM hub.append_audit(TG_TABLE_NAME, TG_OP, row_key, old_row, new_row, changed);
  RETURN NULL;
END
$$;

-- BEFORE TRUNCATE, so the rows that disappear are in the audit entry.
CREATE FUNCTION hub.audit_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE
  old_rows jsonb;
BEGIN
  EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t)), ''[]'') FROM %I.%I t',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO old_rows;
  PERFORM hub.append_audit(TG_TABLE_NAME, 'TRUNCATE', NULL, old_rows, NULL, NULL);
  RETURN NULL;
END
$$;

CREATE FUNCTION hub.reject_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'hub.audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON hub.audit_log
  FOR EACH ROW EXECUTE FUNCTION hub.reject_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON hub.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION hub.reject_audit_change();
ALTER TABLE hub.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE hub.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON hub.audit_chain_head
  FOR EACH ROW EXECUTE FUNCTION hub.reject_audit_change();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON hub.audit_chain_head
  FOR EACH STATEMENT EXECUTE FUNCTION hub.reject_audit_change();
ALTER TABLE hub.audit_chain_head ENABLE ALWAYS TRIGGER audit_chain_head_no_delete;
ALTER TABLE hub.audit_chain_head ENABLE ALWAYS TRIGGER audit_chain_head_no_truncate;
REVOKE ALL ON hub.audit_log, hub.audit_chain_head FROM PUBLIC;
-- append_audit runs with its owner's rights: only the triggers may call it, or anyone could forge
-- entries that verify.
REVOKE EXECUTE ON FUNCTION hub.append_audit(text, text, jsonb, jsonb, jsonb, jsonb) FROM PUBLIC;
"""

CONTROL_TABLES = {
    "exchange_groups": ["group_name"],
    "dag_configuration": ["dag_name", "job_name"],
    "tickers": ["ticker"],
}


def audit_triggers(table: str, key_columns: list[str]) -> str:
    keys = ", ".join(f"'{column}'" for column in key_columns)
    return f"""
CREATE TRIGGER {table}_touch BEFORE INSERT OR UPDATE ON hub.{table}
  FOR EACH ROW EXECUTE FUNCTION hub.touch_row();
CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON hub.{table}
  FOR EACH ROW EXECUTE FUNCTION hub.audit_row_change({keys});
CREATE TRIGGER {table}_audit_truncate BEFORE TRUNCATE ON hub.{table}
  FOR EACH STATEMENT EXECUTE FUNCTION hub.audit_truncate();
ALTER TABLE hub.{table} ENABLE ALWAYS TRIGGER {table}_touch;
ALTER TABLE hub.{table} ENABLE ALWAYS TRIGGER {table}_audit;
ALTER TABLE hub.{table} ENABLE ALWAYS TRIGGER {table}_audit_truncate;
"""


CONFIG_COLUMNS = (
    "cpu_request text, cpu_limit text, memory_request text, memory_limit text, batch_size integer,"
    " timeout_seconds integer, max_retries integer, retry_delay_minutes integer, enabled boolean,"
    " priority integer, schedule text, exchange_group text, max_active_tasks integer, params jsonb,"
    " version integer"
)
CONFIG_SELECT = (
    "c.cpu_request, c.cpu_limit, c.memory_request, c.memory_limit, c.batch_size, c.timeout_seconds,"
    " c.max_retries, c.retry_delay_minutes, c.enabled, c.priority, c.schedule, c.exchange_group,"
    " c.max_active_tasks, c.params, c.version"
)

SQL_API = rf"""
-- The seed's SQL interface, kept for SQL users (seed 002). Defaults when no row exists must equal
-- the column defaults above; tests/test_sql_functions.py compares them.
CREATE FUNCTION hub.get_dag_config(p_dag_name text, p_job_name text)
RETURNS TABLE ({CONFIG_COLUMNS})
LANGUAGE sql STABLE AS $$
  SELECT {CONFIG_SELECT}
    FROM hub.dag_configuration c WHERE c.dag_name = p_dag_name AND c.job_name = p_job_name
  UNION ALL
  SELECT '500m', '2000m', '1Gi', '2Gi', 500, 3600, 3, 5, true, 5, NULL, NULL, 16, '{{}}'::jsonb, 0
   WHERE NOT EXISTS (SELECT 1 FROM hub.dag_configuration c
                      WHERE c.dag_name = p_dag_name AND c.job_name = p_job_name)
$$;

CREATE FUNCTION hub.get_exchange_groups()
RETURNS TABLE (group_name text, display_name text, exchanges text[], primary_timezone text,
               market_open time, market_close time, priority integer)
LANGUAGE sql STABLE AS $$
  SELECT g.group_name, g.display_name, g.exchanges, g.primary_timezone, g.market_open,
         g.market_close, g.priority
    FROM hub.exchange_groups g WHERE g.enabled ORDER BY g.priority DESC, g.group_name
$$;

-- Creates the row when missing (only the supplied columns; the rest take their defaults) and
-- returns the new version. p_updated_by becomes the audited actor for this call only.
CREATE FUNCTION hub.update_dag_config(
  p_dag_name text, p_job_name text,
  p_cpu_request text DEFAULT NULL, p_cpu_limit text DEFAULT NULL,
  p_memory_request text DEFAULT NULL, p_memory_limit text DEFAULT NULL,
  p_batch_size integer DEFAULT NULL, p_timeout_seconds integer DEFAULT NULL,
  p_max_retries integer DEFAULT NULL, p_retry_delay_minutes integer DEFAULT NULL,
  p_enabled boolean DEFAULT NULL, p_priority integer DEFAULT NULL,
  p_updated_by text DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  supplied jsonb := jsonb_strip_nulls(jsonb_build_object(
    'cpu_request', p_cpu_request, 'cpu_limit', p_cpu_limit,
    'memory_request', p_memory_request, 'memory_limit', p_memory_limit,
    'batch_size', p_batch_size, 'timeout_seconds', p_timeout_seconds,
    'max_retries', p_max_retries, 'retry_delay_minutes', p_retry_delay_minutes,
    'enabled', p_enabled, 'priority', p_priority));
  previous_actor text := current_setting('hub.actor', true);
  previous_via text := current_setting('hub.via', true);
  new_version integer;
BEGIN
  IF p_updated_by IS NOT NULL THEN
    PERFORM set_config('hub.actor', p_updated_by, true), set_config('hub.via', 'sql', true);
  END IF;
  UPDATE hub.dag_configuration c SET
    cpu_request = coalesce(p_cpu_request, c.cpu_request),
    cpu_limit = coalesce(p_cpu_limit, c.cpu_limit),
    memory_request = coalesce(p_memory_request, c.memory_request),
    memory_limit = coalesce(p_memory_limit, c.memory_limit),
    batch_size = coalesce(p_batch_size, c.batch_size),
    timeout_seconds = coalesce(p_timeout_seconds, c.timeout_seconds),
    max_retries = coalesce(p_max_retries, c.max_retries),
    retry_delay_minutes = coalesce(p_retry_delay_minutes, c.retry_delay_minutes),
    enabled = coalesce(p_enabled, c.enabled),
    priority = coalesce(p_priority, c.priority)
  WHERE c.dag_name = p_dag_name AND c.job_name = p_job_name
  RETURNING c.version INTO new_version;
  IF NOT FOUND THEN
    EXECUTE format(
      'INSERT INTO hub.dag_configuration (dag_name, job_name%s) SELECT $1, $2%s'
      ' FROM jsonb_populate_record(NULL::hub.dag_configuration, $3) r RETURNING version',
      (SELECT coalesce(string_agg(', ' || quote_ident(k), ''), '') FROM jsonb_object_keys(supplied) k),
      (SELECT coalesce(string_agg(', r.' || quote_ident(k), ''), '') FROM jsonb_object_keys(supplied) k))
    INTO new_version USING p_dag_name, p_job_name, supplied;
  END IF;
  IF p_updated_by IS NOT NULL THEN
    PERFORM set_config('hub.actor', coalesce(previous_actor, ''), true),
            set_config('hub.via', coalesce(previous_via, ''), true);
  END IF;
  RETURN new_version;
END
$$;
"""


def upgrade() -> None:
    op.execute(VALIDATORS)
    op.execute(TABLES)
    op.execute(AUDIT)
    for table, key_columns in CONTROL_TABLES.items():
        op.execute(audit_triggers(table, key_columns))
    op.execute(SQL_API)


def downgrade() -> None:
    op.execute("DROP SCHEMA hub CASCADE")
