"""hubctl alerts: what the monitor found (open and resolved alerts), and silencing a rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

import typer

from hubctl.cli.common import ActorOption, BreakGlassOption, ReasonOption, author, database, report
from hubctl.cli.output import OutputFormat, OutputOption, render
from hubctl.settings import get_settings

app = typer.Typer(
    help="Alerts: thresholds crossed (failure_rate, task_duration, data_late, source_unreachable),"
    " open until the condition clears (docs/monitoring.md).",
    no_args_is_help=True,
)
LIST_COLUMNS = (
    "id", "rule", "subject", "exchange_group", "value", "threshold", "first_seen", "last_seen",
    "resolved_at", "detail",
)  # fmt: skip


@app.command("list")
def list_alerts(
    open_only: Annotated[bool, typer.Option("--open", help="Only the open alerts.")] = False,
    group: Annotated[
        str | None, typer.Option("--group", help="Only the alerts of this exchange group.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List alerts: the open ones first, then the resolved ones, newest first (at most 1000).

    Example: hubctl alerts list --open --group lse -o json
    """
    # deferred: the library (psycopg2, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import alerts

    found = alerts.list_alerts(database(), open_only=open_only, group=group)
    render([dataclasses.asdict(alert) for alert in found], output, columns=LIST_COLUMNS)


@app.command("silence")
def silence(
    ctx: typer.Context,
    rule: Annotated[
        str,
        typer.Argument(help="failure_rate, task_duration, data_late or source_unreachable."),
    ],
    subject: Annotated[
        str,
        typer.Argument(
            help="A DAG id (failure_rate), DAG_ID/TASK_ID (task_duration: silences every task"
            " of that DAG) or a group name (data_late, source_unreachable)."
        ),
    ],
    until: Annotated[
        str,
        typer.Option(
            "--until",
            help="ISO 8601 time with a zone, e.g. 2026-12-08T09:00:00Z.",
            show_default=False,
        ),
    ],
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Silence a rule for a subject until a time: no alert opens (nor is sent) meanwhile; one
    already open stays open. An audited change of the job's or group's silences field; on a
    protected group it becomes a change request.

    Example: hubctl alerts silence data_late lse --until 2026-12-26T09:00:00Z -m "Boxing Day feed"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import alerts

    change = alerts.silence(
        database(),
        author(ctx, actor, reason, break_glass=break_glass),
        rule=rule,
        subject=subject,
        until=until,
        now=dt.datetime.now(dt.UTC),
    )
    report(change)


@app.command("evaluate")
def evaluate(output: OutputOption = OutputFormat.table) -> None:
    """Evaluate the alert rules now, as one run of the hub_monitor job does: read what changed
    in Airflow, open, touch and resolve alerts, send their notifications (HUB_ALERT_TO through
    the Airflow Connection HUB_ALERT_CONNECTION).

    Example: hubctl alerts evaluate -o json
    """
    # deferred: the evaluation (psycopg2, exchange_calendars) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.monitoring.evaluate import evaluate_now

    render(evaluate_now(get_settings(), dt.datetime.now(dt.UTC)).summary(), output)
