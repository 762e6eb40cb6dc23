"""hubctl dags list / check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from hubctl.cli import app
from tests.generator.conftest import CLOSED_PORT_URL, DEFAULT_DAG_IDS, execute

# Runs the CLI in a fresh interpreter, then says whether anything imported Airflow.
LIST_WITHOUT_AIRFLOW = """
import sys
from hubctl.cli import app
try:
    app(["dags", "list", "-o", "json"], standalone_mode=False)
finally:
    loaded = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
    print("airflow modules:", loaded, file=sys.stderr)
"""


def _list_json(env: dict[str, str]) -> tuple[list[dict[str, object]], str]:
    done = subprocess.run(
        [sys.executable, "-c", LIST_WITHOUT_AIRFLOW],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout), done.stderr


def test_dags_list_shows_what_would_be_built_without_importing_airflow(
    hub: Engine, hub_env: Path
) -> None:
    listed, stderr = _list_json({**os.environ})
    assert "airflow modules: []" in stderr
    assert {row["dag_id"] for row in listed} == DEFAULT_DAG_IDS
    lse = next(row for row in listed if row["dag_id"] == "data_collection_equities__lse")
    assert lse == {
        "dag_id": "data_collection_equities__lse",
        "schedule": "0 17 * * 1-5",
        "timezone": "Europe/London",
        "version": 1,
        "source": "database",
    }


def test_dags_list_falls_back_to_the_snapshot_when_the_database_is_down(
    hub: Engine, hub_env: Path
) -> None:
    from hubctl.generator import load_specs

    load_specs()  # a parse wrote the snapshot; the CLI itself never writes it
    listed, stderr = _list_json({**os.environ, "HUB_DATABASE_URL": CLOSED_PORT_URL})
    assert "configuration from the snapshot" in stderr
    assert {row["dag_id"] for row in listed} == DEFAULT_DAG_IDS
    assert {row["source"] for row in listed} == {"snapshot"}


def test_dags_list_table(hub: Engine, hub_env: Path) -> None:
    result = CliRunner().invoke(app, ["dags", "list"])
    assert result.exit_code == 0, result.output
    for heading in ("dag_id", "schedule", "timezone", "version", "source"):
        assert heading in result.stdout
    assert all(dag_id in result.stdout for dag_id in DEFAULT_DAG_IDS)
    assert "America/New_York" in result.stdout and "database" in result.stdout


def test_dags_check_passes_for_the_default_configuration(hub: Engine, hub_env: Path) -> None:
    result = CliRunner().invoke(app, ["dags", "check"])
    assert result.exit_code == 0, result.output
    assert "9 DAG(s) built and serialised, 0 failed" in result.stdout


def test_dags_check_reports_every_failing_row_and_exits_1(
    hub: Engine, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute(
        hub,
        "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('nope', 'x');"
        " ALTER TABLE hub.dag_configuration DROP CONSTRAINT ck_dag_configuration_params_object;"
        " UPDATE hub.dag_configuration SET params = '[1]' WHERE job_name = 'all'",
    )
    result = CliRunner().invoke(app, ["dags", "check"])
    assert result.exit_code == 1
    assert "8 DAG(s) built and serialised, 2 failed" in result.stdout
    assert "skipped nope__x: dag_name: unknown pipeline" in result.stderr
    assert "skipped calculate_indicators__all:" in result.stderr
