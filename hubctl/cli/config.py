"""hubctl config: the per-job knobs (hub.dag_configuration)."""

from __future__ import annotations

from typing import Annotated

import typer

from hubctl.author import Author
from hubctl.cli.common import (
    ActorOption,
    AssignmentsArgument,
    AtOption,
    BreakGlassOption,
    DryRunOption,
    ExpectVersionOption,
    ReasonOption,
    author,
    database,
    report,
)
from hubctl.cli.output import OutputFormat, OutputOption, render
from hubctl.tables import JOBS

app = typer.Typer(
    help="Show and change job configuration: resources, retries, schedule, params.",
    no_args_is_help=True,
)
DagArgument = Annotated[
    str, typer.Argument(help="Pipeline (dag_name), e.g. data_collection_equities.")
]
JobArgument = Annotated[str, typer.Argument(help="Job name, e.g. us_markets.")]
LIST_COLUMNS = (
    "dag_name",
    "job_name",
    "exchange_group",
    "schedule",
    "enabled",
    "priority",
    "batch_size",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "version",
    "updated_by",
)


@app.command("list")
def list_jobs(
    dag: Annotated[str | None, typer.Option("--dag", help="Only this pipeline.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this exchange group.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled or disabled jobs.")
    ] = None,
    at: AtOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List jobs and their configuration, now or as they were at a past time (--at).

    Example: hubctl config list --group lse --enabled -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import reads

    jobs = reads.list_jobs(database(), dag_name=dag, group=group, enabled=enabled, at=at)
    render(jobs, output, columns=LIST_COLUMNS)


@app.command("get")
def get_job(
    dag: DagArgument,
    job: JobArgument,
    at: AtOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show every field of one job, with its version and who changed it last (--at: as it was then).

    Example: hubctl config get data_collection_equities us_markets --at 2026-03-03T14:00 -o yaml
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import reads

    render(reads.get_job(database(), dag_name=dag, job_name=job, at=at), output)


@app.command("set", epilog=f"Fields:\n\n{JOBS.field_help()}")
def set_job(
    ctx: typer.Context,
    dag: DagArgument,
    job: JobArgument,
    assignments: AssignmentsArgument,
    expect_version: ExpectVersionOption = None,
    dry_run: DryRunOption = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Change fields of a job; params.NAME=VALUE sets one params key, params.NAME=null removes it.

    Values are validated as the database would, before anything is written; a list field takes comma-separated values and null clears a nullable field (schedule=null).

    Example: hubctl config set data_collection_equities us_markets batch_size=750 cpu_limit=3000m -m "bigger batches"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.cli.assignments import parse_assignments
    from hubctl.services import config

    change = config.set_job(
        database(),
        dag_name=dag,
        job_name=job,
        changes=parse_assignments(assignments, table=JOBS),
        expect_version=expect_version,
        dry_run=dry_run,
        author=author(ctx, actor, reason, break_glass=break_glass),
    )
    report(change, dry_run=dry_run)


@app.command("add", epilog=f"Fields:\n\n{JOBS.field_help()}")
def add_job(
    ctx: typer.Context,
    dag: DagArgument,
    job: JobArgument,
    assignments: Annotated[
        list[str] | None, typer.Argument(help="KEY=VALUE pairs; unset fields take the defaults.")
    ] = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Add a job of a known pipeline; fields not given take the defaults.

    Example: hubctl config add historical_load_equities lse exchange_group=lse schedule="0 3 * * *"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.cli.assignments import parse_assignments
    from hubctl.services import config

    changes = parse_assignments(assignments or [], table=JOBS)
    change = config.add_job(
        database(),
        dag_name=dag,
        job_name=job,
        values=changes.apply_to({}),
        author=author(ctx, actor, reason, break_glass=break_glass),
    )
    report(change)


@app.command("remove")
def remove_job(
    ctx: typer.Context,
    dag: DagArgument,
    job: JobArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Remove a job (its DAG disappears; the audit log keeps the row).

    Example: hubctl config remove historical_load_equities lse -m "backfill finished"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import config

    report(
        config.remove_job(
            database(),
            dag_name=dag,
            job_name=job,
            author=author(ctx, actor, reason, break_glass=break_glass),
        )
    )


def _set_enabled(dag: str, job: str, enabled: bool, who: Author) -> None:
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import config

    change = config.set_job_enabled(
        database(), dag_name=dag, job_name=job, enabled=enabled, author=who
    )
    report(change)


@app.command("enable")
def enable_job(
    ctx: typer.Context,
    dag: DagArgument,
    job: JobArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Enable a job: its DAG comes back within seconds.

    Example: hubctl config enable data_collection_equities lse
    """
    _set_enabled(dag, job, True, author(ctx, actor, reason, break_glass=break_glass))


@app.command("disable")
def disable_job(
    ctx: typer.Context,
    dag: DagArgument,
    job: JobArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Disable a job: its DAG stops within seconds; Airflow keeps its history.

    Example: hubctl config disable data_collection_equities lse -m "exchange holiday"
    """
    _set_enabled(dag, job, False, author(ctx, actor, reason, break_glass=break_glass))
