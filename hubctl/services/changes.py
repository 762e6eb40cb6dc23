"""The transaction every change runs in, and telling Airflow about it afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from hubctl.db import Connection, Database, Via, audited_transaction
from hubctl.repository import audit as audit_rows


@contextmanager
def audited_change(
    database: Database,
    *,
    actor: str,
    reason: str | None = None,
    change_set: str | None = None,
    via: Via = "hubctl",
) -> Iterator[Connection]:
    """One audited transaction; once it committed a change, Airflow is asked to re-parse.

    Every audited write moves the chain head, so comparing it tells whether anything was written.
    """
    with audited_transaction(
        database, actor=actor, reason=reason, change_set=change_set, via=via
    ) as conn:
        head_before = audit_rows.chain_head(conn)
        yield conn
        changed = audit_rows.chain_head(conn) != head_before
    if changed:
        tell_airflow()


def tell_airflow() -> None:
    """Ask Airflow to re-parse now; a failure is a warning (the change is saved either way)."""
    from hubctl.airflow_api import notify_airflow

    warning = notify_airflow()
    if warning:
        logging.getLogger("hubctl").warning(warning)
