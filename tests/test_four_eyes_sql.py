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

from hubctl import migrations
from hubctl.db import libpq_url
from hubctl.tables import GROUPS
from tests.support.databases import login_in_roles

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
    with login_in_roles(db_url, "hub_operator") as url:
        yield lambda: psycopg2.connect(libpq_url(url))


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
    # thresholds and silences (migration 0017) are fields like any other
    "UPDATE hub.exchange_groups SET data_late_minutes = 600 WHERE group_name = 'lse'",
    'UPDATE hub.exchange_groups SET silences = \'{"data_late": "2099-01-01T00:00:00Z"}\''
    " WHERE group_name = 'lse'",
    "UPDATE hub.dag_configuration SET failure_rate_percent = 100 WHERE job_name = 'lse_job'",
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


@pytest.fixture
def login(owner: Connect, db_url: str) -> Iterator[Callable[..., tuple[str, Connect]]]:
    """Make a login in hub_operator and ``role`` (hub_approver: a person; hub_web: the page's
    login): (its name, connections as it). Names are unique: roles are cluster-wide."""
    created: list[str] = []

    def make(person: str, role: str = "hub_approver") -> tuple[str, Connect]:
        name = f"{person}_{uuid.uuid4().hex[:6]}"
        run(owner, f"CREATE ROLE {name} LOGIN IN ROLE hub_operator, {role}")
        created.append(name)
        url = make_url(db_url).set(username=name).render_as_string(hide_password=False)
        return name, lambda: psycopg2.connect(libpq_url(url))

    yield make
    for name in created:
        run(owner, f"DROP OWNED BY {name}; DROP ROLE {name}")


LSE_JOB = ("dag_configuration", {"dag_name": "d", "job_name": "lse_job"})
LSE_ROW = ("exchange_groups", {"group_name": "lse"})


def _change(connect: Connect, target: tuple[str, dict[str, str]], after: dict[str, Any]) -> str:
    """A stored update of ``target`` as hubctl records it (whole rows, base version), as JSON."""
    table, key = target
    where = " AND ".join(f"{column} = '{name}'" for column, name in key.items())
    return json.dumps(
        value(
            connect,
            f"SELECT jsonb_build_array(jsonb_build_object('table', '{table}', 'key',"
            f" '{json.dumps(key)}'::jsonb, 'action', 'update', 'before', b, 'after',"
            f" b || '{json.dumps(after)}'::jsonb, 'version_before', v, 'version_after', v + 1))"
            f" FROM (SELECT hub.as_row('{table}', to_jsonb(t)) b, t.version v FROM hub.{table} t"
            f" WHERE {where}) x",
        )
    )


def _open(connect: Connect, changes: str, actor: str = "alice") -> int:
    """A request opened through the runtime roles' function, claiming ``actor``."""
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config('hub.actor', %s, true)", (actor,))
            cursor.execute("SELECT hub.request_open('sql', %s, 'why')", (changes,))
            request_id = int(cursor.fetchone()[0])
        conn.commit()
        return request_id
    finally:
        conn.close()


def _approve(connect: Connect, request_id: int, *settings: str) -> str:
    """Approve as ``connect``'s login (after ``settings`` statements); the request's state."""
    conn = connect()
    try:
        with conn.cursor() as cursor:
            for statement in settings:
                cursor.execute(statement)
            cursor.execute(f"SELECT hub.request_approve({request_id})")
            state = str(cursor.fetchone()[0])
        conn.commit()
        return state
    finally:
        conn.close()


def claim(name: str) -> str:
    return f"SELECT set_config('hub.actor', '{name}', false)"


def vouch(name: str) -> str:
    return f"SELECT set_config('hub.web_user', '{name}', false)"


SET_BATCH = "UPDATE hub.dag_configuration SET batch_size = 750 WHERE job_name = 'lse_job'"


@pytest.fixture
def approved(login: Callable[..., tuple[str, Connect]], app_role: Connect) -> int:
    """Alice's (own login) request batch_size=750 on lse_job, approved by bob's login."""
    _, alice = login("alice")
    _, bob = login("bob")
    request_id = _open(alice, _change(app_role, LSE_JOB, {"batch_size": 750}))
    assert _approve(bob, request_id) == "approved"
    return request_id


