"""--at and audit diff: the configuration rebuilt from the audit log equals what was really there."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.db import Database
from hubctl.services import history
from tests.support.cli import Run, last_audit_id

DAG, JOB = "data_collection_equities", "lse"
CONTROL_TABLES = ("exchange_groups", "dag_configuration", "tickers")


@dataclass(frozen=True)
class Moment:
    """What was really there at one time: the tables (SELECT) and what the CLI printed."""

    time: str
    audit_id: int
    tables: dict[str, list[Any]]
    listed: str
    exported: str


def real_tables(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {
            table: sorted(
                (conn.scalars(sa.text(f"SELECT to_jsonb(t) FROM hub.{table} t")).all()),
                key=lambda row: json.dumps(row, sort_keys=True),
            )
            for table in CONTROL_TABLES
        }


def record(hub: Run, engine: Engine) -> Moment:
    with engine.connect() as conn:
        now = conn.scalar(sa.text("SELECT clock_timestamp()"))
    return Moment(
        now.isoformat(),
        last_audit_id(engine),
        real_tables(engine),
        hub("config", "list", "-o", "json").stdout,
        hub("export").stdout,
    )


def sql(engine: Engine, statement: str) -> Callable[[], None]:
    def run() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))

    return run


def ok(hub: Run, *args: str) -> Callable[[], None]:
    def run() -> None:
        result = hub(*args)
        assert result.exit_code == 0, result.stderr

    return run


def revert_last(hub: Run, engine: Engine) -> Callable[[], None]:
    return lambda: ok(hub, "audit", "revert", str(last_audit_id(engine)), "-m", "undo", "--yes")()


def changes(hub: Run, engine: Engine, tmp_path: Path) -> list[Callable[[], None]]:
    """Every path a change can take: set, add, remove, groups, tickers, apply, revert, raw SQL."""
    edited = tmp_path / "edited.yaml"
    return [
        ok(hub, "config", "set", DAG, JOB, "batch_size=750", "-m", "bigger"),
        ok(hub, "config", "set", DAG, JOB, "cpu_limit=3000m", "priority=9"),
        revert_last(hub, engine),  # cpu_limit and priority back
        ok(hub, "groups", "disable", "lse", "-m", "holiday"),
        ok(hub, "config", "add", "historical_load_equities", "extra", "exchange_group=lse"),
        ok(hub, "tickers", "add", "RIO.L", "--exchange", "LSE", "--grouping", "ftse100"),
        sql(engine, "UPDATE hub.dag_configuration SET max_retries = 7 WHERE job_name = 'extra'"),
        sql(engine, "UPDATE hub.dag_configuration SET job_name = 'renamed' WHERE job_name = 'extra'"),
        sql(engine, "DELETE FROM hub.tickers WHERE ticker = 'AAPL'"),
        ok(hub, "config", "remove", "historical_load_equities", "renamed"),
        lambda: edited.write_text(hub("export").stdout.replace("batch_size: 1000", "batch_size: 10")),
        ok(hub, "apply", "-f", str(edited), "--yes"),
        sql(engine, "UPDATE hub.exchange_groups SET market_close = '17:00' WHERE group_name = 'lse'"),
        sql(engine, "TRUNCATE hub.tickers"),
        ok(hub, "tickers", "add", "SAP.DE", "--exchange", "XETRA"),
        ok(hub, "groups", "enable", "lse"),
        sql(engine, "DELETE FROM hub.dag_configuration WHERE exchange_group = 'german_markets'"),
        sql(engine, "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('calculate_indicators', 'raw')"),
        ok(hub, "config", "set", "calculate_indicators", "raw", "batch_size=42", "timeout_seconds=600"),
        sql(engine, "TRUNCATE hub.dag_configuration"),
        ok(hub, "apply", "--defaults", "--yes"),
        ok(hub, "config", "disable", DAG, JOB),
    ]  # fmt: skip


def test_at_equals_what_was_really_there_at_every_moment(
    hub: Run, default_config: Engine, database: Database, tmp_path: Path
) -> None:
    moments = [record(hub, default_config)]
    for change in changes(hub, default_config, tmp_path):
        before = last_audit_id(default_config)
        change()
        if last_audit_id(default_config) > before:
            moments.append(record(hub, default_config))
    assert len(moments) >= 20
    for moment in moments:
        with database.connect() as conn:
            rebuilt = history.tables_at(conn, history.Moment(audit_id=moment.audit_id))
        as_sorted = {
            t: sorted(rebuilt[t], key=lambda r: json.dumps(r, sort_keys=True))
            for t in CONTROL_TABLES
        }
        assert as_sorted == moment.tables, moment.time
        assert hub("config", "list", "--at", moment.time, "-o", "json").stdout == moment.listed
        assert hub("export", "--at", moment.time).stdout == moment.exported, moment.time


def test_config_get_at_shows_the_job_as_it_was(hub: Run, default_config: Engine) -> None:
    with default_config.connect() as conn:
        before = conn.scalar(sa.text("SELECT clock_timestamp()")).isoformat()
    assert hub("config", "set", DAG, JOB, "batch_size=750").exit_code == 0
    then = json.loads(hub("config", "get", DAG, JOB, "--at", before, "-o", "json").stdout)
    now = json.loads(hub("config", "get", DAG, JOB, "-o", "json").stdout)
    assert (then["batch_size"], then["version"], now["batch_size"], now["version"]) == (
        500,
        1,
        750,
        2,
    )
    missing = hub("config", "get", DAG, JOB, "--at", "2000-01-01")
    assert (
        missing.exit_code == 1
        and "no job 'data_collection_equities/lse'; known: (none)" in missing.stderr
    )
    bad = hub("config", "list", "--at", "yesterday")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: at: expected 30m, 12h, 7d")


def test_audit_diff_prints_what_changed_like_a_plan(hub: Run, default_config: Engine) -> None:
    start = last_audit_id(default_config)
    assert hub("config", "set", DAG, JOB, "batch_size=750", "cpu_limit=3000m").exit_code == 0
    assert hub("tickers", "remove", "AAPL").exit_code == 0
    assert hub("config", "add", "calculate_indicators", "extra").exit_code == 0
    shown = hub("audit", "diff", str(start), str(last_audit_id(default_config))).stdout
    assert f"~ dag_configuration {DAG}/{JOB} (version 1)" in shown
    assert "batch_size: 500 -> 750" in shown and "cpu_limit: 2000m -> 3000m" in shown
    assert "- tickers AAPL" in shown and "+ dag_configuration calculate_indicators/extra" in shown
    assert shown.rstrip().endswith("Diff: 1 created, 1 changed, 1 removed.")
    as_json = json.loads(hub("audit", "diff", str(start), "0m", "-o", "json").stdout)
    assert as_json["summary"] == {"create": 1, "update": 1, "delete": 1}
    same = hub("audit", "diff", "0m", "0m").stdout
    assert same.strip() == "No changes between 0m and 0m."
