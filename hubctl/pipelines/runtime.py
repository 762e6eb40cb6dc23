"""What a hub task uses while it runs: the hub database, and the job's live configuration.

Nothing here runs at parse time (``load_config`` is only declared then), and nothing here imports
the DAG builder: pipeline builders import both, so the arrows point one way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk import task
from sqlalchemy.engine import Engine

from hubctl.specs import format_utc, live_spec

log = logging.getLogger(__name__)


@contextmanager
def hub_engine() -> Iterator[Engine]:
    """An engine on the hub database for a task body (settings from the environment), disposed after.

    The market-data code (hubctl.marketdata) works on SQLAlchemy connections; the control tables
    are read through hubctl.db.Database like everywhere else. Tasks run in fresh worker processes, so nothing is pooled between them; a task only ever
    touches the hub database, never Airflow's.
    """
    from hubctl.db import create_engine

    engine = create_engine()
    try:
        yield engine
    finally:
        engine.dispose()


@task
def load_config(dag_name: str, job_name: str) -> dict[str, Any]:
    """The job's live configuration (JSON), recorded in XCom with its version for this run.

    Read at run time, not parse time, so a change made after the last parse (a new batch_size,
    say) is what the run uses; the log line says which version that was. Tasks downstream turn
    the JSON back into a DagSpec (XCom holds JSON, not models).
    """
    spec = live_spec(dag_name, job_name)
    log.info(
        "running %s with configuration version %d (changed by %s at %s)",
        spec.dag_id,
        spec.version,
        spec.updated_by,
        format_utc(spec.updated_at),
    )
    return spec.model_dump(mode="json")
