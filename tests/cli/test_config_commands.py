"""hubctl config: list, get, set, add, remove, enable, disable against the real database."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.errors import ConflictError
from hubctl.services import config
from hubctl.services.rows import FieldChanges
from tests.support.cli import Run, audit_rows, last_audit_id, snapshot
from tests.support.databases import database_of

DAG, JOB = "data_collection_equities", "us_markets"


def job_row(engine: Engine, dag: str = DAG, job: str = JOB) -> dict[str, object] | None:
    with engine.connect() as conn:
        query = sa.text("SELECT * FROM hub.dag_configuration WHERE dag_name = :d AND job_name = :j")
        row = conn.execute(query, {"d": dag, "j": job}).mappings().first()
    return dict(row) if row else None


def test_list_outputs_every_job_in_each_format(hub: Run) -> None:
    rows = json.loads(hub("config", "list", "-o", "json").stdout)
    assert len(rows) == 12
    assert list(rows[0])[:2] == ["dag_name", "job_name"] and "version" in rows[0]
    csv_lines = hub("config", "list", "-o", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("dag_name,job_name,") and len(csv_lines) == 13
    assert "job_name: us_markets" in hub("config", "list", "-o", "yaml").stdout
    table = hub("config", "list").stdout
    assert "data_collection_equities" in table and "cpu_limit" in table


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--dag", "historical_load_equities"], 4),
        (["--group", "lse"], 2),
        (["--group", "lse", "--dag", DAG], 1),
        (["--enabled"], 12),
        (["--disabled"], 0),
    ],
)
def test_list_filters(hub: Run, flags: list[str], expected: int) -> None:
    result = hub("config", "list", *flags, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == expected


def test_get_shows_one_job(hub: Run) -> None:
    data = json.loads(hub("config", "get", DAG, JOB, "-o", "json").stdout)
    assert data["schedule"] == "@after_close+90m" and data["version"] == 1
    assert data["params"] == {"source": "sample", "lookback_days": 5}


def test_set_changes_fields_and_params_in_one_audited_change(
    hub: Run, default_config: Engine
) -> None:
    before = last_audit_id(default_config)
    result = hub(
        "config",
        "set",
        DAG,
        JOB,
        "batch_size=750",
        "cpu_limit=3000m",
        "params.lookback_days=7",
        "--actor",
        "alice",
        "-m",
        "bigger batches",
    )
    assert result.exit_code == 0, result.stderr
    assert "version 1 -> 2" in result.stdout and "batch_size: 500 -> 750" in result.stdout
    row = job_row(default_config)
    assert row is not None
    assert (row["batch_size"], row["cpu_limit"], row["version"]) == (750, "3000m", 2)
    assert row["params"] == {"source": "sample", "lookback_days": 7}  # an int, not "7"
    [entry] = audit_rows(default_config, before)
    assert (entry["actor"], entry["reason"], entry["via"]) == ("alice", "bigger batches", "hubctl")
    assert set(entry["changed_fields"]) == {"batch_size", "cpu_limit", "params"}


def test_params_null_removes_a_key_and_lists_parse(hub: Run, default_config: Engine) -> None:
    result = hub(
        "config", "set", DAG, JOB, "params.lookback_days=null", "params.fail_tickers=[AAPL, MSFT]"
    )
    assert result.exit_code == 0, result.stderr
    row = job_row(default_config)
    assert row is not None and row["params"] == {
        "source": "sample",
        "fail_tickers": ["AAPL", "MSFT"],
    }


def test_schedule_null_clears_a_nullable_field(hub: Run, default_config: Engine) -> None:
    assert hub("config", "set", DAG, JOB, "schedule=null").exit_code == 0
    row = job_row(default_config)
    assert row is not None and row["schedule"] is None


def test_dry_run_validates_and_writes_nothing(hub: Run, default_config: Engine) -> None:
    before = snapshot(default_config)
    result = hub("config", "set", DAG, JOB, "batch_size=900", "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.stdout and "500 -> 900" in result.stdout
    assert snapshot(default_config) == before


def test_setting_the_same_values_is_no_change(hub: Run, default_config: Engine) -> None:
    before = snapshot(default_config)
    result = hub("config", "set", DAG, JOB, "batch_size=500")
    assert result.exit_code == 0 and "no change" in result.stdout
    assert snapshot(default_config) == before


def test_expect_version_refuses_a_stale_version_showing_the_current_one(
    hub: Run, default_config: Engine
) -> None:
    assert hub("config", "set", DAG, JOB, "batch_size=600", "--expect-version", "1").exit_code == 0
    before = snapshot(default_config)
    stale = hub("config", "set", DAG, JOB, "batch_size=700", "--expect-version", "1")
    assert stale.exit_code == 1
    assert stale.stderr.startswith("Error: version:") and "at version 2, not 1" in stale.stderr
    assert snapshot(default_config) == before


def test_two_concurrent_writers_with_the_same_version_exactly_one_wins(
    default_config: Engine,
) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def write(batch_size: int) -> None:
        barrier.wait()
        try:
            config.set_job(
                database_of(default_config),
                dag_name=DAG,
                job_name=JOB,
                changes=FieldChanges({"batch_size": batch_size}),
                expect_version=1,
                author=Author(f"writer{batch_size}"),
            )
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(size,)) for size in (601, 602)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    row = job_row(default_config)
    assert row is not None and row["version"] == 2
    assert len([e for e in audit_rows(default_config) if e["action"] == "UPDATE"]) == 1


def test_add_creates_a_job_with_defaults(hub: Run, default_config: Engine) -> None:
    result = hub(
        "config",
        "add",
        "historical_load_equities",
        "lse_extra",
        "exchange_group=lse",
        "params.years_back=3",
        "-m",
        "second backfill",
    )
    assert result.exit_code == 0, result.stderr
    assert "created job historical_load_equities/lse_extra (version 1)" in result.stdout
    row = job_row(default_config, "historical_load_equities", "lse_extra")
    assert row is not None
    assert (row["batch_size"], row["cpu_request"], row["params"]) == (
        500,
        "500m",
        {"years_back": 3},
    )
    assert audit_rows(default_config)[-1]["action"] == "INSERT"


def test_add_refuses_an_existing_job(hub: Run) -> None:
    result = hub("config", "add", DAG, JOB)
    assert result.exit_code == 1 and "already exists (version 1)" in result.stderr


def test_remove_deletes_and_audits(hub: Run, default_config: Engine) -> None:
    result = hub("config", "remove", DAG, JOB, "-m", "market closed for good")
    assert result.exit_code == 0 and "removed job" in result.stdout
    assert job_row(default_config) is None
    entry = audit_rows(default_config)[-1]
    assert (entry["action"], entry["reason"]) == ("DELETE", "market closed for good")


def test_disable_and_enable(hub: Run, default_config: Engine) -> None:
    assert hub("config", "disable", DAG, JOB).exit_code == 0
    row = job_row(default_config)
    assert row is not None and row["enabled"] is False
    assert len(json.loads(hub("config", "list", "--disabled", "-o", "json").stdout)) == 1
    assert hub("config", "enable", DAG, JOB).exit_code == 0
    row = job_row(default_config)
    assert row is not None and row["enabled"] is True and row["version"] == 3


def test_unknown_job_lists_the_known_ones(hub: Run) -> None:
    result = hub("config", "get", DAG, "mars")
    assert result.exit_code == 1
    assert (
        "no job 'data_collection_equities/mars'" in result.stderr and "us_markets" in result.stderr
    )
