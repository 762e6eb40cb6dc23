"""Alert records (open, touch, resolve, silence) and the audited silences and thresholds."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import ChangeRequested, NotFoundError, ValidationError
from hubctl.services import alerts, config, groups, requests
from hubctl.services.alerts import Finding
from hubctl.services.rows import FieldChanges
from tests.support.configuration import protect_group
from tests.support.databases import database_of, login_in_roles

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
US_DAG = "data_collection_equities__us_markets"
LSE_DAG = "data_collection_equities__lse"
FAILING = Finding("failure_rate", US_DAG, "us_markets", US_DAG, 25.0, 5.0, "5 of 20 runs failed")
LATE = Finding("data_late", "lse", "lse", None, 130.0, 60.0, "no prices for 2026-12-04")
ALL_RULES = alerts.RULES
HOSTILE = "<script>alert(1)</script> '; DROP TABLE hub.alerts; -- \u202e\n\x1b[31m"


def _rows(engine: Engine, query: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(query)).mappings()]


def _deliveries(engine: Engine) -> list[tuple[str, str, str]]:
    rows = _rows(
        engine,
        "SELECT a.rule, a.subject, d.event FROM hub.alert_deliveries d"
        " JOIN hub.alerts a ON a.id = d.alert_id ORDER BY d.alert_id, d.event",
    )
    return [(row["rule"], row["subject"], row["event"]) for row in rows]


@pytest.fixture
def database(default_config: Engine) -> Database:
    return database_of(default_config)


def test_a_finding_opens_one_alert_and_one_delivery(
    database: Database, default_config: Engine
) -> None:
    done = alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    assert {(a.rule, a.subject) for a in done.opened} == {
        ("failure_rate", US_DAG),
        ("data_late", "lse"),
    }
    assert not done.touched and not done.resolved
    assert _deliveries(default_config) == [
        ("failure_rate", US_DAG, "opened"),
        ("data_late", "lse", "opened"),
    ]


def test_a_holding_finding_touches_the_open_alert_and_notifies_no_more(
    database: Database, default_config: Engine
) -> None:
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING], now=NOW)
    worse = dataclasses.replace(FAILING, value=40.0)
    done = alerts.reconcile(database, rules=ALL_RULES, findings=[worse], now=LATER)
    assert not done.opened and not done.resolved
    (touched,) = done.touched
    assert (touched.value, touched.first_seen, touched.last_seen) == (40.0, NOW, LATER)
    assert _deliveries(default_config) == [("failure_rate", US_DAG, "opened")]


def test_reconciling_twice_changes_nothing_but_last_seen(
    database: Database, default_config: Engine
) -> None:
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    query = "SELECT * FROM hub.alerts ORDER BY id"
    before = _rows(default_config, query)
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=LATER)
    after = _rows(default_config, query)
    assert [{**row, "last_seen": None} for row in after] == [
        {**row, "last_seen": None} for row in before
    ]
    assert {row["last_seen"] for row in after} == {LATER}
    assert len(_deliveries(default_config)) == 2


def test_a_cleared_condition_resolves_once_and_a_new_one_opens_a_new_alert(
    database: Database, default_config: Engine
) -> None:
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    done = alerts.reconcile(database, rules=ALL_RULES, findings=[LATE], now=LATER)
    assert [(a.rule, a.resolved_at) for a in done.resolved] == [("failure_rate", LATER)]
    again = alerts.reconcile(database, rules=ALL_RULES, findings=[LATE], now=LATER)
    assert not again.resolved
    reopened = alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING], now=LATER)
    assert [a.subject for a in reopened.opened] == [US_DAG]
    assert _deliveries(default_config).count(("failure_rate", US_DAG, "opened")) == 2
    assert _deliveries(default_config).count(("failure_rate", US_DAG, "resolved")) == 1


def test_only_the_rules_evaluated_resolve(database: Database) -> None:
    """A DeadlineAlert callback reports one finding: it resolves nothing else."""
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    done = alerts.reconcile(database, rules=frozenset(), findings=[LATE], now=LATER)
    assert not done.resolved and [a.rule for a in done.touched] == ["data_late"]
    done = alerts.reconcile(database, rules=frozenset({"data_late"}), findings=[], now=LATER)
    assert [a.rule for a in done.resolved] == ["data_late"]
    assert [a.rule for a in alerts.list_alerts(database, open_only=True)] == ["failure_rate"]


def test_a_silenced_subject_opens_nothing_until_the_silence_expires(
    database: Database, default_config: Engine
) -> None:
    until = (NOW + dt.timedelta(hours=1)).isoformat()
    alerts.silence(database, Author("ann", reason="maintenance"), rule="failure_rate",
                   subject=US_DAG, until=until, now=NOW)  # fmt: skip
    alerts.silence(database, Author("ann", reason="holiday feed"), rule="data_late",
                   subject="lse", until=until, now=NOW)  # fmt: skip
    done = alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    assert not done.opened and set(done.silenced) == {FAILING, LATE}
    assert _deliveries(default_config) == []
    expired = alerts.reconcile(
        database, rules=ALL_RULES, findings=[FAILING], now=NOW + dt.timedelta(hours=2)
    )
    assert [a.subject for a in expired.opened] == [US_DAG]


def test_a_task_duration_silence_covers_every_task_of_the_dag(database: Database) -> None:
    until = (NOW + dt.timedelta(days=1)).isoformat()
    change = alerts.silence(database, Author("ann"), rule="task_duration",
                            subject=f"{US_DAG}/collect_batch", until=until, now=NOW)  # fmt: skip
    assert change.key == {"dag_name": "data_collection_equities", "job_name": "us_markets"}
    assert change.after is not None and change.after["silences"] == {"task_duration": until}
    slow = Finding("task_duration", f"{US_DAG}/store", "us_markets", US_DAG, 45.0, 30.0)
    other = Finding("task_duration", f"{LSE_DAG}/store", "lse", LSE_DAG, 45.0, 30.0)
    done = alerts.reconcile(database, rules=ALL_RULES, findings=[slow, other], now=NOW)
    assert [a.subject for a in done.opened] == [f"{LSE_DAG}/store"]
    assert done.silenced == (slow,)


def test_a_silence_is_audited_with_its_reason(database: Database, default_config: Engine) -> None:
    until = "2026-12-08T09:00:00Z"
    alerts.silence(database, Author("ann", reason="feed maintenance"), rule="source_unreachable",
                   subject="lse", until=until, now=NOW)  # fmt: skip
    (entry,) = _rows(
        default_config,
        "SELECT actor, reason, changed_fields FROM hub.audit_log ORDER BY id DESC LIMIT 1",
    )
    assert entry["actor"] == "ann" and entry["reason"] == "feed maintenance"
    assert entry["changed_fields"]["silences"] == {"old": {}, "new": {"source_unreachable": until}}


@pytest.mark.parametrize(
    ("rule", "subject", "until", "error", "message"),
    [
        ("failure_rates", US_DAG, "2026-12-08T00:00:00Z", ValidationError, "rule: 'failure_rates' is not one of"),
        ("failure_rate", US_DAG, "tomorrow", ValidationError, "until: 'tomorrow' is not an ISO 8601 time with a zone"),
        ("failure_rate", US_DAG, "2026-12-08T09:00:00", ValidationError, "with a zone"),
        ("failure_rate", US_DAG, "2026-12-01T00:00:00Z", ValidationError, "is not in the future"),
        ("failure_rate", "nope__nothing", "2026-12-08T00:00:00Z", NotFoundError, "no job makes DAG 'nope__nothing'"),
        ("failure_rate", f"{US_DAG}/task", "2026-12-08T00:00:00Z", ValidationError, "failure_rate takes a DAG_ID"),
        ("task_duration", US_DAG, "2026-12-08T00:00:00Z", ValidationError, "task_duration takes DAG_ID/TASK_ID"),
        ("data_late", "atlantis", "2026-12-08T00:00:00Z", NotFoundError, "no exchange group 'atlantis'"),
    ],
)  # fmt: skip
def test_a_bad_silence_is_refused_with_one_line_and_nothing_written(
    database: Database,
    default_config: Engine,
    rule: str,
    subject: str,
    until: str,
    error: type[Exception],
    message: str,
) -> None:
    count = "SELECT count(*) AS n FROM hub.audit_log"
    before = _rows(default_config, count)
    with pytest.raises(error, match=message) as raised:
        alerts.silence(database, Author("ann"), rule=rule, subject=subject, until=until, now=NOW)
    assert "\n" not in str(raised.value)
    assert _rows(default_config, count) == before


@pytest.fixture
def approvers(db_url: str, default_config: Engine) -> Iterator[list[Database]]:
    """Two people's own approver logins: a request made on a shared login needs two."""
    with (
        login_in_roles(db_url, "hub_operator", "hub_approver", prefix="bob") as bob,
        login_in_roles(db_url, "hub_operator", "hub_approver", prefix="carol") as carol,
    ):
        yield [Database(bob), Database(carol)]


