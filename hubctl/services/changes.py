"""The transaction every change runs in, and telling Airflow about it afterwards."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

from hubctl.db import Connection, Database, Via, audited_transaction
from hubctl.repository import audit as audit_rows

# Set while a command's changes are captured instead of written (hubctl.services.deferred): every
# audited change then runs its body inside this context manager, which records what the body wrote
# and rolls the transaction back.
change_wrapper: ContextVar[Callable[[Connection], AbstractContextManager[None]] | None] = (
    ContextVar("change_wrapper", default=None)
)


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
        wrapper = change_wrapper.get()
        with wrapper(conn) if wrapper is not None else nullcontext():
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
