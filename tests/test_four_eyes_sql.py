"""Four-eyes in the database itself: raw SQL (as the owner and as the runtime role) has no bypass."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hubctl.db import libpq_url
from hubctl.tables import GROUPS

SEED = """
INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone)
VALUES ('lse', 'LSE', ARRAY['LSE'], 'Europe/London'), ('us', 'US', ARRAY['NYSE'], 'America/New_York');
INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group)
VALUES ('d', 'lse_job', 'lse'), ('d', 'us_job', 'us');
INSERT INTO hub.tickers (ticker, exchange) VALUES ('VOD.L', 'LSE'), ('AAPL', 'NYSE');
"""

Connect = Callable[[], Any]


@pytest.fixture
def owner(db_url: str) -> Connect:
    """psycopg2 connections as the schema's owner (the migrating login), seeded once."""
    with psycopg2.connect(libpq_url(db_url)) as conn, conn.cursor() as cursor:
        cursor.execute(SEED)
    with psycopg2.connect(libpq_url(db_url)) as conn, conn.cursor() as cursor:
        # raising the policy needs no approval (lowering it does)
        cursor.execute(
            "UPDATE hub.exchange_groups SET approvals_required = 1 WHERE group_name = 'lse'"
        )
    return lambda: psycopg2.connect(libpq_url(db_url))


@pytest.fixture
def app_role(owner: Connect, db_url: str) -> Iterator[Connect]:
    """psycopg2 connections as a login with the runtime role's rights (hub_operator)."""
    name = f"test_app_{uuid.uuid4().hex[:8]}"
    with owner() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN IN ROLE hub_operator")
    url = make_url(db_url).set(username=name).render_as_string(hide_password=False)
    yield lambda: psycopg2.connect(libpq_url(url))
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP OWNED BY {name}; DROP ROLE {name}"))
    engine.dispose()


def run(connect: Connect, *statements: str) -> None:
    """Run the statements in one transaction and commit (the guard is checked at commit)."""
    conn = connect()
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


def value(connect: Connect, query: str) -> Any:
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchone()[0]
    finally:
        conn.close()


PROTECTED_WRITES = [
    "UPDATE hub.exchange_groups SET priority = 9 WHERE group_name = 'lse'",
    "UPDATE hub.exchange_groups SET approvals_required = 0 WHERE group_name = 'lse'",
    "DELETE FROM hub.dag_configuration WHERE job_name = 'lse_job'",
    "UPDATE hub.dag_configuration SET batch_size = 7 WHERE job_name = 'lse_job'",
    "UPDATE hub.dag_configuration SET exchange_group = 'lse' WHERE job_name = 'us_job'",
    "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group) VALUES ('d', 'x', 'lse')",
    "SELECT hub.update_dag_config('d', 'lse_job', p_batch_size => 7)",
    "SELECT hub.update_dag_config('d', 'new_job', p_batch_size => 7)"
    "; UPDATE hub.dag_configuration SET exchange_group = 'lse' WHERE job_name = 'new_job'",
    "UPDATE hub.tickers SET enabled = false WHERE ticker = 'VOD.L'",
    "INSERT INTO hub.tickers (ticker, exchange) VALUES ('BARC.L', 'LSE')",
    "UPDATE hub.tickers SET exchange = 'LSE' WHERE ticker = 'AAPL'",
]


@pytest.mark.parametrize("who", ["owner", "app_role"])
@pytest.mark.parametrize("statement", PROTECTED_WRITES)
def test_raw_sql_on_a_protected_group_is_refused(
    request: pytest.FixtureRequest, who: str, statement: str
) -> None:
    connect = request.getfixturevalue(who)
    before = value(connect, "SELECT count(*) FROM hub.audit_log")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="lse requires approval"):
        run(connect, "SELECT set_config('hub.actor', 'mallory', false)", statement)
    assert value(connect, "SELECT count(*) FROM hub.audit_log") == before


def test_truncate_of_protected_rows_is_refused_even_for_the_owner(owner: Connect) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="protected group"):
        run(owner, "TRUNCATE hub.tickers")
    assert value(owner, "SELECT count(*) FROM hub.tickers") == 2


def test_an_unprotected_group_is_written_as_before(app_role: Connect) -> None:
    run(app_role, "UPDATE hub.dag_configuration SET batch_size = 7 WHERE job_name = 'us_job'")
    run(app_role, "UPDATE hub.exchange_groups SET approvals_required = 2 WHERE group_name = 'us'")
    assert (
        value(app_role, "SELECT batch_size FROM hub.dag_configuration WHERE job_name = 'us_job'")
        == 7
    )


def _request(connect: Connect, requester: str, change: dict[str, Any]) -> int:
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config('hub.actor', %s, true)", (requester,))
            cursor.execute(
                "INSERT INTO hub.change_requests (command, changes, groups, approvals_required,"
                " requester) VALUES ('sql', %s, ARRAY['lse'], 1, 'someone else') RETURNING id",
                (json.dumps([change]),),
            )
            request_id = cursor.fetchone()[0]
        conn.commit()
        return request_id
    finally:
        conn.close()


LSE_JOB = {"table": "dag_configuration", "key": {"dag_name": "d", "job_name": "lse_job"}}


