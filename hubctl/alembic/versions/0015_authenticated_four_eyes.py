"""Four-eyes between authenticated people (issue 22, items 0-4 and 7).

- Identity: hub.authenticated_person() is who a login proves to be: a member of hub_approver is
  its own login name (session_user, which SECURITY DEFINER does not change and only a superuser
  can switch); a member of hub_web (the Markets page's login) vouches for the Airflow user in
  hub.web_user; any other login (hub_app, the owner, a superuser) is nobody. Approvals and
  break-glass acknowledgements count only from a person; the claimed hub.actor never does.
- A request made on a shared login (nobody authenticated asked) needs one more approval than its
  groups' policy: at most one of its approvers can be the real requester.
- What a request may write is exactly what was approved (hub.entry_matches_changes, row by row,
  and at commit every change written); its groups and approvals come from the live rows it
  touches, never from columns the writer fills in.
- A break-glass id is single-use (hub.break_glass_uses: bound to the first transaction using it),
  and whoever broke the glass cannot acknowledge it.
- Scheduled changes: content fixed at insert, applied/cancelled/failed are final.
- The runtime roles write change requests, approvals and acknowledgements only through SECURITY
  DEFINER functions owned by the migrating role (request_open, request_approve, request_set_state,
  acknowledge_break_glass): no INSERT, UPDATE or DELETE on those tables.

Invariants live in ENABLE ALWAYS triggers, so they bind the owner's and a superuser's plain DML
too; privileges only narrow the runtime login.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import re
from pathlib import Path

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PERSON_ROLES = ("hub_approver", "hub_web")

# Created like 0003's roles: skipped with a notice when the migrating role may not create roles.
# A superuser migrating a schema owned by another login hands that owner ADMIN OPTION, which
# PostgreSQL 16 requires to grant the roles later (`hubctl db add-login`).
ROLES = """
DO $$
DECLARE
  role_name text;
  schema_owner text := (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'hub');
BEGIN
  FOREACH role_name IN ARRAY ARRAY['hub_approver', 'hub_web'] LOOP
    IF to_regrole(role_name) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'not allowed to create role %: skipped (protected groups cannot be approved)', role_name;
      END;
    END IF;
    IF to_regrole(role_name) IS NOT NULL AND schema_owner <> current_user
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION', role_name, schema_owner);
    END IF;
  END LOOP;
END
$$;
"""

IDENTITY = r"""
-- Who the session has proved to be, lower-cased, or NULL (nobody: a shared or owning login).
-- A superuser is nobody: pg_has_role is true for a superuser and every role. A role the
-- migration could not create (to_regrole NULL) makes nobody a member.
CREATE FUNCTION hub.authenticated_person() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT CASE
    WHEN r.rolsuper THEN NULL
    WHEN pg_has_role(r.oid, to_regrole('hub_web'), 'MEMBER')
      THEN (SELECT lower(u) FROM nullif(btrim(current_setting('hub.web_user', true)), '') u
             WHERE length(u) <= 200)
    WHEN pg_has_role(r.oid, to_regrole('hub_approver'), 'MEMBER') THEN lower(r.rolname)
  END FROM pg_roles r WHERE r.rolname = session_user
$$;