def test_a_protected_groups_threshold_change_is_a_request_applied_after_approval(
    database: Database, default_config: Engine, approvers: list[Database]
) -> None:
    protect_group(database, "lse")
    with pytest.raises(ChangeRequested) as requested:
        groups.set_group(database, group_name="lse",
                         changes=FieldChanges({"data_late_minutes": 90}), author=Author("ann"))  # fmt: skip
    late = "SELECT data_late_minutes AS m FROM hub.exchange_groups WHERE group_name = 'lse'"
    assert _rows(default_config, late) == [{"m": 60}]
    request_id = requested.value.request_id
    for approver in approvers:
        requests.approve(approver, request_id=request_id, author=Author("x"))
    requests.apply(database, request_id=request_id, author=Author("ann"))
    assert _rows(default_config, late) == [{"m": 90}]


def test_a_silence_on_a_protected_group_is_a_request(
    database: Database, default_config: Engine
) -> None:
    protect_group(database, "lse")
    with pytest.raises(ChangeRequested):
        alerts.silence(database, Author("ann", reason="x"), rule="data_late", subject="lse",
                       until="2026-12-08T09:00:00Z", now=NOW)  # fmt: skip
    with pytest.raises(ChangeRequested):  # a job of a protected group is protected too
        alerts.silence(database, Author("ann", reason="x"), rule="failure_rate", subject=LSE_DAG,
                       until="2026-12-08T09:00:00Z", now=NOW)  # fmt: skip
    silences = "SELECT silences FROM hub.exchange_groups WHERE group_name = 'lse'"
    assert _rows(default_config, silences) == [{"silences": {}}]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"failure_rate_percent": -5}, "failure_rate_percent"),
        ({"failure_rate_percent": 101}, "failure_rate_percent"),
        ({"failure_rate_runs": 0}, "failure_rate_runs"),
        ({"task_minutes": 10081}, "task_minutes"),
        ({"silences": {"data_late": "2026-12-08T09:00:00Z"}}, "'data_late' is not a rule of this table"),
        ({"silences": {"task_duration": "soon"}}, "is not an ISO 8601 time with a zone"),
    ],
)  # fmt: skip
def test_absurd_job_thresholds_are_refused(
    database: Database, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config.set_job(database, dag_name="data_collection_equities", job_name="us_markets",
                       changes=FieldChanges(values), author=Author("ann"))  # fmt: skip


def test_threshold_changes_are_audited(database: Database, default_config: Engine) -> None:
    config.set_job(database, dag_name="data_collection_equities", job_name="us_markets",
                   changes=FieldChanges({"task_minutes": 90}), author=Author("ann", reason="slow"))  # fmt: skip
    (entry,) = _rows(
        default_config,
        "SELECT actor, reason, changed_fields FROM hub.audit_log ORDER BY id DESC LIMIT 1",
    )
    changed = {"task_minutes": {"old": 30, "new": 90}}
    assert entry == {"actor": "ann", "reason": "slow", "changed_fields": changed}


def test_alerts_are_not_audited(database: Database, default_config: Engine) -> None:
    count = "SELECT count(*) AS n FROM hub.audit_log"
    before = _rows(default_config, count)
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING], now=NOW)
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING], now=LATER)
    alerts.reconcile(database, rules=ALL_RULES, findings=[], now=LATER)
    assert _rows(default_config, count) == before


