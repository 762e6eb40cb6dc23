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


def listen() -> None:
    """Re-parse in Airflow what every committed configuration change affects, whoever made it.

    LISTENs on the hub database's `hub_changes` channel (the audit log announces each change),
    maps the change's exchange groups to the parse units that build them and asks Airflow's API
    to re-parse exactly those files. Reconnects after a database restart and catches up from the
    audit log. `hubctl up` runs it; run it yourself next to a production Airflow (docs/deploy.md).

    Example: HUB_AIRFLOW_API_URL=http://airflow:8080 hubctl listen
    """
    import logging

    from hubctl import listener
    from hubctl.settings import get_settings

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(listener.log.name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    listener.listen(get_settings())
