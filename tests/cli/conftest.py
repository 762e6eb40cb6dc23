"""Run hubctl in-process through its real entry point (`main`: error handling, exit codes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from hubctl.cli import main

Run = Callable[..., Result]


_entry = typer.Typer(add_completion=False)


@_entry.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    }
)
def _hubctl(ctx: typer.Context) -> None:
    """Hand every argument to hubctl's console-script entry point."""
    main(list(ctx.args))


def hubctl(*args: str, input: str | None = None) -> Result:
    """hubctl("config", "list") in-process, with the HUB_* settings in force -> click Result."""
    return CliRunner().invoke(_entry, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def run(hub_env: Path) -> Run:
    """run("config", "list", "-o", "json") -> click Result with .exit_code, .stdout, .stderr."""
    return hubctl


@pytest.fixture
def hub(run: Run, default_config: Engine) -> Run:
    """`run` against a database holding the shipped default configuration."""
    return run


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every control row and audit row: compare before/after to prove nothing was written."""
    with engine.connect() as conn:
        return {
            table: [
                dict(row)
                for row in conn.execute(
                    sa.text(f"SELECT * FROM hub.{table} ORDER BY 1, 2")
                ).mappings()
            ]
            for table in ("exchange_groups", "dag_configuration", "tickers", "audit_log")
        }


def audit_rows(engine: Engine, since_id: int = 0) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = sa.text("SELECT * FROM hub.audit_log WHERE id > :id ORDER BY id")
        return [dict(row) for row in conn.execute(query, {"id": since_id}).mappings()]


def last_audit_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM hub.audit_log")) or 0)
