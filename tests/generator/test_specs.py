"""The Airflow-free half: rows -> validated specs, the read, and the snapshot."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.errors import DatabaseBusyError, DatabaseUnavailableError, NotFoundError
from hubctl.repository import jobs
from hubctl.repository.jobs import read_enabled_jobs
from hubctl.settings import get_settings
from hubctl.specs import (
    DagSpec,
    candidate_keys,
    format_age,
    live_spec,
    load_specs,
    read_snapshot,
    validate_rows,
    write_snapshot,
)
from tests.support.configuration import DEFAULT_DAG_IDS, execute
from tests.support.databases import database_of


@pytest.fixture
def rows(configured_hub: Engine) -> list[dict[str, Any]]:
    return read(configured_hub, statement_timeout_ms=5000)


def read(configured_hub: Engine, *, statement_timeout_ms: int) -> list[dict[str, Any]]:
    with database_of(
        configured_hub
    ).transaction() as conn:  # read-write: the read itself must refuse writes
        return read_enabled_jobs(conn, statement_timeout_ms=statement_timeout_ms)


def test_candidate_keys_try_every_split_of_the_dag_id() -> None:
    assert candidate_keys("collect__lse") == [("collect", "lse")]
    assert candidate_keys("a__b__c") == [("a", "b__c"), ("a__b", "c")]
    assert candidate_keys("no_separator") == []
    assert candidate_keys("__x") == []
    assert candidate_keys("x__") == []


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(40, "40s"), (432, "7m 12s"), (7500, "2h 5m"), (3 * 86400 + 60, "3d 0h")],
)
def test_snapshot_age_is_shown_in_its_two_largest_units(seconds: int, shown: str) -> None:
    assert format_age(dt.timedelta(seconds=seconds)) == shown


def test_the_query_returns_enabled_jobs_with_their_group(rows: list[dict[str, Any]]) -> None:
    specs, rejected = validate_rows(rows)
    assert rejected == []
    assert {spec.dag_id for spec in specs} == DEFAULT_DAG_IDS
    lse = next(spec for spec in specs if spec.dag_id == "data_collection_equities__lse")
    assert lse.group is not None and lse.group.exchanges == ["LSE"]
    assert (lse.timezone, lse.group.market_close) == ("Europe/London", dt.time(16, 30))
    assert lse.params["lookback_days"] == 5 and lse.params["pool"] is None  # resolved params
    indicators = next(spec for spec in specs if spec.dag_name == "calculate_indicators")
    assert (indicators.group, indicators.timezone) == (None, "UTC")


def test_a_spec_comes_back_whole_from_the_json_that_load_config_puts_in_xcom(
    rows: list[dict[str, Any]],
) -> None:
    specs, _ = validate_rows(rows)
    for spec in specs:
        xcom = json.loads(json.dumps(spec.model_dump(mode="json")))
        assert DagSpec.model_validate(xcom) == spec
    by_id = {spec.dag_id: spec for spec in specs}
    assert by_id["data_collection_equities__lse"].exchanges == ["LSE"]
    assert by_id["calculate_indicators__all"].exchanges == []  # no group, no exchanges


def test_each_bad_row_is_rejected_with_its_reason_and_hides_nothing(
    rows: list[dict[str, Any]],
) -> None:
    bad = {
        "nope__x": {**rows[0], "dag_name": "nope", "job_name": "x"},
        "data_collection_equities__bad_params": {
            **_row(rows, "data_collection_equities__lse"),
            "job_name": "bad_params",
            "params": {"lookback_days": 0},
        },
        "data_collection_equities__bad_cron": {
            **_row(rows, "data_collection_equities__lse"),
            "job_name": "bad_cron",
            "schedule": "every day",
        },
    }
    specs, rejected = validate_rows([*rows, *bad.values()])
    assert {spec.dag_id for spec in specs} == DEFAULT_DAG_IDS
    reasons = {failure.dag_id: failure.reason for failure in rejected}
    assert reasons.keys() == bad.keys()
    assert "unknown pipeline" in reasons["nope__x"]
    assert "params.lookback_days" in reasons["data_collection_equities__bad_params"]
    assert "schedule" in reasons["data_collection_equities__bad_cron"]


def _row(rows: list[dict[str, Any]], dag_id: str) -> dict[str, Any]:
    return next(row for row in rows if f"{row['dag_name']}__{row['job_name']}" == dag_id)


def test_the_read_is_read_only(configured_hub: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_SELECT", "CREATE TABLE hub.sneaky (a int); --")
    with pytest.raises(psycopg2.Error, match="read-only transaction"):
        read(configured_hub, statement_timeout_ms=5000)


def test_the_read_has_a_statement_timeout(
    configured_hub: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "_SELECT", "SELECT pg_sleep(5); --")
    with pytest.raises(DatabaseBusyError, match="cancelled SELECT at its statement timeout"):
        read(configured_hub, statement_timeout_ms=100)


def test_the_generator_reads_with_the_least_privileged_role(
    configured_hub: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HUB_READER_DATABASE_URL (a hub_reader login) the generator needs nothing else."""
    login = f"generator_{os.getpid()}"
    execute(configured_hub, f"CREATE ROLE {login} LOGIN IN ROLE hub_reader")
    try:
        reader_url = sa.make_url(db_url).set(username=login)
        monkeypatch.setenv("HUB_READER_DATABASE_URL", reader_url.render_as_string(False))
        monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/hub")
        get_settings.cache_clear()
        loaded = load_specs()
        assert loaded.source == "database"
        assert {spec.dag_id for spec in loaded.specs} == DEFAULT_DAG_IDS
    finally:
        execute(configured_hub, f"DROP OWNED BY {login}; DROP ROLE {login}")