@pytest.mark.parametrize("who", ["owner", "app_role"])
def test_a_claimed_actor_never_approves(
    request: pytest.FixtureRequest, who: str, login: Callable[..., tuple[str, Connect]]
) -> None:
    connect = request.getfixturevalue(who)
    bob, _ = login("bob")
    request_id = _open(login("alice")[1], _change(connect, LSE_JOB, {"batch_size": 750}))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="add-login NAME --approver"):
        _approve(connect, request_id, claim(bob), vouch(bob))
    direct = (
        f"INSERT INTO hub.change_request_approvals (request_id, requester, approver)"
        f" VALUES ({request_id}, 'x', '{bob}')"
    )
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(connect, claim(bob), direct)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(connect, f"UPDATE hub.change_requests SET state = 'approved' WHERE id = {request_id}")
    assert value(connect, "SELECT count(*) FROM hub.change_request_approvals") == 0


def test_a_web_user_counts_only_through_a_web_login(
    login: Callable[..., tuple[str, Connect]],
) -> None:
    _, webby = login("webby", "hub_web")
    request_id = _open(login("alice")[1], _change(webby, LSE_JOB, {"batch_size": 750}))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="cannot approve"):
        _approve(webby, request_id)  # the page vouches for nobody
    assert _approve(webby, request_id, vouch(" Dave ")) == "approved"
    assert value(webby, "SELECT approver FROM hub.change_request_approvals") == "dave"


def test_the_requester_cannot_approve_by_login_or_claimed_name(
    login: Callable[..., tuple[str, Connect]], app_role: Connect
) -> None:
    alice, alice_login = login("alice")
    own = _open(alice_login, _change(app_role, LSE_JOB, {"batch_size": 750}), actor="someone")
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot approve"):
        _approve(alice_login, own)
    claimed = _open(app_role, _change(app_role, LSE_JOB, {"batch_size": 751}), actor=alice)
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot approve"):
        _approve(alice_login, claimed)
    bob_login = login("bob")[1]
    _approve(bob_login, own)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        _approve(bob_login, own)  # one person, one approval


def test_a_shared_login_request_needs_one_more(
    login: Callable[..., tuple[str, Connect]], app_role: Connect
) -> None:
    request_id = _open(app_role, _change(app_role, LSE_JOB, {"batch_size": 750}))
    needs = f"SELECT hub.request_needs(r) FROM hub.change_requests r WHERE id = {request_id}"
    assert value(app_role, needs) == 2
    assert _approve(login("bob")[1], request_id) == "open"
    assert _approve(login("carol")[1], request_id) == "approved"


def _apply(connect: Connect, request_id: int, *statements: str) -> None:
    run(
        connect,
        claim("x"),
        "SELECT set_config('hub.check_at_commit', 'on', true)",
        f"SELECT set_config('hub.change_set', 'request:{request_id}', true)",
        f"SELECT hub.request_set_state({request_id}, 'applied')",
        *statements,
    )


