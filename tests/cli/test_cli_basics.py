"""Version, help, the actor default, database errors, and what a read command imports."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine

from hubctl import __version__
from hubctl.cli import app, describe_unexpected
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


def _every_command(group: typer.Typer, path: tuple[str, ...] = ("hubctl",)) -> Iterator[Any]:
    for command in group.registered_commands:
        yield (*path, command.name or command.callback.__name__), command  # type: ignore[union-attr]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        yield from _every_command(sub.typer_instance, (*path, sub.name or ""))


def test_help_paragraphs_are_not_hard_wrapped(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 item 14: rich re-wrapped a docstring's hard-wrapped lines into ragged ones."""
    commands = list(_every_command(app))
    assert len(commands) > 40
    for path, command in commands:
        for paragraph in (command.help or "").split("\n\n"):
            lines = paragraph.splitlines()
            assert all(line.startswith("Example") for line in lines[1:]), (path, paragraph)
    monkeypatch.setenv("COLUMNS", "300")  # wide enough for a paragraph on one line
    shards = run("dags", "shards", "--help").stdout
    joined = (
        "Point Airflow's dags_folder at it (`hubctl up` does this itself when HUB_DAG_SHARDS > 1)"
        " and run the listener with the same HUB_DAG_SHARDS. Unchanged files"
    )
    assert joined in shards