-- The live row a stored change targets, and a change's values as a whole row of its table.
CREATE FUNCTION hub.current_row(p_table text, p_key jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT CASE p_table
    WHEN 'exchange_groups' THEN (SELECT to_jsonb(t) FROM hub.exchange_groups t WHERE t.group_name = p_key->>'group_name')
    WHEN 'dag_configuration' THEN (SELECT to_jsonb(t) FROM hub.dag_configuration t
                                    WHERE t.dag_name = p_key->>'dag_name' AND t.job_name = p_key->>'job_name')
    WHEN 'tickers' THEN (SELECT to_jsonb(t) FROM hub.tickers t WHERE t.ticker = p_key->>'ticker') END
$$;

CREATE FUNCTION hub.as_row(p_table text, p_values jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT CASE p_table
    WHEN 'exchange_groups' THEN to_jsonb(jsonb_populate_record(NULL::hub.exchange_groups, p_values))
    WHEN 'dag_configuration' THEN to_jsonb(jsonb_populate_record(NULL::hub.dag_configuration, p_values))
    WHEN 'tickers' THEN to_jsonb(jsonb_populate_record(NULL::hub.tickers, p_values)) END
    - hub.bookkeeping_columns()
$$;

-- The protected groups the stored changes touch, judged on the rows as they are now (item 2).
CREATE FUNCTION hub.request_groups(p_changes jsonb) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}')
    FROM jsonb_array_elements(p_changes) c
    CROSS JOIN LATERAL (SELECT hub.current_row(c->>'table', c->'key') AS cur) x
    CROSS JOIN LATERAL unnest(hub.protected_groups(c->>'table', x.cur,
        CASE WHEN c->>'action' <> 'delete' THEN coalesce(x.cur, '{}') || (c->'after') END)) g
$$;
"""

COLUMNS = """
ALTER TABLE hub.change_requests ADD COLUMN requested_by text, ADD COLUMN requested_login text;
ALTER TABLE hub.change_request_approvals ADD COLUMN authenticated boolean NOT NULL DEFAULT false;
ALTER TABLE hub.change_request_approvals ALTER COLUMN authenticated SET DEFAULT true;
"""

REQUESTS = r"""
-- approvals a request needs now: from the rows it touches; one more when nobody authenticated asked
CREATE FUNCTION hub.request_needs(r hub.change_requests) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT greatest(r.approvals_required,
                  coalesce((SELECT max(approvals_required) FROM hub.exchange_groups
                             WHERE group_name = ANY (hub.request_groups(r.changes))), 0))
         + CASE WHEN r.requested_by IS NULL THEN 1 ELSE 0 END
$$;
CREATE FUNCTION hub.request_has(p_id bigint) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT count(DISTINCT approver)::int FROM hub.change_request_approvals
   WHERE request_id = p_id AND authenticated
$$;

CREATE OR REPLACE FUNCTION hub.open_request() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
BEGIN
  NEW.requester := hub.current_actor();
  NEW.requested_by := hub.authenticated_person();
  NEW.requested_login := session_user;
  NEW.state := 'open'; NEW.created_at := now();
  NEW.decided_by := NULL; NEW.decided_at := NULL; NEW.applied_txid := NULL;
  NEW.groups := hub.request_groups(NEW.changes);
  IF cardinality(NEW.groups) = 0 THEN
    RAISE EXCEPTION 'change request: its changes touch no protected group' USING ERRCODE = 'check_violation';
  END IF;
  NEW.approvals_required := (SELECT max(approvals_required) FROM hub.exchange_groups WHERE group_name = ANY (NEW.groups));
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION hub.approve_request() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
DECLARE request hub.change_requests%ROWTYPE;
BEGIN
  SELECT * INTO request FROM hub.change_requests WHERE id = NEW.request_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'change request % does not exist', NEW.request_id USING ERRCODE = 'foreign_key_violation'; END IF;
  IF request.state NOT IN ('open', 'approved') THEN
    RAISE EXCEPTION 'change request % is %: it takes no more approvals', request.id, request.state USING ERRCODE = 'check_violation';
  END IF;
  NEW.requester := request.requester;
  NEW.approver := hub.authenticated_person();
  NEW.authenticated := true;
  NEW.approved_at := now();
  IF NEW.approver IS NULL THEN
    RAISE EXCEPTION 'change request %: the login % cannot approve (a claimed actor is not a person);'
      ' approve with your own login (hubctl db add-login NAME --approver) or on the Markets page',
      request.id, session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.approver IN (request.requested_by, lower(request.requester)) THEN
    RAISE EXCEPTION 'change request %: % requested it and cannot approve it; another person must',
      request.id, NEW.approver USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_change_request_approvals_not_requester';
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION hub.move_request() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
DECLARE has integer; needs integer;
BEGIN
  IF (to_jsonb(NEW) - ARRAY['state','decided_by','decided_at','applied_txid'])
     IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['state','decided_by','decided_at','applied_txid']) THEN
    RAISE EXCEPTION 'change request %: only its state may change', OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.state = OLD.state THEN RETURN OLD; END IF;
  IF NOT (OLD.state = 'open' AND NEW.state IN ('approved','rejected','stale')
          OR OLD.state = 'approved' AND NEW.state IN ('applied','rejected','stale')) THEN
    RAISE EXCEPTION 'change request % is %: it cannot become %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  END IF;
  has := hub.request_has(OLD.id); needs := hub.request_needs(OLD);
  IF NEW.state IN ('approved','applied') AND has < needs THEN
    RAISE EXCEPTION 'change request % has % of % approvals', OLD.id, has, needs USING ERRCODE = 'insufficient_privilege';
  END IF;
  NEW.decided_by := hub.current_actor(); NEW.decided_at := now();
  NEW.applied_txid := CASE WHEN NEW.state = 'applied' THEN txid_current() END;
  RETURN NEW;