def _approve(connect: Connect, request_id: int, approver: str) -> None:
    run(
        connect,
        f"SELECT set_config('hub.actor', '{approver}', true)",
        f"INSERT INTO hub.change_request_approvals (request_id, requester) VALUES ({request_id}, 'x')",
    )


def test_the_requester_cannot_approve_in_sql(app_role: Connect) -> None:
    request_id = _request(app_role, "alice", LSE_JOB)
    assert (
        value(app_role, f"SELECT requester FROM hub.change_requests WHERE id = {request_id}")
        == "alice"
    )
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot approve"):
        _approve(app_role, request_id, "alice")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="0 of 1 approvals"):
        run(app_role, f"UPDATE hub.change_requests SET state = 'approved' WHERE id = {request_id}")
    _approve(app_role, request_id, "bob")
    assert value(app_role, "SELECT requester FROM hub.change_request_approvals") == "alice"


def _apply(
    connect: Connect, request_id: int, statement: str, change_set: str | None = None
) -> None:
    run(
        connect,
        f"SELECT set_config('hub.change_set', '{change_set or f'request:{request_id}'}', true)",
        f"UPDATE hub.change_requests SET state = 'applied' WHERE id = {request_id}",
        statement,
    )


SET_BATCH = "UPDATE hub.dag_configuration SET batch_size = 9 WHERE job_name = 'lse_job'"


def test_only_an_approved_request_naming_the_row_authorises_it(app_role: Connect) -> None:
    request_id = _request(app_role, "alice", LSE_JOB)
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot become applied"):
        _apply(app_role, request_id, SET_BATCH)  # still open
    _approve(app_role, request_id, "bob")
    run(app_role, f"UPDATE hub.change_requests SET state = 'approved' WHERE id = {request_id}")
    other = "UPDATE hub.tickers SET enabled = false WHERE ticker = 'VOD.L'"
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="lse requires approval"):
        _apply(app_role, request_id, other)  # a row the request does not list
    _apply(app_role, request_id, SET_BATCH)
    assert (
        value(app_role, "SELECT batch_size FROM hub.dag_configuration WHERE job_name = 'lse_job'")
        == 9
    )
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="lse requires approval"):
        _apply(app_role, request_id, SET_BATCH.replace("9", "10"))  # applied once only
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(app_role, f"UPDATE hub.change_requests SET changes = '[]' WHERE id = {request_id}")


def test_break_glass_needs_a_reason_and_is_recorded(app_role: Connect) -> None:
    glass = "SELECT set_config('hub.change_set', 'break-glass:t1', true)"
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(app_role, glass, SET_BATCH)  # no reason
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # the record is the audit entry's
        run(app_role, SET_BATCH, "SELECT set_config('hub.reason', 'late', true)", glass)
    run(app_role, glass, "SELECT set_config('hub.reason', 'feed down', true)", SET_BATCH)
    assert (
        value(
            app_role,
            "SELECT change_set || ' ' || reason FROM hub.audit_log WHERE table_name = 'dag_configuration'"
            " ORDER BY id DESC LIMIT 1",
        )
        == "break-glass:t1 feed down"
    )


def test_requests_and_approvals_are_kept_and_audited(app_role: Connect, owner: Connect) -> None:
    request_id = _request(app_role, "alice", LSE_JOB)
    _approve(app_role, request_id, "bob")
    for statement in (
        f"DELETE FROM hub.change_requests WHERE id = {request_id}",
        f"DELETE FROM hub.change_request_approvals WHERE request_id = {request_id}",
        "UPDATE hub.change_request_approvals SET approver = 'carol'",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(owner, statement)
    audited = value(
        owner,
        "SELECT string_agg(table_name || ':' || actor, ',' ORDER BY id) FROM hub.audit_log"
        " WHERE table_name LIKE 'change_request%'",
    )
    assert audited == "change_requests:alice,change_request_approvals:bob"


def test_groups_recorded_before_the_policy_existed_read_as_unprotected(empty_db_url: str) -> None:
    from hubctl import migrations
    from hubctl.db import Database
    from hubctl.services import history

    engine = sa.create_engine(empty_db_url, poolclass=sa.NullPool)
    migrations.upgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(sa.text(SEED))
    migrations.upgrade(engine)
    engine.dispose()
    with Database(empty_db_url).connect() as conn:
        groups = history.tables_at(conn, history.Moment(audit_id=10**6))["exchange_groups"]
    records = [GROUPS.record.model_validate(group) for group in groups]
    assert {record.group_name: record.approvals_required for record in records} == {
        "lse": 0,
        "us": 0,
    }


def test_hubctls_check_at_commit_cannot_be_turned_off_half_way(app_role: Connect) -> None:
    on = "SELECT set_config('hub.check_at_commit', 'on', true)"
    off = "SELECT set_config('hub.check_at_commit', 'off', true)"
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="lse requires approval"):
        run(app_role, on, SET_BATCH, off)  # the row was queued for the commit-time check


def test_a_script_may_alter_a_table_it_wrote_to_in_the_same_transaction(owner: Connect) -> None:
    run(
        owner,
        "UPDATE hub.dag_configuration SET batch_size = 7 WHERE job_name = 'us_job'",
        "ALTER TABLE hub.dag_configuration ALTER COLUMN batch_size SET DEFAULT 500",
    )
