"""hubctl up: run the whole stack locally."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Annotated

import typer

from hubctl.errors import ValidationError
from hubctl.tables import SLUG_PATTERN


class ExecutorKind(StrEnum):
    local = "local"
    celery = "celery"


def up(
    executor: Annotated[
        ExecutorKind,
        typer.Option(envvar="HUB_EXECUTOR", help="local: LocalExecutor; celery: Redis and workers"),
    ] = ExecutorKind.local,
    workers: Annotated[
        int,
        typer.Option(envvar="HUB_WORKERS", min=1, help="Celery workers (with --executor celery)"),
    ] = 2,
    worker_queues: Annotated[
        list[str] | None,
        typer.Option(
            help="queues of one worker, comma-separated; repeat per worker in order."
            " Workers without one serve 'default'"
        ),
    ] = None,
) -> None:
    """Run the local stack: embedded PostgreSQL and Airflow 3 on the generated DAGs.

    Starts (or reuses) the database under HUB_HOME, migrates it, loads the default configuration
    on first start, migrates Airflow's metadata and runs its api-server, scheduler, dag-processor
    and triggerer. Tasks run with the LocalExecutor, or with --executor celery on Celery workers
    (a redis-server from PATH is the broker; each worker serves the queues it is given, and a
    job's `queue` knob routes its tasks). Beside them run the change listener (`hubctl listen`)
    and the hub's metrics for Prometheus (`hubctl metrics` on 127.0.0.1, port HUB_METRICS_PORT,
    default 9464). Prints the UI address and login; Ctrl-C stops everything and keeps the data
    for next time. The port comes from HUB_AIRFLOW_PORT (default 8080).

    Example: hubctl up --executor celery --workers 2 --worker-queues default --worker-queues default,eu_workers
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import stack
    from hubctl.settings import get_settings

    chosen = stack.Executor()
    if executor is ExecutorKind.celery:
        chosen = stack.Executor.celery(workers, [_queues(text) for text in worker_queues or []])
    elif worker_queues:
        raise ValidationError("--worker-queues needs --executor celery")
    stack.up(get_settings(), typer.echo, chosen)


def _queues(text: str) -> tuple[str, ...]:
    queues = tuple(name.strip() for name in text.split(","))
    bad = [name for name in queues if not re.fullmatch(SLUG_PATTERN, name)]
    if bad:
        raise ValidationError(f"--worker-queues: {bad[0]!r} is not a queue name (lowercase slug)")
    return queues


def listen() -> None:
    """Re-parse in Airflow what every committed configuration change affects, whoever made it.

    LISTENs on the hub database's `hub_changes` channel (the audit log announces each change),
    maps the change's exchange groups to the parse units that build them and asks Airflow's API
    to re-parse exactly those files. This is the only way changes reach Airflow in seconds. Its
    position in the audit log and a heartbeat live in hub.listener_state (one row per
    HUB_LISTENER_NAME), so it catches up after a restart and `hubctl doctor` sees when it is
    gone. `hubctl up` runs it; run it yourself next to a production Airflow (docs/deploy.md).

    Example: HUB_AIRFLOW_API_URL=http://airflow:8080 hubctl listen
    """

    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import listener
    from hubctl.settings import get_settings

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(listener.log.name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    listener.listen(get_settings())


def metrics(
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="port to serve on (default: HUB_METRICS_PORT, else 9464)"
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="address to listen on (0.0.0.0: every interface)")
    ] = "127.0.0.1",
) -> None:
    """Serve the hub's own state as Prometheus metrics on http://HOST:PORT/metrics.

    Per exchange group: enabled, freshness in trading sessions, open alerts by rule; pending
    change requests, suspended scheduled changes, the audit chain checked from the newest anchor
    on and the anchor's age, each listener's lag behind the audit log. Every scrape reads the hub
    database (HUB_DATABASE_URL) with the same few queries, whatever the number of jobs. Prometheus
    scrapes this directly: Airflow's API needs a JWT that expires. `hubctl up` runs it on
    HUB_METRICS_PORT (docs/monitoring.md).

    Example: hubctl metrics --port 9464 --host 0.0.0.0
    """
    # deferred: the library (psycopg2, prometheus_client) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import metrics as hub_metrics
    from hubctl.settings import get_settings

    settings = get_settings()
    port = settings.metrics_port if port is None else port
    hub_metrics.serve(settings, typer.echo, host=host, port=port)
