"""Least privilege: each role can do its job and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

SEED = """
INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone, calendar)
VALUES ('lse', 'LSE', ARRAY['LSE'], 'Europe/London', 'XLON');
INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group) VALUES ('d', 'j', 'lse');
"""


@pytest.fixture
def login_as(engine: sa.Engine) -> Iterator:
    """Create a login role that is a member of a hub role, and return an engine connected as it."""
    created: list[str] = []
    with engine.begin() as conn:
        conn.execute(sa.text(SEED))

    def connect(group_role: str) -> sa.Engine:
        name = f"test_{group_role}_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN IN ROLE {group_role}"))
        created.append(name)
        return sa.create_engine(make_url(str(engine.url)).set(username=name), poolclass=sa.NullPool)

    yield connect
    with engine.begin() as conn:
        for name in created:
            conn.execute(sa.text(f"DROP OWNED BY {name}; DROP ROLE {name}"))


def refused(role_engine: sa.Engine, statement: str) -> bool:
    try:
        with role_engine.begin() as conn:
            conn.execute(sa.text(statement))
    except DBAPIError as error:
        message = str(error.orig)
        return any(
            word in message for word in ("permission denied", "must be owner", "append-only")
        )
    return False


def test_reader_can_only_select_configuration(login_as) -> None:
    reader = login_as("hub_reader")
    with reader.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM hub.dag_configuration")).scalar() == 1
    for statement in (
        "UPDATE hub.dag_configuration SET batch_size = 1",
        "INSERT INTO hub.tickers (ticker, exchange) VALUES ('X', 'LSE')",
        "DELETE FROM hub.exchange_groups",
        "TRUNCATE hub.tickers",
        "SELECT hub.update_dag_config('d', 'j', p_batch_size => 1)",
        "CREATE TABLE hub.mine (x int)",
        "INSERT INTO market.securities (ticker, exchange) VALUES ('X', 'LSE')",
        "SELECT * FROM hub.audit_log",
        "SELECT * FROM market.ohlcv",
    ):
        assert refused(reader, statement), statement


def test_operator_writes_configuration_and_is_audited_but_cannot_touch_the_audit(login_as) -> None:
    operator = login_as("hub_operator")
    with operator.begin() as conn:
        conn.execute(sa.text("UPDATE hub.dag_configuration SET batch_size = 42"))
        entry = conn.execute(
            sa.text("SELECT actor, via, db_user FROM hub.audit_log ORDER BY id DESC LIMIT 1")
        ).one()
    assert entry.actor == entry.db_user and entry.actor.startswith("test_hub_operator")
    for statement in (
        "UPDATE hub.audit_log SET actor = 'x'",
        "DELETE FROM hub.audit_log",
        "TRUNCATE hub.audit_log",
        "INSERT INTO hub.audit_log (table_name, action, actor, via, db_user, row_hash)"
        " VALUES ('t', 'INSERT', 'forged', 'sql', 'x', 'h')",
        "SELECT hub.append_audit('t', 'INSERT', NULL, NULL, NULL, NULL)",
        "ALTER TABLE hub.dag_configuration DISABLE TRIGGER dag_configuration_audit",
        "ALTER TABLE hub.audit_log DISABLE TRIGGER audit_log_append_only",
        "ALTER TABLE hub.audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER dag_configuration_audit ON hub.dag_configuration",
        "SET session_replication_role = replica",
        "UPDATE hub.audit_chain_head SET last_hash = 'x'",
    ):
        assert refused(operator, statement), statement


def test_auditor_reads_the_audit_only(login_as) -> None:
    auditor = login_as("hub_auditor")
    with auditor.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM hub.audit_log")).scalar() == 2
    for statement in (
        "UPDATE hub.dag_configuration SET batch_size = 1",
        "SELECT hub.update_dag_config('d', 'j', p_batch_size => 1)",
        "TRUNCATE hub.dag_configuration",
        "SELECT * FROM hub.dag_configuration",
        "DELETE FROM hub.audit_log",
    ):
        assert refused(auditor, statement), statement


def test_the_schema_owner_cannot_silence_the_audit_but_a_superuser_can(
    engine: sa.Engine, login_as
) -> None:
    """The event trigger of migration 0005: only a superuser may turn the audit off."""
    owner = f"test_owner_{uuid.uuid4().hex[:8]}"
    tables = ("dag_configuration", "exchange_groups", "tickers", "audit_log", "audit_chain_head")
    with engine.begin() as conn:  # what a non-superuser migrating owner would hold
        conn.execute(sa.text(f"CREATE ROLE {owner} LOGIN"))
        conn.execute(sa.text(f"ALTER SCHEMA hub OWNER TO {owner}"))
        for table in tables:
            conn.execute(sa.text(f"ALTER TABLE hub.{table} OWNER TO {owner}"))
        conn.execute(sa.text(f"ALTER FUNCTION hub.touch_row() OWNER TO {owner}"))
    as_owner = sa.create_engine(
        make_url(str(engine.url)).set(username=owner), poolclass=sa.NullPool
    )
    try:
        for statement in (
            "ALTER TABLE hub.dag_configuration DISABLE TRIGGER dag_configuration_audit",
            "ALTER TABLE hub.tickers DISABLE TRIGGER USER",
            "ALTER TABLE hub.audit_log DISABLE TRIGGER audit_log_append_only",
            "ALTER TABLE hub.dag_configuration ENABLE REPLICA TRIGGER dag_configuration_audit",
            "DROP TRIGGER dag_configuration_audit ON hub.dag_configuration",
            "DROP TRIGGER audit_log_append_only ON hub.audit_log",
            "CREATE OR REPLACE FUNCTION hub.touch_row() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN NEW; END $$",
        ):
            with pytest.raises(DBAPIError, match="only a superuser"), as_owner.begin() as conn:
                conn.execute(sa.text(statement))
                pytest.fail(f"the owner could: {statement}")
        with as_owner.begin() as conn:  # the owner keeps its other rights: a column is fine
            conn.execute(sa.text("ALTER TABLE hub.tickers ADD COLUMN note text"))
        with engine.begin() as conn:  # a superuser may, as PostgreSQL lets it do anything
            conn.execute(sa.text("ALTER TABLE hub.tickers DISABLE TRIGGER tickers_audit"))
            conn.execute(sa.text("ALTER TABLE hub.tickers ENABLE ALWAYS TRIGGER tickers_audit"))
    finally:
        as_owner.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text(f"REASSIGN OWNED BY {owner} TO CURRENT_USER"))
            conn.execute(sa.text(f"DROP OWNED BY {owner}; DROP ROLE {owner}"))


def test_operator_schedules_and_cancels_but_never_deletes_a_scheduled_change(login_as) -> None:
    operator = login_as("hub_operator")
    with operator.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor)"
                " SELECT now(), 'c', jsonb_build_array(jsonb_build_object('table',"
                " 'exchange_groups', 'key', jsonb_build_object('group_name', 'lse'), 'action',"
                " 'update', 'before', r, 'after', r || '{\"priority\": 6}', 'version_before', 1,"
                " 'version_after', 2)), 'a' FROM (SELECT to_jsonb(g) - hub.bookkeeping_columns()"
                " AS r FROM hub.exchange_groups g) x"
            )
        )
        conn.execute(sa.text("UPDATE hub.scheduled_changes SET state = 'cancelled'"))
    assert refused(operator, "DELETE FROM hub.scheduled_changes")
    assert refused(login_as("hub_reader"), "SELECT 1 FROM hub.scheduled_changes")


GOVERNANCE_TABLES = (
    "change_requests",
    "change_request_approvals",
    "break_glass_acks",
    "break_glass_uses",
)


def test_the_runtime_login_writes_no_governance_row(login_as) -> None:
    """It writes them only through the owner's SECURITY DEFINER functions (migration 0015)."""
    runtime = login_as("hub_operator")
    with runtime.connect() as conn:
        granted = (
            conn.execute(
                sa.text(
                    "SELECT t || ':' || p FROM unnest(CAST(:tables AS text[])) t,"
                    " unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p"
                    " WHERE has_table_privilege(current_user, 'hub.' || t, p)"
                ),
                {"tables": list(GOVERNANCE_TABLES)},
            )
            .scalars()
            .all()
        )
    assert granted == []
    assert refused(
        runtime, "INSERT INTO hub.break_glass_acks VALUES ('break-glass:x', 'a', now(), 'n')"
    )