@pytest.mark.parametrize("who", ["owner", "app_role"])
def test_an_applied_request_writes_exactly_its_changes(
    request: pytest.FixtureRequest, who: str, approved: int
) -> None:
    connect = request.getfixturevalue(who)
    for statements in (
        [
            "UPDATE hub.dag_configuration SET batch_size = 1, enabled = false WHERE job_name = 'lse_job'"
        ],
        [SET_BATCH.replace("750", "750, max_retries = 0")],
        [],  # marked applied, nothing written
        [SET_BATCH, "UPDATE hub.tickers SET enabled = false WHERE ticker = 'VOD.L'"],
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _apply(connect, approved, *statements)
    _apply(connect, approved, SET_BATCH)
    assert (
        value(connect, "SELECT batch_size FROM hub.dag_configuration WHERE job_name = 'lse_job'")
        == 750
    )
    with pytest.raises(psycopg2.errors.CheckViolation, match="applied already"):
        _apply(connect, approved, SET_BATCH.replace("750", "751"))  # applied once only


def test_an_approved_harmless_change_cannot_switch_protection_off(
    login: Callable[..., tuple[str, Connect]], app_role: Connect
) -> None:
    request_id = _open(login("alice")[1], _change(app_role, LSE_ROW, {"priority": 3}))
    _approve(login("bob")[1], request_id)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _apply(
            app_role,
            request_id,
            "UPDATE hub.exchange_groups SET priority = 3, approvals_required = 0"
            " WHERE group_name = 'lse'",
        )
    _apply(
        app_role, request_id, "UPDATE hub.exchange_groups SET priority = 3 WHERE group_name = 'lse'"
    )
    assert (
        value(
            app_role, "SELECT approvals_required FROM hub.exchange_groups WHERE group_name = 'lse'"
        )
        == 1
    )


@pytest.mark.parametrize("who", ["owner", "app_role"])
def test_required_approvals_come_from_the_rows(request: pytest.FixtureRequest, who: str) -> None:
    connect = request.getfixturevalue(who)
    run(
        request.getfixturevalue("owner"),
        *glass("policy"),
        "UPDATE hub.exchange_groups SET approvals_required = 2 WHERE group_name = 'lse'",
    )
    changes = _change(connect, LSE_JOB, {"batch_size": 750})
    insert = (
        "INSERT INTO hub.change_requests (command, changes, groups, approvals_required, requester)"
        f" VALUES ('x', '{changes}', ARRAY['us'], 1, 'x')"
    )
    if who == "app_role":
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(connect, insert)
        request_id = _open(connect, changes)
    else:
        run(connect, insert)
        request_id = value(connect, "SELECT max(id) FROM hub.change_requests")
    stored = value(
        connect,
        "SELECT groups::text || ' ' || approvals_required || ' ' || hub.request_needs(r)"
        f" FROM hub.change_requests r WHERE id = {request_id}",
    )
    assert stored == "{lse} 2 3"  # 2, and 1 more: a shared login cannot tell who asked
    unprotected = _change(
        connect, ("dag_configuration", {"dag_name": "d", "job_name": "us_job"}), {"batch_size": 7}
    )
    with pytest.raises(psycopg2.errors.CheckViolation, match="touch no protected group"):
        _open(connect, unprotected)


def glass(change_set: str) -> list[str]:
    return [
        f"SELECT set_config('hub.change_set', 'break-glass:{change_set}', false)",
        "SELECT set_config('hub.reason', 'feed down', false)",
    ]


@pytest.mark.parametrize("who", ["owner", "app_role"])
def test_a_break_glass_id_is_single_use(
    request: pytest.FixtureRequest, who: str, app_role: Connect, owner: Connect
) -> None:
    connect = request.getfixturevalue(who)
    run(
        app_role,
        claim("alice"),
        *glass("X"),
        "UPDATE hub.exchange_groups SET priority = 3 WHERE group_name = 'lse'",
    )
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="requires approval"):
        run(
            connect,
            claim("mallory"),
            *glass("X"),
            "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'",
        )
    run(
        connect,
        *glass("Y"),
        "UPDATE hub.dag_configuration SET batch_size = 7 WHERE job_name = 'us_job'",
    )
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="requires approval"):
        run(connect, *glass("Y"), SET_BATCH)  # first used on an unprotected row
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="protected group"):
        run(owner, *glass("X"), "TRUNCATE hub.tickers")
    assert (
        value(connect, "SELECT enabled FROM hub.exchange_groups WHERE group_name = 'lse'") is True
    )
    assert value(connect, "SELECT count(*) FROM hub.break_glass_uses") == 1