END $$;
"""

BINDING = r"""
-- Does audit entry a write exactly one of the stored changes (item 1)?
CREATE FUNCTION hub.entry_matches_changes(a hub.audit_log, p_changes jsonb) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, hub AS $$
  SELECT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p_changes) c
     WHERE c->>'table' = a.table_name AND c->'key' = a.row_key
       AND c->>'action' = CASE a.action WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' WHEN 'DELETE' THEN 'delete' END
       AND (a.old_row->'version') IS NOT DISTINCT FROM nullif(c->'version_before', 'null')
       AND (a.action = 'DELETE'
            OR hub.as_row(a.table_name, coalesce(a.old_row, '{}') || (c->'after'))
               = (a.new_row - hub.bookkeeping_columns())))
$$;

CREATE OR REPLACE FUNCTION hub.authorised_entry(a hub.audit_log) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, hub AS $$
DECLARE r hub.change_requests%ROWTYPE;
BEGIN
  IF a.change_set LIKE 'break-glass:%' THEN
    RETURN a.reason IS NOT NULL AND hub.claim_break_glass(a.change_set, a.actor);
  END IF;
  IF a.change_set !~ '^request:[0-9]{1,18}$' THEN RETURN false; END IF;
  SELECT * INTO r FROM hub.change_requests WHERE id = substr(a.change_set, 9)::bigint;
  -- enough approvals were checked when this transaction marked it applied (move_request): not
  -- again here, where a request that raises its own group's policy would need the new one
  RETURN FOUND AND r.state = 'applied' AND r.applied_txid = txid_current()
     AND hub.entry_matches_changes(a, r.changes);
END $$;

-- at commit: an applied request wrote each of its changes (item 1, completeness)
CREATE FUNCTION hub.request_fully_applied() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(NEW.changes) c WHERE NOT EXISTS (
       SELECT 1 FROM hub.audit_log a WHERE a.txid = txid_current() AND a.change_set = 'request:' || NEW.id
          AND hub.entry_matches_changes(a, jsonb_build_array(c))))
  OR EXISTS (SELECT 1 FROM hub.audit_log a WHERE a.txid = txid_current() AND a.change_set = 'request:' || NEW.id
          AND a.table_name IN ('exchange_groups','dag_configuration','tickers')
          AND NOT hub.entry_matches_changes(a, NEW.changes)) THEN
    RAISE EXCEPTION 'change request %: what this transaction wrote is not what was approved', NEW.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER change_requests_applied_exactly AFTER UPDATE ON hub.change_requests
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.state = 'applied' AND OLD.state <> 'applied')
  EXECUTE FUNCTION hub.request_fully_applied();
