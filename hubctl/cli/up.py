"""hubctl up: run the whole stack locally."""

from __future__ import annotations

import typer


def up() -> None:
    """Run the local stack: embedded PostgreSQL and Airflow 3 on the generated DAGs.

    Starts (or reuses) the database under HUB_HOME, migrates it, loads the default configuration
    on first start, migrates Airflow's metadata and runs its api-server, scheduler, dag-processor
    and triggerer (LocalExecutor). Prints the UI address and login; Ctrl-C stops everything and
    keeps the data for next time. The port comes from HUB_AIRFLOW_PORT (default 8080).

    Example: HUB_AIRFLOW_PORT=8080 hubctl up
    """
    from hubctl import stack
    from hubctl.settings import get_settings

    stack.up(get_settings(), typer.echo)
