"""Version, help, the actor default, database errors, and what a read command imports."""

from __future__ import annotations

import getpass
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import __version__
from hubctl.cli import describe_unexpected
from tests.support.cli import Run, audit_rows, heavy_modules_loaded_by

DAG, JOB = "data_collection_equities", "us_markets"


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"hubctl {__version__}"


@pytest.mark.parametrize("group", ["config", "groups", "tickers", "audit"])
def test_help_shows_examples(run: Run, group: str) -> None:
    result = run(group, "--help")
    assert result.exit_code == 0
    assert "Example:" in run(group, "list" if group != "audit" else "log", "--help").stdout


def test_shell_completion_is_offered(run: Run) -> None:
    assert "--show-completion" in run("--help").stdout


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [(["--actor", "erin"], "frank", "erin"), ([], "frank", "frank"), ([], None, getpass.getuser())],
)
def test_actor_is_the_flag_then_the_environment_then_the_os_user(
    hub: Run,
    default_config: Engine,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    env: str | None,
    expected: str,
) -> None:
    if env is None:
        monkeypatch.delenv("HUBCTL_ACTOR", raising=False)
    else:
        monkeypatch.setenv("HUBCTL_ACTOR", env)
    assert hub("config", "set", DAG, JOB, "batch_size=640", *flag).exit_code == 0
    assert audit_rows(default_config)[-1]["actor"] == expected


def test_database_refusals_name_the_field(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.dag_configuration (dag_name, job_name, batch_size) VALUES ('d', 'j', 0)"
            )
        )
    message = describe_unexpected(caught.value)
    assert message.startswith("batch_size: the database refused the change")
    assert "ck_dag_configuration_batch_size_positive" in message


def test_read_commands_import_neither_airflow_nor_pandas_nor_sqlalchemy_nor_pydantic(
    hub: Run,
) -> None:
    env = dict(os.environ)
    for read in (["config", "list", "-o", "json"], ["groups", "show", "lse"], ["tickers", "list"]):
        assert heavy_modules_loaded_by(read, env) == [], read
    assert heavy_modules_loaded_by(["--help"], env) == []
    # A write validates with pydantic, and reaches the database on the same psycopg2 path.
    assert heavy_modules_loaded_by(
        ["config", "set", "calculate_indicators", "all", "priority=4"], env
    ) == ["pydantic"]
    # A group's write asks exchange_calendars (and pandas) only about a calendar named by hand.
    assert heavy_modules_loaded_by(["groups", "set", "lse", "priority=4"], env) == ["pydantic"]
