"""hub_scheduler: the generated job applies due scheduled changes, audited, as their scheduler.

The DAG comes from a real DagBag parse and runs with dag.test() against the test database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.services import config, groups, health, schedule
from hubctl.services.rows import FieldChanges
from hubctl.settings import get_settings
from tests.pipelines.test_builders import _test
from tests.support.configuration import add_tse_group, schedule_change
from tests.support.databases import database_of

pytestmark = pytest.mark.usefixtures("airflow_metadata_db")
NOW = dt.datetime.now(dt.UTC)
DUE, NOT_YET = NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(days=1)
COLLECTION_LSE = {"dag_name": "data_collection_equities", "job_name": "lse"}


def _rows(engine: Engine, sql: str, **binds: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(sql), binds).mappings()]


def _states(engine: Engine) -> list[str]:
    return [
        row["state"] for row in _rows(engine, "SELECT state FROM hub.scheduled_changes ORDER BY id")
    ]


def test_the_job_applies_due_changes_once_as_their_scheduler(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    database = database_of(configured_hub)
    due = schedule_change(
        database,
        DUE,
        lambda mode: groups.set_group_enabled(
            database,
            group_name="lse",
            enabled=False,
            author=Author("ann", reason="closure", mode=mode),
        ),
    )
    schedule_change(
        database,
        NOT_YET,
        lambda mode: groups.set_group_enabled(
            database, group_name="us_markets", enabled=False, author=Author("ann", mode=mode)
        ),
    )
    cancelled = schedule_change(
        database,
        DUE,
        lambda mode: config.set_job(
            database,
            **COLLECTION_LSE,
            changes=FieldChanges({"batch_size": 7}),
            author=Author("bo", mode=mode),
        ),
    )
    schedule.cancel(database, change_id=cancelled, author=Author("cy", reason="not needed"))
    dag = parse().dags["hub_scheduler__hub"]

    _, values = _test(dag)
    assert values["apply_due"] == [{"id": due, "state": "applied", "note": None}]
    assert _states(configured_hub) == ["applied", "scheduled", "cancelled"]
    enabled = "SELECT group_name, enabled FROM hub.exchange_groups WHERE group_name IN ('lse', 'us_markets') ORDER BY 1"
    assert _rows(configured_hub, enabled) == [
        {"group_name": "lse", "enabled": False},
        {"group_name": "us_markets", "enabled": True},
    ]
    batch = "SELECT batch_size FROM hub.dag_configuration WHERE job_name = 'lse' AND dag_name = 'data_collection_equities'"
    assert _rows(configured_hub, batch) != [{"batch_size": 7}]

    applied = _rows(
        configured_hub,
        "SELECT actor, via, reason FROM hub.audit_log WHERE table_name = 'exchange_groups'"
        " AND row_key->>'group_name' = 'lse' AND via = 'schedule'",
    )
    assert applied == [
        {"actor": "ann", "via": "schedule", "reason": f"scheduled change #{due}: closure"}
    ]
    own = _rows(
        configured_hub,
        "SELECT row_key->>'id' AS id, action, actor, via, new_row->>'state' AS state FROM hub.audit_log"
        " WHERE table_name = 'scheduled_changes' ORDER BY hub.audit_log.id",
    )
    assert own == [
        {"id": str(due), "action": "INSERT", "actor": "ann", "via": "hubctl", "state": "scheduled"},
        {"id": "2", "action": "INSERT", "actor": "ann", "via": "hubctl", "state": "scheduled"},
        {
            "id": str(cancelled),
            "action": "INSERT",
            "actor": "bo",
            "via": "hubctl",
            "state": "scheduled",
        },
        {
            "id": str(cancelled),
            "action": "UPDATE",
            "actor": "cy",
            "via": "hubctl",
            "state": "cancelled",
        },
        {"id": str(due), "action": "UPDATE", "actor": "ann", "via": "schedule", "state": "applied"},
    ]
    _, values = _test(dag)  # the next minute's run: nothing is applied twice
    assert values["apply_due"] == []
    assert _states(configured_hub) == ["applied", "scheduled", "cancelled"]


def test_a_change_whose_target_moved_on_is_suspended_and_reported(
    configured_hub: Engine,
) -> None:
    database = database_of(configured_hub)
    suspended = schedule_change(
        database,
        DUE,
        lambda mode: groups.set_group(
            database,
            group_name="lse",
            changes=FieldChanges({"priority": 2}),
            author=Author("ann", mode=mode),
        ),
    )
    groups.set_group_enabled(database, group_name="lse", enabled=False, author=Author("bo"))

    [settled] = schedule.apply_due(database, now=NOW)
    assert (settled.id, settled.state) == (suspended, "suspended")
    assert settled.note == (
        "target changed since it was scheduled: exchange group 'lse' changed since: it was at"
        " version 1, now 2"
    )
    assert _rows(
        configured_hub, "SELECT priority FROM hub.exchange_groups WHERE group_name = 'lse'"
    ) != [{"priority": 2}]
    [lse] = [row for row in health.group_status(database) if row["group"] == "lse"]
    assert lse["suspended_changes"] == [suspended]
    [check] = [c for c in health.doctor(database, get_settings()) if c.name == "scheduled changes"]
    assert (check.ok, check.warning) == (False, True)
    assert f"#{suspended}" in check.detail and "hubctl schedule cancel" in check.detail

    schedule.cancel(database, change_id=suspended, author=Author("ann"))
    assert schedule.apply_due(database, now=NOW) == []
    [check] = [c for c in health.doctor(database, get_settings()) if c.name == "scheduled changes"]
    assert check.ok


def test_a_change_the_rules_refuse_by_then_fails_with_why(configured_hub: Engine) -> None:
    """The rules hold when a change applies: a group that gained a job cannot be removed."""
    database = database_of(configured_hub)
    add_tse_group(database, calendar="weekday")
    failing = schedule_change(
        database,
        DUE,
        lambda mode: groups.remove_group(database, group_name="tse", author=Author("a", mode=mode)),
    )
    config.add_job(
        database,
        **{**COLLECTION_LSE, "job_name": "tse"},
        values={"exchange_group": "tse"},
        author=Author("a"),
    )

    [settled] = schedule.apply_due(database, now=NOW)
    assert (settled.id, settled.state) == (failing, "failed")
    assert "data_collection_equities/tse" in (settled.note or "")
    assert _rows(
        configured_hub, "SELECT group_name FROM hub.exchange_groups WHERE group_name = 'tse'"
    )


def test_a_change_another_runner_holds_is_skipped(configured_hub: Engine) -> None:
    database = database_of(configured_hub)
    held = schedule_change(
        database,
        DUE,
        lambda mode: groups.set_group_enabled(
            database, group_name="lse", enabled=False, author=Author("a", mode=mode)
        ),
    )
    with configured_hub.begin() as conn:
        conn.execute(
            sa.text("SELECT 1 FROM hub.scheduled_changes WHERE id = :id FOR UPDATE"), {"id": held}
        )
        assert schedule.apply_due(database, now=NOW) == []
    assert [change.state for change in schedule.apply_due(database, now=NOW)] == ["applied"]
