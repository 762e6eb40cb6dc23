"""hubctl dags list / check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from hubctl.cli import app
from hubctl.settings import get_settings
from tests.support.cli import heavy_modules_loaded_by
from tests.support.configuration import CLOSED_PORT_URL, DEFAULT_DAG_IDS, execute


def _list_json() -> list[dict[str, object]]:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["dags", "list", "-o", "json"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_dags_list_does_not_import_airflow(configured_hub: Engine, hub_env: Path) -> None:
    loaded = heavy_modules_loaded_by(["dags", "list", "-o", "json"], dict(os.environ))
    assert not {"airflow", "pandas", "numpy"} & set(loaded), loaded


def test_dags_list_shows_what_would_be_built(configured_hub: Engine, hub_env: Path) -> None:
    listed = _list_json()
    assert {row["dag_id"] for row in listed} == DEFAULT_DAG_IDS
    lse = next(row for row in listed if row["dag_id"] == "data_collection_equities__lse")
    assert lse == {
        "dag_id": "data_collection_equities__lse",
        "schedule": "@after_close+30m",
        "timezone": "Europe/London",
        "version": 1,
        "source": "database",
    }
    assert not get_settings().resolved_snapshot_path.exists()  # listing never writes it


def test_dags_list_falls_back_to_the_snapshot_when_the_database_is_down(
    configured_hub: Engine, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubctl.specs import load_specs

    load_specs()  # a parse wrote the snapshot
    monkeypatch.setenv("HUB_DATABASE_URL", CLOSED_PORT_URL)
    listed = _list_json()
    assert {row["dag_id"] for row in listed} == DEFAULT_DAG_IDS
    assert {row["source"] for row in listed} == {"snapshot"}


def test_dags_list_table(configured_hub: Engine, hub_env: Path) -> None:
    result = CliRunner().invoke(app, ["dags", "list"])
    assert result.exit_code == 0, result.output
    for heading in ("dag_id", "schedule", "timezone", "version", "source"):
        assert heading in result.stdout
    assert all(dag_id in result.stdout for dag_id in DEFAULT_DAG_IDS)
    assert "America/New_York" in result.stdout and "database" in result.stdout


def test_dags_check_passes_for_the_default_configuration(
    configured_hub: Engine, hub_env: Path
) -> None:
    result = CliRunner().invoke(app, ["dags", "check"])
    assert result.exit_code == 0, result.output
    assert "12 DAG(s) built and serialised, 0 failed" in result.stdout


def test_dags_check_reports_every_failing_row_and_exits_1(
    configured_hub: Engine, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute(
        configured_hub,
        "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('nope', 'x');"
        " ALTER TABLE hub.dag_configuration DROP CONSTRAINT ck_dag_configuration_params_object;"
        " UPDATE hub.dag_configuration SET params = '[1]' WHERE job_name = 'all'",
    )
    result = CliRunner().invoke(app, ["dags", "check"])
    assert result.exit_code == 1
    assert "11 DAG(s) built and serialised, 2 failed" in result.stdout
    assert "skipped nope__x: dag_name: unknown pipeline" in result.stderr
    assert "skipped calculate_indicators__all:" in result.stderr
