"""hubctl runs: what an Airflow run of a hub DAG ran with, and what changed since."""

from __future__ import annotations

from typing import Annotated

import typer

from hubctl.cli.audit import log_row
from hubctl.cli.common import database
from hubctl.cli.output import OutputFormat, OutputOption, render

app = typer.Typer(
    help="Airflow runs of the hub's DAGs, joined to the hub's history.", no_args_is_help=True
)


@app.command("show")
def show(
    dag_id: Annotated[str, typer.Argument(help="DAG id, e.g. data_collection_equities__lse.")],
    run_id: Annotated[str, typer.Argument(help="Run id, e.g. manual__2026-03-03T14:00:00+00:00.")],
    output: OutputOption = OutputFormat.table,
) -> None:
    """The hub configuration version and audit id a run used, the Airflow DAG version it ran on, and the audit entries for its job and group since.

    Example: hubctl runs show calculate_indicators__all manual__2026-03-03T14:00:00+00:00
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import runs

    found = runs.run_provenance(database(), dag_id=dag_id, run_id=run_id)
    if output is not OutputFormat.table:
        render(found.to_dict(), output)
        return
    versions = ", ".join(str(v["version_number"]) for v in found.dag_versions) or "(unknown)"
    render(
        {
            "dag_id": found.dag_id,
            "run_id": found.run_id,
            "state": found.state,
            "hub configuration version": found.configuration_version,
            "audit id": found.audit_id,
            "Airflow DAG version": versions,
        },
        output,
        title="run",
    )
    typer.echo(
        f"{len(found.changes_since)} audit entries for this job and its group since the run:"
    )
    render([log_row(entry) for entry in found.changes_since], output)
