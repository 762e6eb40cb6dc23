"""Parse units (issue #15): shards by exchange group, thin entry files, per-unit snapshots and
build times, and the doctor's warning when a unit nears dagbag_import_timeout."""

from __future__ import annotations

import json
import select
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from sqlalchemy.engine import Engine

from hubctl.db import Database
from hubctl.repository.audit import affected_groups_after
from hubctl.repository.jobs import read_enabled_jobs
from hubctl.settings import get_settings
from hubctl.shards import (
    ENTRY_FILE,
    SINGLE_FILE,
    Shard,
    shard_for_file,
    shard_of_group,
    write_shard_files,
)
from tests.support.cli import hubctl
from tests.support.configuration import CLOSED_PORT_URL, DEFAULT_DAG_IDS, execute

SHARDS = 7


def add_groups(engine: Engine, groups: int, jobs_each: int, prefix: str = "syn") -> set[str]:
    """``groups`` synthetic exchange groups with ``jobs_each`` collection jobs each; the DAG ids."""
    execute(
        engine,
        "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone,"
        " market_open, market_close) SELECT :prefix || lpad(n::text, 3, '0'), 'Synthetic',"
        " ARRAY['LSE'], 'Europe/London', '08:00', '16:30' FROM generate_series(1, :groups) n",
        prefix=prefix,
        groups=groups,
    )
    execute(
        engine,
        "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group, schedule, params)"
        " SELECT 'data_collection_equities', g.group_name || '_' || j, g.group_name,"
        " '0 17 * * 1-5', '{\"source\": \"sample\"}' FROM hub.exchange_groups g,"
        " generate_series(1, :jobs) j WHERE g.group_name LIKE :prefix || '%'",
        prefix=prefix,
        jobs=jobs_each,
    )
    return {
        f"data_collection_equities__{prefix}{n:03d}_{j}"
        for n in range(1, groups + 1)
        for j in range(1, jobs_each + 1)
    }


def dag_ids_by_shard(database: Database, count: int) -> dict[int, set[str]]:
    found = {}
    for index in range(count):
        with database.connect() as conn:
            rows = read_enabled_jobs(conn, statement_timeout_ms=5000, shard=(index, count))
        found[index] = {f"{row['dag_name']}__{row['job_name']}" for row in rows}
    return found


def test_sql_and_python_put_each_group_in_the_same_shard_and_a_new_group_moves_nothing(
    configured_hub: Engine, database: Database
) -> None:
    with database.connect() as conn:
        defaults = len(read_enabled_jobs(conn, statement_timeout_ms=5000))
    add_groups(configured_hub, 60, 5)
    before = dag_ids_by_shard(database, SHARDS)
    with database.connect() as conn:
        every = read_enabled_jobs(conn, statement_timeout_ms=5000)
    assert len(every) == defaults + 300 == sum(map(len, before.values()))
    for row in every:
        expected = shard_of_group(row["exchange_group"], SHARDS)
        assert f"{row['dag_name']}__{row['job_name']}" in before[expected]
    assert "calculate_indicators__all" in before[0]  # a job without a group: shard 0
    assert sum(1 for ids in before.values() if ids) >= SHARDS - 1  # 64 groups spread out

    add_groups(configured_hub, 3, 2, prefix="fresh")
    after = dag_ids_by_shard(database, SHARDS)
    for index in range(SHARDS):
        assert before[index] <= after[index]


def test_shard_names_are_read_from_the_entry_file_and_other_names_build_everything() -> None:
    assert shard_for_file("/x/hub_dags_003_of_016.py") == Shard(3, 16)
    assert shard_for_file("/x/hub_dags.py") == Shard() == shard_for_file(None)
    assert shard_for_file("/x/hub_dags_016_of_016.py") == Shard()  # no such shard
    assert Shard(3, 16).file_name == "hub_dags_003_of_016.py" and Shard().file_name == SINGLE_FILE
    assert Shard(3, 16).snapshot_path(Path("/h/snapshot.json")) == Path(
        "/h/snapshot.003_of_016.json"
    )


def test_entry_files_are_thin_and_rewriting_keeps_unchanged_ones(tmp_path: Path) -> None:
    (tmp_path / "hub_dags_000_of_002.py").write_text(ENTRY_FILE)
    old = tmp_path / "hub_dags_000_of_002.py"
    files = write_shard_files(tmp_path, 3)
    assert [path.name for path in files] == [Shard(i, 3).file_name for i in range(3)]
    assert not old.exists()
    code = [line for line in ENTRY_FILE.splitlines() if line.strip() and '"""' not in line]
    assert len(code) <= 3 and all(path.read_text() == ENTRY_FILE for path in files)
    mtime = files[1].stat().st_mtime_ns
    write_shard_files(tmp_path, 3)
    assert files[1].stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="between 2"):
        write_shard_files(tmp_path, 1)


