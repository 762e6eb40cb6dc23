"""`hubctl metrics`: the collector's exposition against a real database, and what ships with it
in deploy/prometheus (the rules and the dashboard name only metrics the collector exports)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from hubctl import metrics
from hubctl.anchors import AnchorKey
from hubctl.author import Author
from hubctl.db import Database
from hubctl.db.bounded import BoundedCursor
from hubctl.errors import ChangeRequested
from hubctl.repository import listener as listener_queries
from hubctl.services import audit, groups, schedule
from hubctl.services.health import stale_sessions
from hubctl.services.rows import FieldChanges
from hubctl.settings import Settings
from tests.support.audit import tamper
from tests.support.configuration import (
    CLOSED_PORT_URL,
    DEFAULT_GROUPS,
    PYTEST,
    execute,
    protect_group,
    schedule_change,
)
from tests.support.marketdata import store_price

DEPLOY = Path(__file__).parents[1] / "deploy" / "prometheus"
KEY = "metrics test key, never in the database"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def exposition(database: Database, settings: Settings) -> str:
    """One scrape's text, as Prometheus receives it."""
    return generate_latest(metrics.registry(database, settings)).decode()


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(audit_key=KEY, anchor_path=tmp_path / "anchors.jsonl", home=tmp_path)


@pytest.fixture
def anchored(default_config: Engine, database: Database, settings: Settings) -> Iterator[Database]:
    """The defaults with one signed anchor at the chain's head."""
    audit.anchor(database, store=settings.anchor_path, key=AnchorKey(KEY.encode()))
    yield database


def test_each_group_reports_enabled_freshness_and_open_alerts(
    default_config: Engine, database: Database, settings: Settings
) -> None:
    store_price(default_config, "HSBA.L", "LSE", dt.date(2026, 11, 20))
    groups.set_group_enabled(database, group_name="german_markets", enabled=False, author=PYTEST)
    execute(
        default_config,
        "INSERT INTO hub.alerts (rule, subject, exchange_group, value, threshold, first_seen,"
        " last_seen) VALUES ('data_late', 'lse', 'lse', 90, 60, now(), now()),"
        " ('failure_rate', 'calculate_indicators__all', NULL, 10, 5, now(), now())",
    )

    found = samples(exposition(database, settings))

    assert {group: value(found, "hub_group_enabled", group=group) for group in DEFAULT_GROUPS} == {
        "us_markets": 1.0, "lse": 1.0, "german_markets": 0.0, "european_markets": 1.0
    }  # fmt: skip
    expected = stale_sessions("XLON", dt.date(2026, 11, 20), dt.date.today())
    assert value(found, "hub_group_freshness_sessions", group="lse") == expected
    # A group without any price has no freshness to report.
    assert ("hub_group_freshness_sessions", frozenset({("group", "us_markets")})) not in found
    assert value(found, "hub_alerts_open", rule="data_late", group="lse") == 1.0
    assert value(found, "hub_alerts_open", rule="failure_rate", group="") == 1.0
    assert value(found, "hub_alerts_open", rule="data_late", group="us_markets") == 0.0
    assert value(found, "hub_alerts_open", rule="source_unreachable", group="lse") == 0.0
    assert value(found, "hub_database_up") == 1.0
    assert 0 < value(found, "hub_metrics_scrape_seconds") < 5


def test_pending_requests_and_suspended_scheduled_changes_are_counted(
    default_config: Engine, database: Database, settings: Settings
) -> None:
    protect_group(database, "lse")
    with pytest.raises(ChangeRequested):  # four-eyes: stored as an open request
        groups.set_group_enabled(database, group_name="lse", enabled=False, author=PYTEST)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    schedule_change(
        database,
        due,
        lambda mode: groups.set_group(
            database,
            group_name="us_markets",
            changes=FieldChanges({"priority": 2}),
            author=Author("ann", mode=mode),
        ),
    )
    groups.set_group_enabled(database, group_name="us_markets", enabled=False, author=PYTEST)
    [held] = schedule.apply_due(database, now=dt.datetime.now(dt.UTC))
    assert held.state == "suspended"  # its target moved on since it was scheduled

    found = samples(exposition(database, settings))

    assert value(found, "hub_requests_pending") == 1.0
    assert value(found, "hub_scheduled_changes_suspended") == 1.0


