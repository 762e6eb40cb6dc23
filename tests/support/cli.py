"""Run hubctl in-process through its real entry point (`main`: error handling, exit codes), and
read back what a command wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

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


# What read commands must not import: Airflow and pandas (seconds), SQLAlchemy and pydantic
# (0.25 s together; docs/performance.md).
HEAVY = ("airflow", "pandas", "numpy", "sqlalchemy", "pydantic")


def heavy_modules_loaded_by(args: list[str], env: dict[str, str]) -> list[str]:
    """The heavy modules (HEAVY) that `hubctl *args` imports, in a fresh interpreter."""
    script = (
        "import sys, json\n"
        "from hubctl.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return list(json.loads(done.stderr.strip().splitlines()[-1]))