def test_each_unit_builds_its_groups_keeps_its_snapshot_and_the_worker_builds_one(
    configured_hub: Engine,
    hub_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    expected = add_groups(configured_hub, 12, 2) | DEFAULT_DAG_IDS
    files = write_shard_files(tmp_path / "dags", 3)
    bags = [DagBag(dag_folder=str(path)) for path in files]
    assert not any(bag.import_errors for bag in bags)
    built = [set(bag.dags) for bag in bags]
    assert set().union(*built) == expected and sum(map(len, built)) == len(expected)
    settings = get_settings()
    for index, ids in enumerate(built):
        snapshot = Shard(index, 3).snapshot_path(settings.resolved_snapshot_path)
        entries = json.loads(snapshot.read_text())["specs"]
        assert {f"{e['dag_name']}__{e['job_name']}" for e in entries} == ids
        record = json.loads(
            (snapshot.parent / "parse-units" / f"{files[index].name}.json").read_text()
        )
        assert record["dags"] == len(ids) and record["dagbag_import_timeout"] == 30

    one = sorted(built[1])[0]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", one)
    assert set(DagBag(dag_folder=str(files[1])).dags) == {one}
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID")

    monkeypatch.setenv("HUB_DATABASE_URL", CLOSED_PORT_URL)  # each unit: its own snapshot
    get_settings.cache_clear()
    assert [set(DagBag(dag_folder=str(path)).dags) for path in files] == built


def test_doctor_and_dags_check_warn_when_a_unit_nears_the_import_timeout(
    configured_hub: Engine, parse: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubctl.dag_builder import generate_dags

    # What the entry file runs; a DagBag would itself stop the parse at so small a timeout.
    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "0.002")
    assert set(generate_dags()) == DEFAULT_DAG_IDS  # records hub_dags.py's build time
    doctor = hubctl("doctor")
    assert doctor.exit_code == 1
    assert "parse unit hub_dags.py took" in doctor.output
    assert "dagbag_import_timeout (0.002 s)" in doctor.output and "HUB_DAG_SHARDS" in doctor.output

    check = hubctl("dags", "check")
    assert check.exit_code == 0
    assert "warning: parse unit hub_dags.py took" in check.output

    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "30")
    assert set(parse().dags) == DEFAULT_DAG_IDS
    assert "parse unit hub_dags.py took" not in hubctl("doctor").output
    assert "warning" not in hubctl("dags", "check").output


def test_every_audited_change_is_announced_with_the_groups_it_affects(
    configured_hub: Engine, db_url: str, database: Database
) -> None:
    from hubctl.db import connection_arguments

    listener = psycopg2.connect(**connection_arguments(db_url))
    listener.autocommit = True
    listener.cursor().execute("LISTEN hub_changes")
    with database.connect() as conn:
        start = affected_groups_after(conn, after_id=0)[-1]["id"]
    writer = psycopg2.connect(**connection_arguments(db_url))
    with writer, writer.cursor() as cursor:  # plain SQL, one transaction: announced on commit
        cursor.execute("UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'")
        cursor.execute(
            "UPDATE hub.dag_configuration SET exchange_group = NULL, schedule = '0 22 * * 1-5'"
            " WHERE dag_name = 'data_collection_equities' AND job_name = 'us_markets'"
        )
        cursor.execute("UPDATE hub.tickers SET enabled = NOT enabled WHERE ticker = 'AAPL'")
        cursor.execute("TRUNCATE hub.dag_configuration")
    writer.close()
    select.select([listener], [], [], 5)
    listener.poll()
    payloads = [json.loads(note.payload) for note in listener.notifies]
    listener.close()
    expected = [
        ("exchange_groups", ["lse"]),
        ("dag_configuration", [None, "us_markets"]),
        ("tickers", []),
        ("dag_configuration", None),
    ]
    assert [(p["table"], p["groups"]) for p in payloads] == expected
    with database.connect() as conn:
        logged = affected_groups_after(conn, after_id=start)
    assert [entry["groups"] for entry in logged] == [groups for _, groups in expected]
    assert [entry["id"] for entry in logged] == [p["id"] for p in payloads]


def test_dags_shards_writes_the_entry_files_and_refuses_a_bad_count(tmp_path: Path) -> None:
    written = hubctl("dags", "shards", "--count", "3", "--folder", str(tmp_path / "dags"))
    assert written.exit_code == 0, written.output
    assert sorted(path.name for path in (tmp_path / "dags").iterdir()) == [
        Shard(i, 3).file_name for i in range(3)
    ]
    for bad in ("1", "1000"):
        refused = hubctl("dags", "shards", "--count", bad, "--folder", str(tmp_path / "other"))
        assert refused.exit_code == 1
        assert refused.output.startswith("Error: --count: expected 2 to 999 entry files")
        assert not (tmp_path / "other").exists()