def test_listener_lag_is_the_audit_head_minus_its_last_handled_entry(
    anchored: Database, settings: Settings
) -> None:
    head = audit.head(anchored)
    assert head is not None and head > 3
    with anchored.transaction() as conn:
        listener_queries.beat(conn, name="eu", host="h", pid=1, last_audit_id=head - 3)
        listener_queries.beat(conn, name="us", host="h", pid=2, last_audit_id=head)

    found = samples(exposition(anchored, settings))

    assert value(found, "hub_listener_lag_entries", listener="eu") == 3.0
    assert value(found, "hub_listener_lag_entries", listener="us") == 0.0
    assert 0 <= value(found, "hub_listener_heartbeat_age_seconds", listener="eu") < 60


def test_the_chain_is_verified_from_the_newest_anchor_and_a_rewrite_after_it_is_caught(
    default_config: Engine, anchored: Database, settings: Settings
) -> None:
    groups.set_group_enabled(anchored, group_name="lse", enabled=False, author=PYTEST)
    found = samples(exposition(anchored, settings))
    assert value(found, "hub_audit_chain_verified") == 1.0
    assert 0 <= value(found, "hub_audit_anchor_age_seconds") < 60

    head = audit.head(anchored)
    tamper(default_config, f"UPDATE hub.audit_log SET reason = 'nothing' WHERE id = {head}")

    assert value(samples(exposition(anchored, settings)), "hub_audit_chain_verified") == 0.0


def test_without_an_anchor_the_chain_is_not_checked_and_the_anchor_is_infinitely_old(
    database: Database, tmp_path: Path
) -> None:
    no_store = Settings(audit_key=KEY, anchor_path=tmp_path / "none.jsonl", home=tmp_path)
    found = samples(exposition(database, no_store))
    assert not any(name == "hub_audit_chain_verified" for name, _ in found)
    assert math.isinf(value(found, "hub_audit_anchor_age_seconds"))


def test_an_unreachable_database_is_reported_not_raised(settings: Settings) -> None:
    found = samples(exposition(Database(CLOSED_PORT_URL), settings))
    assert value(found, "hub_database_up") == 0.0
    assert {name for name, _ in found} == {"hub_database_up", "hub_metrics_scrape_seconds"}


METRIC_NAME = re.compile(r"\bhub_[a-z_]+\b")


def exported_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def rule_queries() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "rules.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_every_dashboard_panel_and_rule_queries_a_metric_the_collector_exports(
    anchored: Database, settings: Settings
) -> None:
    with anchored.transaction() as conn:
        listener_queries.beat(conn, name="default", host="h", pid=1, last_audit_id=1)
    exported = exported_names(exposition(anchored, settings))
    queries = {"dashboard": dashboard_queries(), "rules": rule_queries()}
    assert all(queries.values())
    for source, expressions in queries.items():
        for expression in expressions:
            named = set(METRIC_NAME.findall(expression))
            assert named, (source, expression)
            assert named <= exported, (source, expression, named - exported)
    shown = {
        name for expression in queries["dashboard"] for name in METRIC_NAME.findall(expression)
    }
    assert exported - shown <= {"hub_metrics_scrape_seconds"}, "a metric no panel shows"


def test_a_scrape_makes_the_same_statements_whatever_the_number_of_jobs(
    default_config: Engine, anchored: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    execute_statement = BoundedCursor.execute

    def counted(cursor: BoundedCursor, query: Any, vars: Any = None) -> None:
        statements.append(str(query))
        execute_statement(cursor, query, vars)

    monkeypatch.setattr(BoundedCursor, "execute", counted)
    exposition(anchored, settings)
    few = list(statements)
    execute(
        default_config,
        "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group)"
        " SELECT 'data_collection_equities', 'many_' || n, 'lse' FROM generate_series(1, 300) n",
    )
    execute(
        default_config,
        "INSERT INTO hub.alerts (rule, subject, exchange_group, value, threshold, first_seen,"
        " last_seen) SELECT 'failure_rate', 'many_' || n, 'lse', 10, 5, now(), now()"
        " FROM generate_series(1, 50) n",
    )
    statements.clear()
    found = samples(exposition(anchored, settings))

    assert value(found, "hub_alerts_open", rule="failure_rate", group="lse") == 50.0
    assert value(found, "hub_audit_chain_verified") == 1.0  # 300 more entries walked
    assert len(statements) == len(few) <= 10
