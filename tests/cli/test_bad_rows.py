"""Bad rows must not stop the hub (issue 22, items 5, 6, 8, 10, 15): each is reported and skipped,
the rest keeps working. Rows the database now refuses are stored as a row written before
migration 0016 would be: by a superuser with the shape check switched off."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import REASON_LIMIT
from hubctl.errors import HubError
from hubctl.services import schedule
from hubctl.settings import get_settings
from hubctl.specs import load_specs
from tests.support.cli import Run
from tests.support.databases import database_of

MALFORMED = '[{"oops": 1}]'
LATER = "2099-12-29T07:00Z"


def _without_triggers(engine: Engine, table: str, statement: str) -> int:
    """Run ``statement`` (an INSERT ... RETURNING id) with the table's triggers off, as a legacy
    row was stored; they are switched back on (ENABLE ALWAYS) in the same transaction."""
    with engine.begin() as conn:
        names = conn.execute(
            sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"
                " AND NOT tgisinternal AND tgenabled = 'A'"
            ),
            {"t": f"hub.{table}"},
        ).scalars()
        names = list(names)
        for name in names:
            conn.execute(sa.text(f"ALTER TABLE hub.{table} DISABLE TRIGGER {name}"))
        row_id = int(conn.execute(sa.text(statement)).scalar_one())
        for name in names:
            conn.execute(sa.text(f"ALTER TABLE hub.{table} ENABLE ALWAYS TRIGGER {name}"))
    return row_id


def _legacy_request(engine: Engine) -> int:
    return _without_triggers(
        engine,
        "change_requests",
        "INSERT INTO hub.change_requests (command, changes, groups, approvals_required, requester)"
        f" VALUES ('sql', '{MALFORMED}', ARRAY['lse'], 1, 'mallory') RETURNING id",
    )


def _legacy_scheduled_change(engine: Engine, run_at: str, state: str = "scheduled") -> int:
    return _without_triggers(
        engine,
        "scheduled_changes",
        "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor, state)"
        f" VALUES ('{run_at}', 'sql', '{MALFORMED}', 'mallory', '{state}') RETURNING id",
    )


def _checks(hub: Run) -> dict[str, dict[str, Any]]:
    return {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}


def test_an_unreadable_request_is_listed_shown_and_named_by_doctor(
    hub: Run, default_config: Engine
) -> None:
    bad = _legacy_request(default_config)
    for form in ((), ("-o", "json"), ("--state", "open"), ("-o", "csv")):
        listed = hub("requests", "list", *form)
        assert (listed.exit_code, listed.stderr) == (0, ""), form
    [row] = json.loads(hub("requests", "list", "-o", "json").stdout)
    assert (row["id"], row["state"], row["changes"]) == (bad, "open", [])
    assert row["problem"].startswith("unreadable changes: TypeError")
    shown = hub("requests", "show", str(bad))
    assert shown.exit_code == 0 and "unreadable changes" in shown.stdout
    check = _checks(hub)["governance rows"]
    assert check["ok"] is False
    assert f"change request #{bad} (unreadable changes" in check["detail"]
    assert f"hubctl requests reject {bad}" in check["detail"]


def test_the_scheduler_fails_an_unreadable_change_and_applies_the_next(
    hub: Run, default_config: Engine
) -> None:
    """The bad change is due first; the valid one queued behind it still applies."""
    added = hub("schedule", "add", "--at", LATER, "groups", "disable", "lse", "-m", "closure")
    assert added.exit_code == 0, added.stderr
    bad = _legacy_scheduled_change(default_config, "2099-12-29T06:00Z")
    listed = hub("schedule", "list")
    assert (listed.exit_code, listed.stderr) == (0, "")
    assert "unreadable: unreadable changes" in listed.stdout
    check = _checks(hub)["governance rows"]
    assert check["ok"] is False and f"scheduled change #{bad} (unreadable" in check["detail"]

    database = database_of(default_config)
    after = dt.datetime(2099, 12, 29, 8, tzinfo=dt.UTC)
    settled = schedule.apply_due(database, now=after)
    assert [(c.id, c.state) for c in settled] == [(bad, "failed"), (bad - 1, "applied")]
    assert (settled[0].note or "").startswith("unreadable changes: TypeError")
    with default_config.connect() as conn:
        enabled = conn.execute(
            sa.text("SELECT enabled FROM hub.exchange_groups WHERE group_name = 'lse'")
        ).scalar()
    assert enabled is False
    assert schedule.apply_due(database, now=after) == []
    assert _checks(hub)["governance rows"]["ok"] is True  # settled: nothing pending to fix


def test_status_and_doctor_read_past_an_unreadable_suspended_change(
    hub: Run, default_config: Engine
) -> None:
    """Both read the suspended changes (per group, and doctor's own check)."""
    bad = _legacy_scheduled_change(default_config, "2099-12-29T06:00Z", state="suspended")
    status = hub("status", "-o", "json")
    assert status.exit_code == 0, status.stderr
    assert all(row["suspended_changes"] == [] for row in json.loads(status.stdout))
    checks = _checks(hub)
    assert f"#{bad}" in checks["scheduled changes"]["detail"]
    assert f"hubctl schedule cancel {bad}" in checks["governance rows"]["detail"]


def test_an_unknown_calendar_rejects_its_jobs_and_doctor_names_them(
    hub: Run, default_config: Engine
) -> None:
    with default_config.begin() as conn:
        conn.execute(
            sa.text("UPDATE hub.exchange_groups SET calendar = 'ZZZZ' WHERE group_name = 'lse'")
        )
    loaded = load_specs(get_settings(), save_snapshot=False)
    reasons = {failure.dag_id: failure.reason for failure in loaded.rejected}
    assert reasons and all(dag_id.endswith("__lse") for dag_id in reasons)
    assert set(reasons.values()) == {
        "calendar: 'ZZZZ' is not an exchange_calendars name (e.g. XNYS, XLON)"
    }
    assert any(spec.job_name == "us_markets" for spec in loaded.specs)  # the others still build
    checks = _checks(hub)
    for dag_id in reasons:
        assert "'ZZZZ'" in checks[f"job {dag_id}"]["detail"]


def test_doctor_says_when_the_audit_guard_is_not_installed(
    hub: Run, default_config: Engine
) -> None:
    """A database migrated by an owner that is not a superuser has no event trigger guard."""
    assert _checks(hub)["audit guard"]["ok"] is True
    with default_config.begin() as conn:
        conn.execute(sa.text("DROP EVENT TRIGGER hub_keep_the_audit_on_drop"))
    result = hub("doctor", "-o", "json")
    check = {row["check"]: row for row in json.loads(result.stdout)}["audit guard"]
    assert check["ok"] is False
    assert "the event trigger that keeps the audit on is not installed" in check["detail"]
    assert "hubctl audit verify" in check["detail"]
    assert "Warning: audit guard" in result.stderr


def test_a_reason_past_the_limit_is_one_error_line(hub: Run) -> None:
    result = hub("groups", "disable", "lse", "-m", "x" * 2_000_000)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (f"Error: reason: at most {REASON_LIMIT} characters (got 2000000)\n")


def test_a_change_that_raises_is_left_due_and_the_next_still_applies(
    hub: Run, default_config: Engine
) -> None:
    """Readable, but not what hubctl stores (a key column the table lacks): applying it raises
    something no rule expected. It stays due, the change after it applies, the task fails."""
    added = hub("schedule", "add", "--at", LATER, "groups", "disable", "lse", "-m", "closure")
    assert added.exit_code == 0, added.stderr
    odd = _without_triggers(
        default_config,
        "scheduled_changes",
        "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor) VALUES"
        ' (\'2099-12-29T06:00Z\', \'sql\', \'[{"table": "exchange_groups", "key":'
        ' {"group_name": "us_markets", "nope": "x"}, "action": "update", "before": {},'
        ' "after": {}, "version_before": 1, "version_after": 2}]\', \'mallory\') RETURNING id',
    )
    database = database_of(default_config)
    after = dt.datetime(2099, 12, 29, 8, tzinfo=dt.UTC)
    with pytest.raises(HubError, match=f"1 settled, 1 raised errors and stay due: #{odd}: "):
        schedule.apply_due(database, now=after)
    states = {c.id: c.state for c in schedule.list_changes(database)}
    assert states == {odd: "scheduled", odd - 1: "applied"}
