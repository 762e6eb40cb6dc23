"""What a hub task uses while it runs: the hub database, and the job's live configuration.

Nothing here runs at parse time (``load_config`` is only declared then), and nothing here imports
the DAG builder: pipeline builders import both, so the arrows point one way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk import get_current_context, task
from sqlalchemy.engine import Engine

from hubctl.db import Database, create_engine
from hubctl.repository.audit import chain_head
from hubctl.specs import format_utc, live_spec

log = logging.getLogger(__name__)


@contextmanager
def hub_engine() -> Iterator[Engine]:
    """An engine on the hub database for a task body (settings from the environment), disposed after.

    The market-data code (hubctl.marketdata) works on SQLAlchemy connections; the control tables
    are read through hubctl.db.Database like everywhere else. Tasks run in fresh worker processes, so nothing is pooled between them; a task only ever
    touches the hub database, never Airflow's.
    """

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

    The audit chain's head is read first and kept as XCom ``hub_audit_id``: `hubctl runs show`
    lists every entry after it, so a change the run did not see can never be hidden (one made
    between the two reads is listed although the run saw it).
    """
    audit_id = audit_head_id()
    spec = live_spec(dag_name, job_name)
    log.info(
        "running %s with hub configuration version %d (audit id %s; changed by %s at %s)",
        spec.dag_id,
        spec.version,
        audit_id,
        spec.updated_by,
        format_utc(spec.updated_at),
    )
    from hubctl.services.runs import AUDIT_ID_XCOM  # deferred: ~40 ms, off every worker's parse

    get_current_context()["ti"].xcom_push(key=AUDIT_ID_XCOM, value=audit_id)
    return spec.model_dump(mode="json")


def audit_head_id() -> int | None:
    """The newest audit entry's id (None before any change)."""

    with Database.from_settings().connect() as conn:
        head = chain_head(conn)
    return None if head is None else head["last_id"]