def test_hostile_details_are_stored_and_listed_literally(database: Database) -> None:
    hostile = Finding("data_late", "lse", "lse", None, 1.0, 1.0, HOSTILE + "\x00end")
    alerts.reconcile(database, rules=ALL_RULES, findings=[hostile], now=NOW)
    (listed,) = alerts.list_alerts(database, group="lse")
    assert listed.detail == HOSTILE + "\\0end"


def test_list_and_counts_by_group(database: Database) -> None:
    alerts.reconcile(database, rules=ALL_RULES, findings=[FAILING, LATE], now=NOW)
    alerts.reconcile(database, rules=ALL_RULES, findings=[LATE], now=LATER)
    assert [(a.rule, a.resolved_at) for a in alerts.list_alerts(database)] == [
        ("data_late", None),
        ("failure_rate", LATER),
    ]
    assert [a.subject for a in alerts.list_alerts(database, group="us_markets")] == [US_DAG]
    assert alerts.list_alerts(database, open_only=True, group="us_markets") == []
    assert alerts.open_alert_counts(database) == {"lse": {"data_late": 1}}


def test_record_fetch_keeps_ok_and_the_error(database: Database, default_config: Engine) -> None:
    alerts.record_fetch(database, exchange_group="lse", dag_id=LSE_DAG, run_id="r1")
    alerts.record_fetch(database, exchange_group="lse", error="timeout" + "x" * 5000)
    rows = _rows(
        default_config, "SELECT ok, length(error) AS n, dag_id FROM hub.source_fetches ORDER BY id"
    )
    assert rows == [
        {"ok": True, "n": None, "dag_id": LSE_DAG},
        {"ok": False, "n": 4000, "dag_id": None},
    ]
