"""The transaction every change runs in, and telling Airflow about it afterwards."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from hubctl.db import Connection, Database, Via, audited_transaction
from hubctl.errors import ValidationError
from hubctl.repository import audit as audit_rows
from hubctl.repository import requests as request_rows

if TYPE_CHECKING:
    from hubctl.services.rows import RowChange

# Set while a command's changes are captured instead of written (hubctl.services.deferred): every
# audited change then runs its body inside this context manager, which records what the body wrote
# and rolls the transaction back.
change_wrapper: ContextVar[Callable[[Connection], AbstractContextManager[None]] | None] = (
    ContextVar("change_wrapper", default=None)
)

# Set by `--break-glass`: changes to protected groups are written directly, flagged in the audit
# (change_set 'break-glass:<id>', with the mandatory reason) until someone acknowledges them.
break_glass: ContextVar[bool] = ContextVar("break_glass", default=False)
BREAK_GLASS = "break-glass:"
REQUEST = "request:"


class _NeedsApproval(Exception):
    """A change touched a protected group: its transaction rolls back, a request is made instead."""

    def __init__(self, changes: list[RowChange], groups: list[str]) -> None:
        super().__init__(", ".join(groups))
        self.changes, self.groups = changes, groups


def _break_glass_change_set(reason: str | None) -> str:
    if not (reason or "").strip():
        raise ValidationError("reason: --break-glass needs a reason (-m), kept in the audit log")
    return f"{BREAK_GLASS}{uuid.uuid4()}"


@contextmanager
def _four_eyes(conn: Connection, change_set: str | None) -> Iterator[None]:
    """After the body: refuse to commit a change to a protected group that nobody approved.

    A break-glass change or an approved request's application (its change_set) goes through;
    the database checks both again at commit (migration 0013).
    """
    head = audit_rows.chain_head(conn)
    yield
    if (change_set or "").startswith((BREAK_GLASS, REQUEST)):
        return
    after_id = head["last_id"] if head else None
    groups = request_rows.protected_groups(conn, after_id=after_id)
    if groups:
        from hubctl.services.deferred import recorded_changes

        raise _NeedsApproval(recorded_changes(conn, after_id=after_id), groups)


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
    A change to a protected group (approvals_required >= 1) is not written: it becomes a change
    request, and ChangeRequested says which (hubctl.services.requests).
    """
    if break_glass.get():
        change_set = _break_glass_change_set(reason)
    try:
        with audited_transaction(
            database, actor=actor, reason=reason, change_set=change_set, via=via
        ) as conn:
            wrapper = change_wrapper.get()
            with wrapper(conn) if wrapper is not None else _four_eyes(conn, change_set):
                head_before = audit_rows.chain_head(conn)
                yield conn
                changed = audit_rows.chain_head(conn) != head_before
    except _NeedsApproval as pending:
        from hubctl.services.requests import open_request

        request = open_request(
            database,
            changes=pending.changes,
            groups=pending.groups,
            actor=actor,
            reason=reason,
            via=via,
        )
        raise request.created() from None
    if changed:
        tell_airflow()


def tell_airflow() -> None:
    """Ask Airflow to re-parse now; a failure is a warning (the change is saved either way)."""
    from hubctl.airflow_api import notify_airflow

    warning = notify_airflow()
    if warning:
        logging.getLogger("hubctl").warning(warning)
