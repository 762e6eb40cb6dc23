"""The database refuses governance rows hubctl cannot read, and free text past its documented size
(issue 22, items 5, 6 and 15): raw SQL as the runtime login and as the owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from hubctl.author import ACTOR_LIMIT, REASON_LIMIT
from hubctl.db import libpq_url
from tests.support.databases import login_in_roles

SEED = """
INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone)
VALUES ('us', 'US', ARRAY['NYSE'], 'America/New_York');
INSERT INTO hub.tickers (ticker, exchange) VALUES ('AAPL', 'NYSE');
"""
MALFORMED = '[{"oops": 1}]'
# An update of group us as hubctl stores it: whole rows (every column but the bookkeeping ones).
WELL_FORMED = """(SELECT jsonb_build_array(jsonb_build_object('table', 'exchange_groups', 'key',
  jsonb_build_object('group_name', 'us'), 'action', 'update', 'before', r,
  'after', r || '{"priority": 6}', 'version_before', 1, 'version_after', 2))
  FROM (SELECT to_jsonb(g) - hub.bookkeeping_columns() AS r FROM hub.exchange_groups g
         WHERE group_name = 'us') x)"""
MEGABYTES_2 = "x" * 2_000_000

Connect = Callable[[], Any]


@pytest.fixture
def owner(db_url: str) -> Connect:
    """psycopg2 connections as the schema's owner (the migrating login), seeded once."""
    with psycopg2.connect(libpq_url(db_url)) as conn, conn.cursor() as cursor:
        cursor.execute(SEED)
    return lambda: psycopg2.connect(libpq_url(db_url))


@pytest.fixture
def hub_app(owner: Connect, db_url: str) -> Iterator[Connect]:
    """psycopg2 connections as a login with the runtime login's rights (hub_operator)."""
    with login_in_roles(db_url, "hub_operator") as url:
        yield lambda: psycopg2.connect(libpq_url(url))


def run(connect: Connect, statement: str, *settings: tuple[str, str]) -> None:
    """One statement in a transaction with these hub.* settings, committed."""
    conn = connect()
    try:
        with conn.cursor() as cursor:
            for name, value in settings:
                cursor.execute("SELECT set_config(%s, %s, true)", (name, value))
            cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


def count(connect: Connect, table: str) -> int:
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM hub.{table}")
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


def schedule(changes: str, reason: str = "why") -> str:
    return (
        "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor, reason)"
        f" VALUES (now() + interval '1 day', 'sql', {changes}, 'a', '{reason}')"
    )


@pytest.mark.parametrize("login", ["hub_app", "owner"])
def test_a_malformed_scheduled_change_is_refused(
    login: str, request: pytest.FixtureRequest
) -> None:
    connect = request.getfixturevalue(login)
    with pytest.raises(psycopg2.errors.CheckViolation, match="scheduled change: change 1: keys"):
        run(connect, schedule(f"'{MALFORMED}'"))
    for partial, why in (
        ("""'[{"table": "exchange_groups", "key": {"group_name": "us"}, "action": "update",
              "before": {"priority": 1}, "after": {"priority": 2}}]'""", "exactly the fields"),
        ("""'[{"table": "market.ohlcv", "key": {}, "action": "delete", "before": {},
              "after": null}]'""", "not a control table"),
    ):  # fmt: skip
        with pytest.raises(psycopg2.errors.CheckViolation, match=why):
            run(connect, schedule(partial))
    run(connect, schedule(WELL_FORMED))
    assert count(connect, "scheduled_changes") == 1


@pytest.mark.parametrize("login", ["hub_app", "owner"])
def test_a_malformed_change_request_is_refused(login: str, request: pytest.FixtureRequest) -> None:
    """As the owner, the shape check refuses it; the runtime login may not be allowed to insert
    requests at all (four-eyes' own functions), which refuses it too."""
    connect = request.getfixturevalue(login)
    insert = (
        "INSERT INTO hub.change_requests (command, changes, groups, approvals_required,"
        f" requester) VALUES ('sql', '{MALFORMED}', ARRAY['us'], 1, 'mallory')"
    )
    with pytest.raises(psycopg2.Error) as refused:
        run(connect, insert)
    if login == "owner":
        assert isinstance(refused.value, psycopg2.errors.CheckViolation)
        assert "change request: change 1: keys must be table, key, action" in str(refused.value)
    assert count(request.getfixturevalue("owner"), "change_requests") == 0


def test_a_2_mb_reason_is_refused_by_the_audit_log(hub_app: Connect) -> None:
    update = "UPDATE hub.tickers SET enabled = false WHERE ticker = 'AAPL'"
    with pytest.raises(psycopg2.errors.CheckViolation, match="ck_audit_log_reason_length"):
        run(hub_app, update, ("hub.actor", "mallory"), ("hub.reason", MEGABYTES_2))
    with pytest.raises(psycopg2.errors.CheckViolation, match="ck_audit_log_actor_length"):
        run(hub_app, update, ("hub.actor", "m" * (ACTOR_LIMIT + 1)))
    run(hub_app, update, ("hub.actor", "m" * ACTOR_LIMIT), ("hub.reason", "r" * REASON_LIMIT))
    conn = hub_app()
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT length(actor), length(reason) FROM hub.audit_log WHERE reason IS NOT NULL"
            )
            assert cursor.fetchall() == [(ACTOR_LIMIT, REASON_LIMIT)]  # the refused left nothing
    finally:
        conn.close()


def test_a_2_mb_reason_is_refused_on_a_scheduled_change(hub_app: Connect) -> None:
    with pytest.raises(psycopg2.errors.CheckViolation, match="ck_scheduled_changes_reason_length"):
        run(hub_app, schedule(WELL_FORMED, reason=MEGABYTES_2))
    assert count(hub_app, "scheduled_changes") == 0