def test_the_snapshot_is_rewritten_only_when_the_specs_change(
    rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    specs, _ = validate_rows(rows)
    path = tmp_path / "state" / "snapshot.json"
    assert write_snapshot(path, specs) is True
    os.utime(path, (0, 0))
    inode = path.stat().st_ino
    assert write_snapshot(path, specs) is False
    assert path.stat().st_ino == inode and path.stat().st_mtime > 0  # touched, not rewritten
    changed = [specs[0].model_copy(update={"version": 99}), *specs[1:]]
    assert write_snapshot(path, changed) is True
    assert path.stat().st_ino != inode  # replaced by rename
    assert [p.name for p in path.parent.iterdir()] == ["snapshot.json"]  # no temp file left
    entries, age = read_snapshot(path) or ([], None)
    assert [DagSpec.model_validate(entry) for entry in entries] == changed
    assert age is not None and age < dt.timedelta(minutes=1)


def test_database_down_uses_the_snapshot_and_says_how_old_it_is(
    configured_hub: Engine,
    hub_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert load_specs().source == "database"
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/hub")
    get_settings.cache_clear()
    caplog.set_level(logging.WARNING, logger="hubctl")

    loaded = load_specs()
    assert loaded.source == "snapshot" and loaded.snapshot_age is not None
    assert {spec.dag_id for spec in loaded.specs} == DEFAULT_DAG_IDS
    [warning] = caplog.records
    assert "unreachable" in warning.getMessage() and "old" in warning.getMessage()

    worker = load_specs(dag_id="historical_load_equities__lse")
    assert [spec.dag_id for spec in worker.specs] == ["historical_load_equities__lse"]


def test_a_corrupt_snapshot_is_ignored_with_a_clear_log_line(
    hub_env: Path, database_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = get_settings().resolved_snapshot_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"format": 1, "specs": [')
    with pytest.raises(DatabaseUnavailableError, match="no usable snapshot"):
        load_specs()
    assert any("ignoring the configuration snapshot" in r.getMessage() for r in caplog.records)


def test_a_worker_parse_never_writes_the_snapshot(configured_hub: Engine, hub_env: Path) -> None:
    load_specs(dag_id="calculate_indicators__all")
    assert not get_settings().resolved_snapshot_path.exists()


def test_snapshot_entries_are_validated_one_by_one(hub_env: Path, database_down: None) -> None:
    path = get_settings().resolved_snapshot_path
    path.parent.mkdir(parents=True, exist_ok=True)
    good = {"dag_name": "calculate_indicators", "job_name": "all", "version": 1,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "updated_by": "me"}  # fmt: skip
    bad = {**good, "job_name": "broken", "cpu_request": "lots"}
    path.write_text(json.dumps({"format": 1, "specs": [good, bad]}))
    loaded = load_specs()
    assert [spec.dag_id for spec in loaded.specs] == ["calculate_indicators__all"]
    assert [failure.dag_id for failure in loaded.rejected] == ["calculate_indicators__broken"]


def test_live_spec_is_the_row_as_it_is_now(configured_hub: Engine, hub_env: Path) -> None:
    execute(
        configured_hub, "UPDATE hub.dag_configuration SET batch_size = 42 WHERE job_name = 'all'"
    )
    assert live_spec("calculate_indicators", "all").batch_size == 42
    execute(
        configured_hub, "UPDATE hub.dag_configuration SET enabled = false WHERE job_name = 'all'"
    )
    with pytest.raises(NotFoundError):
        live_spec("calculate_indicators", "all")
