"""hubctl status and hubctl doctor: is the control plane healthy, and is the data fresh?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from hubctl.cli.common import database
from hubctl.cli.output import OutputFormat, OutputOption, render
from hubctl.errors import ValidationError

if TYPE_CHECKING:
    from hubctl.specs import DagSpec, Rejected

MAX_SNAPSHOT_AGE = 10 * 365 * 24 * 3600  # ten years; far beyond, a timedelta overflows
STATUS_COLUMNS = (
    "group",
    "enabled",
    "dags",
    "last_run",
    "calendar",
    "latest_trade_date",
    "stale_sessions",
    "suspended_changes",
    "paused_in_airflow",
    "alerts",
    "alert_rules",
)


def status(output: OutputOption = OutputFormat.table) -> None:
    """Per exchange group: enabled, its DAGs, the last run's state, the newest price stored, how
    many trading sessions of the group's calendar have ended since (holidays do not count), the
    ids of suspended scheduled changes about it (hubctl schedule list), which of its DAGs
    Airflow has paused (by whom, when), and its open alerts: how many, of which rules
    (hubctl alerts list --open).

    The last run and the pauses come from Airflow's API (HUB_AIRFLOW_API_URL, or the stack of `hubctl up`).

    Example: hubctl status -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services.health import group_status
    from hubctl.settings import get_settings

    render(group_status(database(), settings=get_settings()), output, columns=STATUS_COLUMNS)


def _build_failures(specs: Sequence[DagSpec]) -> list[Rejected]:
    """Why these valid jobs produced no DAG: build them as the generator does (imports Airflow)."""
    # deferred: imports Airflow (seconds); only this command builds DAGs
    from hubctl.dag_builder import build_dags

    return build_dags(specs).failures


def doctor(
    max_snapshot_age: Annotated[
        int,
        typer.Option(
            "--max-snapshot-age", help="Seconds after which the snapshot counts as stale."
        ),
    ] = 600,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Check the database (reachable, migrated), the login (warns when it is a superuser or owns
    the schema: it could silence the audit), the generator's snapshot, every enabled job (one
    `job <dag_id>` line, with the reason, per job that produces no DAG), Airflow's API, and that
    Airflow serves exactly the DAGs the configuration defines, and that none of them is paused in
    Airflow while its market is enabled. Warns about suspended scheduled changes, when no
    listener passes changes on to Airflow (no heartbeat, or behind the audit log), and while an
    alert is open (naming its rule and subject). Exit 1 when any check fails.

    Example: hubctl doctor
    """

    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services.health import doctor as run_checks
    from hubctl.settings import get_settings

    if not 0 <= max_snapshot_age <= MAX_SNAPSHOT_AGE:
        raise ValidationError(f"max-snapshot-age: must be 0 to {MAX_SNAPSHOT_AGE} seconds")
    checks = run_checks(
        database(),
        get_settings(),
        max_snapshot_age=dt.timedelta(seconds=max_snapshot_age),
        explain=_build_failures,
    )
    render([check.as_row() for check in checks], output, columns=("check", "ok", "detail"))
    for check in checks:
        if check.warning:
            typer.echo(f"Warning: {check.name}: {check.detail}", err=True)
    failed = [check.name for check in checks if not check.ok and not check.warning]
    if failed:
        typer.echo(f"Error: not healthy: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
