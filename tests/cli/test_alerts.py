"""hubctl alerts list / silence, the alerts column of status and doctor's warning."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.services import alerts
from hubctl.services.alerts import Finding
from tests.support.cli import Run, audit_rows, heavy_modules_loaded_by, last_audit_id
from tests.support.databases import database_of

US_DAG = "data_collection_equities__us_markets"
HOSTILE = "[red]boom[/red] <b>x</b> \x1b[2J =cmd|' /C calc'!A0"


def open_alerts(engine: Engine, *findings: Finding) -> None:
    alerts.reconcile(
        database_of(engine), rules=alerts.RULES, findings=findings, now=dt.datetime.now(dt.UTC)
    )


LATE = Finding("data_late", "lse", "lse", None, 130.0, 60.0, "no prices for 2026-12-04")
FAILING = Finding("failure_rate", US_DAG, "us_markets", US_DAG, 25.0, 5.0, "5 of 20 failed")


def test_list_shows_open_alerts_first_and_filters(hub: Run, default_config: Engine) -> None:
    open_alerts(default_config, LATE, FAILING)
    open_alerts(default_config, LATE)  # failure_rate resolves
    result = hub("alerts", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["rule"], row["resolved_at"] is None) for row in rows] == [
        ("data_late", True),
        ("failure_rate", False),
    ]
    assert rows[0]["detail"] == "no prices for 2026-12-04" and rows[0]["value"] == 130.0
    opened = json.loads(
        hub("alerts", "list", "--open", "--group", "us_markets", "-o", "json").stdout
    )
    assert opened == []
    table = hub("alerts", "list", "--open").stdout
    assert "data_late" in table and "failure_rate" not in table


def test_hostile_details_are_shown_literally(hub: Run, default_config: Engine) -> None:
    open_alerts(default_config, Finding("data_late", "lse", "lse", None, 1.0, 1.0, HOSTILE))
    assert json.loads(hub("alerts", "list", "-o", "json").stdout)[0]["detail"] == HOSTILE
    table = hub("alerts", "list").stdout
    assert "[red]boom[/red]" in table and "\x1b" not in table and "\\x1b" in table


def test_silence_is_an_audited_change_of_the_groups_silences(
    hub: Run, default_config: Engine
) -> None:
    since = last_audit_id(default_config)
    reason = "feed <maintenance> '; DROP TABLE hub.alerts; --"
    result = hub("alerts", "silence", "data_late", "lse", "--until", "2099-01-01T00:00:00Z",
                 "-m", reason, "--actor", "ann")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "updated exchange group lse" in result.stdout
    assert "silences: {} -> " in result.stdout and "2099-01-01T00:00:00Z" in result.stdout
    (entry,) = audit_rows(default_config, since)
    assert (entry["actor"], entry["reason"]) == ("ann", reason)
    shown = json.loads(hub("groups", "show", "lse", "-o", "json").stdout)
    assert shown["silences"] == {"data_late": "2099-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["failure_rate", US_DAG, "--until", "2020-01-01T00:00:00Z"], "until: 2020-01-01T00:00:00Z is not in the future"),
        (["failure_rate", US_DAG, "--until", "next week"], "until: 'next week' is not an ISO 8601 time"),
        (["flood", "lse", "--until", "2099-01-01T00:00:00Z"], "rule: 'flood' is not one of"),
        (["data_late", "atlantis", "--until", "2099-01-01T00:00:00Z"], "no exchange group 'atlantis'"),
    ],
)  # fmt: skip
def test_a_bad_silence_is_one_error_line_and_nothing_written(
    hub: Run, default_config: Engine, args: list[str], message: str
) -> None:
    since = last_audit_id(default_config)
    result = hub("alerts", "silence", *args, "-m", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert audit_rows(default_config, since) == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["config", "set", "data_collection_equities", "us_markets", "failure_rate_percent=-5"], "failure_rate_percent"),
        (["config", "set", "data_collection_equities", "us_markets", "task_minutes=99999999"], "task_minutes"),
        (["groups", "set", "lse", "data_late_minutes=0"], "data_late_minutes"),
        (["groups", "set", "lse", "unreachable_fetches=1e9"], "unreachable_fetches"),
    ],
)  # fmt: skip
def test_absurd_thresholds_are_refused_and_nothing_written(
    hub: Run, default_config: Engine, command: list[str], message: str
) -> None:
    since = last_audit_id(default_config)
    result = hub(*command)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {message}")
    assert result.stderr.count("\n") == 1
    assert audit_rows(default_config, since) == []


def test_a_threshold_is_set_like_any_field_and_audited(hub: Run, default_config: Engine) -> None:
    since = last_audit_id(default_config)
    result = hub("groups", "set", "lse", "data_late_minutes=90", "-m", "later feed")
    assert result.exit_code == 0, result.stderr
    assert "data_late_minutes: 60 -> 90" in result.stdout
    assert audit_rows(default_config, since)[0]["reason"] == "later feed"


def test_a_silence_on_a_protected_group_becomes_a_request(hub: Run, default_config: Engine) -> None:
    assert hub("groups", "set", "lse", "approvals_required=1").exit_code == 0
    result = hub("alerts", "silence", "source_unreachable", "lse", "--until",
                 "2099-01-01T00:00:00Z", "-m", "vendor outage")  # fmt: skip
    assert result.exit_code == 0 and "request #" in result.stdout.lower()
    with default_config.connect() as conn:
        silences = conn.scalar(
            sa.text("SELECT silences FROM hub.exchange_groups WHERE group_name = 'lse'")
        )
    assert silences == {}


def test_status_counts_each_groups_open_alerts(hub: Run, default_config: Engine) -> None:
    open_alerts(default_config, LATE, FAILING)
    rows = {row["group"]: row for row in json.loads(hub("status", "-o", "json").stdout)}
    assert (rows["lse"]["alerts"], rows["lse"]["alert_rules"]) == (1, ["data_late"])
    assert (rows["german_markets"]["alerts"], rows["german_markets"]["alert_rules"]) == (0, [])


def test_doctor_warns_naming_each_open_alert(hub: Run, default_config: Engine) -> None:
    result = hub("doctor", "-o", "json")
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["alerts"]["ok"] is True
    open_alerts(default_config, LATE, FAILING)
    result = hub("doctor", "-o", "json")
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["alerts"]["ok"] is False
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: alerts")]
    assert len(warning) == 1
    assert "data_late lse" in warning[0] and f"failure_rate {US_DAG}" in warning[0]


def test_alerts_list_is_a_light_read(hub: Run) -> None:
    loaded = heavy_modules_loaded_by(["alerts", "list", "-o", "json"], dict(os.environ))
    assert loaded == []
    assert "Example:" in hub("alerts", "list", "--help").stdout
    assert "Example:" in hub("alerts", "silence", "--help").stdout


def test_silences_are_lifted_by_setting_the_field_empty(hub: Run) -> None:
    until = "2099-01-01T00:00:00Z"
    assert hub("alerts", "silence", "data_late", "lse", "--until", until).exit_code == 0
    result = hub("groups", "set", "lse", "silences={}", "-m", "feed is back")
    assert result.exit_code == 0, result.stderr
    assert json.loads(hub("groups", "show", "lse", "-o", "json").stdout)["silences"] == {}
    refused = hub("groups", "set", "lse", "silences=soon")
    assert refused.exit_code == 1 and "silences: expected a mapping" in refused.stderr
    bad = hub("config", "set", "data_collection_equities", "lse", "failure_rate_percent=-5")
    assert bad.stderr.startswith("Error: failure_rate_percent: Input should be greater than")
