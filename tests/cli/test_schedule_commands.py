"""hubctl schedule: add (any write command, captured), list, cancel; bad input writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.cli import Run, snapshot

LATER, LATER_STILL = "2099-12-29T07:00Z", "2099-12-30T07:00:00+01:00"


def _scheduled(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = sa.text("SELECT * FROM hub.scheduled_changes ORDER BY id")
        return [dict(row) for row in conn.execute(query).mappings()]


def _lse_enabled(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = sa.text("SELECT enabled FROM hub.exchange_groups WHERE group_name = 'lse'")
        return bool(conn.execute(query).scalar())


def test_add_a_closure_and_the_reopening_then_list_and_cancel(
    hub: Run, default_config: Engine
) -> None:
    """The issue's example: a disable, then an enable that only makes sense after it."""
    closing = hub("schedule", "add", "--at", LATER, "groups", "disable", "lse", "-m", "closure")
    assert closing.exit_code == 0, closing.stderr
    assert closing.stdout == (
        "scheduled #1 for 2099-12-29T07:00:00+00:00: update exchange group lse (enabled=false)\n"
    )
    assert _lse_enabled(default_config)  # nothing written yet
    opening = hub(
        "schedule", "add", "--at", LATER_STILL, "groups", "enable", "lse", "--actor", "bo"
    )
    assert opening.exit_code == 0, opening.stderr
    listed = json.loads(hub("schedule", "list", "-o", "json").stdout)
    assert [(c["id"], c["state"], c["actor"], c["reason"]) for c in listed] == [
        (1, "scheduled", "pytest", "closure"),
        (2, "scheduled", "bo", None),
    ]
    assert listed[0]["command"] == "hubctl groups disable lse -m closure"
    # The reopening's base is the row as the closure will leave it (version 2), not as it is now.
    assert [c["changes"][0]["version_before"] for c in listed] == [1, 2]

    cancelled = hub("schedule", "cancel", "2", "-m", "stays shut")
    assert (cancelled.exit_code, cancelled.stdout) == (
        0,
        "cancelled #2: update exchange group lse (enabled=true); it will not be applied\n",
    )
    assert [row["state"] for row in _scheduled(default_config)] == ["scheduled", "cancelled"]
    table = hub("schedule", "list", "--state", "cancelled").stdout
    assert "stays shut" in table and "closure" not in table
    logged = json.loads(hub("audit", "log", "--table", "schedule", "-o", "json").stdout)
    assert [(e["action"], e["key"], e["actor"], e["reason"]) for e in logged] == [
        ("UPDATE", {"id": 2}, "pytest", "stays shut"),
        ("INSERT", {"id": 2}, "bo", None),
        ("INSERT", {"id": 1}, "pytest", "closure"),
    ]
    again = hub("schedule", "cancel", "2")
    assert (again.exit_code, again.stderr.strip()) == (
        1,
        "Error: id: scheduled change #2 is cancelled; only scheduled or suspended ones can be"
        " cancelled",
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--at", "next tuesday", "groups", "disable", "lse"], "at: expected a time with its zone"),
        (
            ["--at", "2099-12-29T07:00", "groups", "disable", "lse"],
            "at: '2099-12-29T07:00' names no zone",
        ),
        (
            ["--at", "2020-01-01T00:00Z", "groups", "disable", "lse"],
            "at: 2020-01-01T00:00:00+00:00 is in the past",
        ),
        (["--at", LATER, "groups", "frobnicate", "lse"], "command: No such command 'frobnicate'."),
        (["--at", LATER, "db", "upgrade"], "command: 'db upgrade' cannot be scheduled"),
        (
            ["--at", LATER, "schedule", "cancel", "1"],
            "command: 'schedule cancel' cannot be scheduled",
        ),
        (
            ["--at", LATER, "config", "set", "data_collection_equities", "lse", "batch_size=-1"],
            "batch_size: ",
        ),
        (["--at", LATER, "groups", "list"], "command: nothing to schedule: 'hubctl groups list'"),
        (["--at", LATER, "groups", "enable", "lse"], "command: nothing to schedule"),
        (
            ["--at", LATER, "groups", "set", "lse", "priority=2", "--dry-run"],
            "command: nothing to schedule",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    hub: Run, default_config: Engine, args: list[str], error: str
) -> None:
    before = snapshot(default_config)
    result = hub("schedule", "add", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {error}") and result.stderr.count("\n") == 1
    assert result.stdout == ""  # the inner command's own output is not shown
    assert (snapshot(default_config), _scheduled(default_config)) == (before, [])


def test_hostile_reason_is_stored_and_shown_as_text(hub: Run, default_config: Engine) -> None:
    hostile = "=1+1 <b>x</b> [red]y[/red] \x1b[31mz"
    result = hub("schedule", "add", "--at", LATER, "groups", "disable", "lse", "-m", hostile)
    assert result.exit_code == 0, result.stderr
    assert _scheduled(default_config)[0]["reason"] == hostile
    assert json.loads(hub("schedule", "list", "-o", "json").stdout)[0]["reason"] == hostile
    table = hub("schedule", "list").stdout
    assert "\x1b" not in table and "[red]y[/red]" in table


def test_the_scheduled_command_runs_captured_writes_nothing_and_prints_no_report(
    hub: Run, default_config: Engine
) -> None:
    """The command runs in Capture mode (the root context's obj): its change is recorded and
    rolled back, and its own report ('updated job ...') never runs."""
    before = snapshot(default_config)
    result = hub(
        "schedule", "add", "--at", LATER,
        "config", "set", "data_collection_equities", "lse", "batch_size=750", "-m", "bigger",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "scheduled #1 for 2099-12-29T07:00:00+00:00:"
        " update job data_collection_equities/lse (batch_size=750)\n"
    )
    after = snapshot(default_config)
    new_entries = after.pop("audit_log")[len(before.pop("audit_log")) :]
    assert after == before  # no control row written
    assert [entry["table_name"] for entry in new_entries] == ["scheduled_changes"]
    [stored] = _scheduled(default_config)
    assert (stored["command"], stored["reason"]) == (
        "hubctl config set data_collection_equities lse batch_size=750 -m bigger",
        "bigger",
    )