ALTER TABLE hub.change_requests ENABLE ALWAYS TRIGGER change_requests_applied_exactly;
"""

BREAK_GLASS = r"""
-- The first transaction that used each break-glass id (backfilled from the audit log).
CREATE TABLE hub.break_glass_uses (
  change_set text PRIMARY KEY CHECK (change_set LIKE 'break-glass:%'),
  txid bigint NOT NULL, broken_by text, actor text NOT NULL, db_user text NOT NULL,
  first_at timestamptz NOT NULL DEFAULT now());
INSERT INTO hub.break_glass_uses (change_set, txid, actor, db_user, first_at)
  SELECT DISTINCT ON (change_set) change_set, txid, actor, db_user, occurred_at FROM hub.audit_log
   WHERE change_set LIKE 'break-glass:%' ORDER BY change_set, id;
CREATE TRIGGER break_glass_uses_keep BEFORE UPDATE OR DELETE ON hub.break_glass_uses
  FOR EACH ROW EXECUTE FUNCTION hub.keep_governance_record();
CREATE TRIGGER break_glass_uses_keep_truncate BEFORE TRUNCATE ON hub.break_glass_uses
  FOR EACH STATEMENT EXECUTE FUNCTION hub.keep_governance_record();
ALTER TABLE hub.break_glass_uses ENABLE ALWAYS TRIGGER break_glass_uses_keep;
ALTER TABLE hub.break_glass_uses ENABLE ALWAYS TRIGGER break_glass_uses_keep_truncate;

CREATE FUNCTION hub.claim_break_glass(p_change_set text, p_actor text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
BEGIN
  INSERT INTO hub.break_glass_uses (change_set, txid, broken_by, actor, db_user)
  VALUES (p_change_set, txid_current(), hub.authenticated_person(), p_actor, session_user)
  ON CONFLICT (change_set) DO NOTHING;
  RETURN (SELECT txid FROM hub.break_glass_uses WHERE change_set = p_change_set) = txid_current()
     AND NOT EXISTS (SELECT 1 FROM hub.audit_log WHERE change_set = p_change_set AND txid <> txid_current());
END $$;

CREATE FUNCTION hub.acknowledge_break_glass_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
DECLARE used hub.break_glass_uses%ROWTYPE;
BEGIN
  NEW.acknowledged_by := hub.authenticated_person();
  NEW.acknowledged_at := now();
  IF NEW.acknowledged_by IS NULL THEN
    RAISE EXCEPTION 'acknowledge % with your own login (hubctl db add-login NAME --approver): the login % is shared',
      NEW.change_set, session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO used FROM hub.break_glass_uses WHERE change_set = NEW.change_set;
  IF NOT FOUND THEN RAISE EXCEPTION 'no break-glass change %', NEW.change_set USING ERRCODE = 'foreign_key_violation'; END IF;
  IF NEW.acknowledged_by IN (used.broken_by, lower(used.actor)) THEN
    RAISE EXCEPTION '% broke the glass of % and cannot acknowledge it; another person must',
      NEW.acknowledged_by, NEW.change_set USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER break_glass_acks_acknowledge BEFORE INSERT ON hub.break_glass_acks
  FOR EACH ROW EXECUTE FUNCTION hub.acknowledge_break_glass_row();
ALTER TABLE hub.break_glass_acks ENABLE ALWAYS TRIGGER break_glass_acks_acknowledge;

CREATE OR REPLACE FUNCTION hub.require_approval_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE
  protected boolean;
  change_set text := coalesce(current_setting('hub.change_set', true), '');
BEGIN
  IF change_set LIKE 'break-glass:%' AND nullif(current_setting('hub.reason', true), '') IS NOT NULL
     AND hub.claim_break_glass(change_set, hub.current_actor()) THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I t WHERE cardinality('
                 'hub.protected_groups(%L, to_jsonb(t), NULL)) > 0)',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_TABLE_NAME) INTO protected;
  IF protected THEN
    RAISE EXCEPTION 'TRUNCATE hub.% refused: it holds rows of a protected group', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END
$$;
"""

SCHEDULED = r"""
-- Scheduled changes: content fixed at insert, applied/cancelled/failed final.
ALTER TABLE hub.scheduled_changes ADD COLUMN scheduled_login text;
CREATE FUNCTION hub.keep_scheduled_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, hub AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.actor := hub.current_actor(); NEW.scheduled_login := session_user;
    NEW.state := 'scheduled'; NEW.note := NULL; NEW.applied_at := NULL;
    RETURN NEW;
  END IF;
  IF (to_jsonb(NEW) - ARRAY['state','note','applied_at'] - hub.bookkeeping_columns())
     IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['state','note','applied_at'] - hub.bookkeeping_columns()) THEN
    RAISE EXCEPTION 'scheduled change %: only its state and note may change', OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.state = OLD.state AND NEW.note IS NOT DISTINCT FROM OLD.note THEN RETURN NEW; END IF;
  IF NOT (OLD.state = 'scheduled' AND NEW.state IN ('applied','suspended','cancelled','failed')
          OR OLD.state = 'suspended' AND NEW.state = 'cancelled') THEN
    RAISE EXCEPTION 'scheduled change % is %: it cannot become %', OLD.id, OLD.state, NEW.state
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER scheduled_changes_keep BEFORE INSERT OR UPDATE ON hub.scheduled_changes
  FOR EACH ROW EXECUTE FUNCTION hub.keep_scheduled_change();
