"""hubctl dags: what the generator builds from the configuration now.

`list` stays Airflow-free (it only reads and validates the configuration); `check` imports Airflow
inside the command, builds every DAG in-process and serialises it as the dag-processor would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.cli.output import OutputFormat, OutputOption, echo, render

if TYPE_CHECKING:
    from hubctl.specs import DagSpec, LoadResult, Rejected

app = typer.Typer(
    help="The DAGs generated from the configuration (dags/hub_dags.py).", no_args_is_help=True
)

COLUMNS = ("dag_id", "schedule", "timezone", "version", "source")


@app.command("list")
def list_dags(output: OutputOption = OutputFormat.table) -> None:
    """List the DAGs the generator would build now, and where their configuration came from.

    The source is `database`, or `snapshot` when the database cannot be reached (the generator
    then builds from its last-known-good snapshot). Rows that would produce no DAG are listed on
    stderr with the reason.

    Example: hubctl dags list -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.specs import load_specs

    loaded = load_specs(save_snapshot=False)
    rows = [_row(spec, loaded) for spec in loaded.specs]
    render(rows, output, columns=COLUMNS)
    _note_source(loaded)
    _print_rejected(loaded.rejected)


@app.command()
def check(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show each failure's traceback.")
    ] = False,
) -> None:
    """Build every DAG with Airflow in-process; report each row that fails; exit 1 if any does.

    Meant for CI of a configuration repository: run it against a database holding the new
    configuration before it is applied to production. Each parse unit (HUB_DAG_SHARDS) is timed:
    a unit whose build passes half of Airflow's dagbag_import_timeout gets a warning.

    Example: hubctl dags check
    """
    # deferred: imports Airflow (seconds); only this command builds DAGs
    from hubctl.dag_builder import check_all
    from hubctl.shards import slow_unit_warnings

    loaded, built = check_all()
    failures = [*loaded.rejected, *built.failures]
    _note_source(loaded)
    typer.echo(f"{len(built.dags)} DAG(s) built and serialised, {len(failures)} failed")
    for warning in slow_unit_warnings(built.unit_times):
        typer.echo(f"warning: {warning}", err=True)
    _print_rejected(failures, verbose=verbose)
    if failures:
        raise typer.Exit(1)


@app.command()
def shards(
    count: Annotated[
        int | None, typer.Option("--count", help="Number of entry files (default: HUB_DAG_SHARDS).")
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--folder", help="Airflow's dags folder (default: HUB_HOME/dags)."),
    ] = None,
) -> None:
    """Write the thin entry files of N parse units into a DAG folder (hub_dags_<i>_of_<N>.py).

    Point Airflow's dags_folder at it (`hubctl up` does this itself when HUB_DAG_SHARDS > 1) and
    run the listener with the same HUB_DAG_SHARDS. Unchanged files keep their mtime; other
    hub_dags files in the folder are removed.

    Example: hubctl dags shards --count 16 --folder /opt/airflow/dags
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.errors import ValidationError
    from hubctl.settings import get_settings
    from hubctl.shards import MAX_SHARDS, shard_folder, write_shard_files

    settings = get_settings()
    count = settings.dag_shards if count is None else count
    if not 2 <= count <= MAX_SHARDS:
        raise ValidationError(
            f"--count: expected 2 to {MAX_SHARDS} entry files, got {count}"
            " (one unit is the package's own hub_dags.py: nothing to write)"
        )
    written = write_shard_files(folder or shard_folder(settings), count)
    typer.echo(f"{len(written)} entry files in {written[0].parent}")


def _row(spec: DagSpec, loaded: LoadResult) -> dict[str, Any]:
    return {
        "dag_id": spec.dag_id,
        "schedule": spec.schedule,
        "timezone": spec.timezone,
        "version": spec.version,
        "source": loaded.source,
    }


def _note_source(loaded: LoadResult) -> None:
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.specs import format_age

    if loaded.source == "snapshot" and loaded.snapshot_age is not None:
        typer.echo(
            f"warning: database unreachable; configuration from the snapshot,"
            f" {format_age(loaded.snapshot_age)} old",
            err=True,
        )


def _print_rejected(rejected: list[Rejected], *, verbose: bool = False) -> None:
    for failure in rejected:
        echo(f"skipped {failure.dag_id}: {failure.reason}", err=True)
        if verbose and failure.detail:
            echo(failure.detail, err=True)
