"""The alerts' SQL (hubctl.repository.alerts): one open alert per (rule, subject), once-only
deliveries, failed-fetch streaks, and the runtime login's rights on these tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from hubctl.db import Database
from hubctl.repository import alerts as alert_rows
from hubctl.services import alerts
from hubctl.services.alerts import Finding
from tests.support.databases import database_of, login_in_roles

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
LATE = Finding("data_late", "lse", "lse", None, 130.0, 60.0, "no prices")


def test_a_second_open_of_the_same_rule_and_subject_is_a_no_op(engine: Engine) -> None:
    """Two evaluations racing: the unique index keeps one open alert, the loser opens nothing."""
    database = database_of(engine)
    with database.transaction() as conn:
        (first,) = alert_rows.insert_alerts(conn, findings=[LATE], now=NOW)
        assert alert_rows.insert_alerts(conn, findings=[LATE], now=NOW) == []
        alert_rows.queue_deliveries(conn, alert_ids=[first["id"]] * 2, event="opened", now=NOW)
        alert_rows.queue_deliveries(conn, alert_ids=[first["id"]], event="opened", now=NOW)
        (resolved,) = alert_rows.resolve_alerts(conn, ids=[first["id"]], now=NOW)
        assert alert_rows.resolve_alerts(conn, ids=[first["id"]], now=NOW) == []
        (again,) = alert_rows.insert_alerts(conn, findings=[LATE], now=NOW)
    assert resolved["resolved_at"] == NOW and again["id"] != first["id"]
    with database.connect() as conn:
        rows = alert_rows.list_alerts(conn, open_only=False, group=None, limit=10)
        assert [row["resolved_at"] for row in rows] == [None, NOW]
        assert len(alert_rows.fetch(conn, "SELECT * FROM hub.alert_deliveries")) == 1


def test_the_runtime_login_writes_and_the_auditor_reads(db_url: str, engine: Engine) -> None:
    """Tests run as the owner; the stack's tasks run as a login in hub_operator."""
    with login_in_roles(db_url, "hub_operator") as url:
        runtime = Database(url)
        alerts.record_fetch(runtime, exchange_group="lse", error="timeout")
        alerts.reconcile(runtime, rules=alerts.RULES, findings=[LATE], now=NOW)
        done = alerts.reconcile(runtime, rules=alerts.RULES, findings=[], now=NOW)
        assert [alert.rule for alert in done.resolved] == ["data_late"]
    with login_in_roles(db_url, "hub_auditor") as url:
        assert [alert.rule for alert in alerts.list_alerts(Database(url))] == ["data_late"]