ALTER TABLE hub.scheduled_changes ENABLE ALWAYS TRIGGER scheduled_changes_keep;
"""

API = r"""
-- The runtime roles' only way to write governance rows.
CREATE FUNCTION hub.request_approve(p_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE r hub.change_requests%ROWTYPE;
BEGIN
  INSERT INTO hub.change_request_approvals (request_id, requester, approver) VALUES (p_id, '', '');
  SELECT * INTO r FROM hub.change_requests WHERE id = p_id;
  IF r.state = 'open' AND hub.request_has(p_id) >= hub.request_needs(r) THEN
    UPDATE hub.change_requests SET state = 'approved' WHERE id = p_id;
    RETURN 'approved';
  END IF;
  RETURN r.state;
END $$;
CREATE FUNCTION hub.request_set_state(p_id bigint, p_state text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
BEGIN
  IF p_state NOT IN ('applied','rejected','stale') THEN RAISE EXCEPTION 'state %', p_state USING ERRCODE = 'check_violation'; END IF;
  -- stale only when a target row really moved on since the request was made
  IF p_state = 'stale' AND NOT EXISTS (
       SELECT 1 FROM hub.change_requests r, jsonb_array_elements(r.changes) c
        WHERE r.id = p_id AND (hub.current_row(c->>'table', c->'key') -> 'version')
              IS DISTINCT FROM nullif(c->'version_before', 'null')) THEN
    RAISE EXCEPTION 'change request %: no target row changed since it was made: not stale', p_id
      USING ERRCODE = 'check_violation';
  END IF;
  UPDATE hub.change_requests SET state = p_state WHERE id = p_id AND state <> p_state;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'change request % does not exist or is % already', p_id, p_state
      USING ERRCODE = 'check_violation';
  END IF;
END $$;
CREATE FUNCTION hub.request_open(p_command text, p_changes jsonb, p_reason text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
DECLARE new_id bigint := nextval('hub.change_requests_id_seq');
BEGIN
  PERFORM set_config('hub.change_set', 'request:' || new_id, true);
  INSERT INTO hub.change_requests (id, command, changes, groups, approvals_required, requester, reason)
  VALUES (new_id, p_command, p_changes, '{}', 1, '', p_reason);
  RETURN new_id;
END $$;
CREATE FUNCTION hub.acknowledge_break_glass(p_change_set text, p_note text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, hub AS $$
  INSERT INTO hub.break_glass_acks (change_set, acknowledged_by, note) VALUES (p_change_set, '', p_note)
$$;
"""

GRANTS = """
REVOKE ALL ON FUNCTION hub.request_approve(bigint), hub.request_set_state(bigint, text),
  hub.request_open(text, jsonb, text), hub.acknowledge_break_glass(text, text),
  hub.claim_break_glass(text, text) FROM PUBLIC;
DO $$
BEGIN
  IF to_regrole('hub_operator') IS NOT NULL THEN
    GRANT EXECUTE ON FUNCTION hub.request_approve(bigint), hub.request_set_state(bigint, text),
      hub.request_open(text, jsonb, text), hub.acknowledge_break_glass(text, text) TO hub_operator;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON hub.change_requests, hub.change_request_approvals,
      hub.break_glass_acks FROM hub_operator;
    REVOKE USAGE ON SEQUENCE hub.change_requests_id_seq FROM hub_operator;
    GRANT SELECT ON hub.break_glass_uses TO hub_operator;
  END IF;
  IF to_regrole('hub_auditor') IS NOT NULL THEN
    GRANT SELECT ON hub.break_glass_uses TO hub_auditor;
  END IF;
  IF to_regrole('hub_app') IS NOT NULL THEN  -- the embedded runtime login, defensively
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON hub.change_requests, hub.change_request_approvals,
      hub.break_glass_acks, hub.break_glass_uses FROM hub_app;
  END IF;
END
$$;
"""

NEW_FUNCTIONS = (
    "request_approve(bigint)",
    "request_set_state(bigint, text)",
    "request_open(text, jsonb, text)",
    "acknowledge_break_glass(text, text)",
    "keep_scheduled_change()",
    "acknowledge_break_glass_row()",
    "request_fully_applied()",
    "claim_break_glass(text, text)",
    "entry_matches_changes(hub.audit_log, jsonb)",
    "request_has(bigint)",
    "request_needs(hub.change_requests)",
    "request_groups(jsonb)",
    "as_row(text, jsonb)",
    "current_row(text, jsonb)",
    "authenticated_person()",
)
# 0013's versions of the functions this revision replaces, restored on downgrade.
REPLACED = (
    "open_request",
    "move_request",
    "approve_request",
    "authorised_entry",
    "require_approval_truncate",
)


def upgrade() -> None:
    for statement in (ROLES, IDENTITY, COLUMNS, REQUESTS, BINDING, BREAK_GLASS, SCHEDULED, API):
        op.execute(statement)
    op.execute(GRANTS)


def _functions_of_0013() -> list[str]:
    source = (Path(__file__).parent / "0013_four_eyes.py").read_text()
    found = [
        re.search(rf"CREATE FUNCTION hub\.{name}\(.*?\n\$\$;", source, re.DOTALL)
        for name in REPLACED
    ]
    return [
        match.group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        for match in found
        if match
    ]


def downgrade() -> None:
    op.execute("DROP TRIGGER scheduled_changes_keep ON hub.scheduled_changes")
    op.execute("DROP TRIGGER break_glass_acks_acknowledge ON hub.break_glass_acks")
    op.execute("DROP TRIGGER change_requests_applied_exactly ON hub.change_requests")
    for definition in _functions_of_0013():
        op.execute(definition)
    for function in NEW_FUNCTIONS:
        op.execute(f"DROP FUNCTION hub.{function}")
    op.execute("DROP TABLE hub.break_glass_uses")
    op.execute("ALTER TABLE hub.scheduled_changes DROP COLUMN scheduled_login")
    op.execute("ALTER TABLE hub.change_request_approvals DROP COLUMN authenticated")
    op.execute(
        "ALTER TABLE hub.change_requests DROP COLUMN requested_by, DROP COLUMN requested_login"
    )
    op.execute(
        "DO $$ BEGIN IF to_regrole('hub_operator') IS NOT NULL THEN"
        " GRANT INSERT, UPDATE ON hub.change_requests TO hub_operator;"
        " GRANT INSERT ON hub.change_request_approvals, hub.break_glass_acks TO hub_operator;"
        " GRANT USAGE ON SEQUENCE hub.change_requests_id_seq TO hub_operator;"
        " END IF; END $$"
    )