def test_no_one_acknowledges_their_own_break_glass(
    login: Callable[..., tuple[str, Connect]], app_role: Connect, owner: Connect
) -> None:
    alice, alice_login = login("alice")
    bob, bob_login = login("bob")
    ack = "SELECT hub.acknowledge_break_glass('break-glass:{}', 'reviewed')"
    run(
        app_role,
        claim(alice),
        *glass("X"),
        "UPDATE hub.exchange_groups SET priority = 3 WHERE group_name = 'lse'",
    )
    for connect, statements in (
        (app_role, [claim(bob), ack.format("X")]),
        (
            app_role,
            [
                claim(bob),
                "INSERT INTO hub.break_glass_acks VALUES ('break-glass:X', 'bob', now(), 'ok')",
            ],
        ),
        (owner, ["INSERT INTO hub.break_glass_acks VALUES ('break-glass:X', 'bob', now(), 'ok')"]),
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(connect, *statements)
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot acknowledge"):
        run(alice_login, ack.format("X"))  # the claimed breaker
    run(
        bob_login,
        *glass("Y"),
        "UPDATE hub.exchange_groups SET priority = 4 WHERE group_name = 'lse'",
    )
    with pytest.raises(psycopg2.errors.CheckViolation, match="cannot acknowledge"):
        run(bob_login, ack.format("Y"))  # the login that broke it
    run(alice_login, ack.format("Y"))
    assert value(owner, "SELECT acknowledged_by FROM hub.break_glass_acks") == alice


@pytest.mark.parametrize("who", ["owner", "app_role"])
def test_cancelled_and_applied_scheduled_changes_are_final(
    request: pytest.FixtureRequest, who: str, app_role: Connect
) -> None:
    connect = request.getfixturevalue(who)
    changes = _change(app_role, ("exchange_groups", {"group_name": "us"}), {"priority": 6})
    run(
        app_role,
        claim("al"),
        "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor, state)"
        f" VALUES (now() + interval '1 day', 'x', '{changes}', 'ceo', 'cancelled')",
    )
    assert (
        value(app_role, "SELECT state || ' ' || actor FROM hub.scheduled_changes") == "scheduled al"
    )
    run(app_role, "UPDATE hub.scheduled_changes SET state = 'cancelled', note = 'no'")
    for statement in (
        "UPDATE hub.scheduled_changes SET state = 'scheduled', note = NULL",
        "UPDATE hub.scheduled_changes SET state = 'applied', applied_at = now()",
        "UPDATE hub.scheduled_changes SET actor = 'ceo'",
        "UPDATE hub.scheduled_changes SET changes = '[]'",
    ):
        with pytest.raises((psycopg2.errors.CheckViolation, psycopg2.errors.InsufficientPrivilege)):
            run(connect, statement)
    assert (
        value(connect, "SELECT state || ' ' || actor FROM hub.scheduled_changes") == "cancelled al"
    )


def test_break_glass_needs_a_reason_and_is_recorded(app_role: Connect) -> None:
    glass = "SELECT set_config('hub.change_set', 'break-glass:t1', true)"
    SET_BATCH = "UPDATE hub.dag_configuration SET batch_size = 9 WHERE job_name = 'lse_job'"
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


def test_requests_and_approvals_are_kept_and_audited(owner: Connect, approved: int) -> None:
    for statement in (
        f"DELETE FROM hub.change_requests WHERE id = {approved}",
        f"DELETE FROM hub.change_request_approvals WHERE request_id = {approved}",
        "UPDATE hub.change_request_approvals SET approver = 'carol'",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(owner, statement)
    audited = value(
        owner,
        "SELECT string_agg(table_name || ':' || split_part(actor, '_', 1), ',' ORDER BY id)"
        " FROM hub.audit_log WHERE table_name LIKE 'change_request%'",
    )
    assert audited == "change_requests:alice,change_request_approvals:bob,change_requests:bob"


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


NEW_JOB = {"dag_name": "d", "job_name": "new_job"}
INSERT_NEW_JOB = (
    "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group)"
    " VALUES ('d', 'new_job', 'lse')"
)
# A job created with a threshold nobody approved.
INSERT_NEW_JOB_SLOW = INSERT_NEW_JOB.replace("exchange_group)", "exchange_group, task_minutes)")
INSERT_NEW_JOB_SLOW = INSERT_NEW_JOB_SLOW.replace("'lse')", "'lse', 99)")


def _create_of_new_job(connect: Connect) -> str:
    """A stored request creating a job on lse (its row as the schema of the moment has it)."""
    return json.dumps(
        value(
            connect,
            "SELECT jsonb_build_array(jsonb_build_object('table', 'dag_configuration', 'key',"
            f" '{json.dumps(NEW_JOB)}'::jsonb, 'action', 'create', 'before', NULL, 'after',"
            f" hub.as_row('dag_configuration', to_jsonb(t)) || '{json.dumps(NEW_JOB)}',"
            " 'version_before', NULL, 'version_after', 1))"
            " FROM hub.dag_configuration t WHERE job_name = 'lse_job'",
        )
    )


def test_a_create_requested_before_0017_applies_with_the_thresholds_defaults(
    empty_db_url: str,
) -> None:
    engine = sa.create_engine(empty_db_url, poolclass=sa.NullPool)
    migrations.upgrade(engine, "0016")
    owner = lambda: psycopg2.connect(libpq_url(empty_db_url))  # noqa: E731
    run(
        owner,
        SEED,
        "UPDATE hub.exchange_groups SET approvals_required = 1 WHERE group_name = 'lse'",
    )
    with login_in_roles(empty_db_url, "hub_operator", "hub_approver") as alice_url:
        request_id = _open(
            lambda: psycopg2.connect(libpq_url(alice_url)), _create_of_new_job(owner)
        )
    migrations.upgrade(engine)
    with login_in_roles(empty_db_url, "hub_operator", "hub_approver") as bob_url:
        assert _approve(lambda: psycopg2.connect(libpq_url(bob_url)), request_id) == "approved"
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _apply(owner, request_id, INSERT_NEW_JOB_SLOW)
    _apply(owner, request_id, INSERT_NEW_JOB)
    assert (
        value(owner, "SELECT task_minutes FROM hub.dag_configuration WHERE job_name = 'new_job'")
        == 30
    )
    engine.dispose()
