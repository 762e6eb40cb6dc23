"""The transaction every change runs in, made as its Author's mode says.

``Apply`` writes the change; one that touches a protected group (approvals_required >= 1) is rolled
back and stored as a change request instead (hubctl.services.change_requests), unless the Author
breaks the glass. ``Capture`` records what the change would write, rolls it back and raises
``ChangesCaptured`` with it (``hubctl schedule add`` stores that for later).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from hubctl.author import Author, Capture
from hubctl.db import Connection, Database, audited_transaction
from hubctl.errors import ValidationError
from hubctl.repository import requests as request_rows
from hubctl.services.change_requests import REQUEST, open_request
from hubctl.services.recorded import captured_changes, last_entry_id, recorded_changes
from hubctl.services.row_change import RowChange

# A break-glass change's audit entries share the change_set 'break-glass:<id>', with the mandatory
# reason, and doctor reports them until someone acknowledges them.
BREAK_GLASS = "break-glass:"


class ChangesCaptured(Exception):
    """A write in Capture mode ended: what it would have written (rolled back), and by whom."""

    def __init__(self, changes: list[RowChange], author: Author) -> None:
        super().__init__(f"{len(changes)} row change(s) captured")
        self.changes, self.author = changes, author


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
    after_id = last_entry_id(conn)
    yield
    if (change_set or "").startswith((BREAK_GLASS, REQUEST)):
        return
    groups = request_rows.protected_groups(conn, after_id=after_id)
    if groups:
        raise _NeedsApproval(recorded_changes(conn, after_id=after_id), groups)


@contextmanager
def _captured(database: Database, author: Author, capture: Capture) -> Iterator[Connection]:
    """Run the body after ``capture.prepare``; raise what it wrote, which rolls it all back."""
    with audited_transaction(database, author) as conn:
        if capture.prepare is not None:
            capture.prepare(conn)
        after_id = last_entry_id(conn)
        yield conn
        raise ChangesCaptured(captured_changes(conn, after_id=after_id), author)


@contextmanager
def audited_change(
    database: Database, author: Author, *, change_set: str | None = None
) -> Iterator[Connection]:
    """One audited transaction by ``author``, made as ``author.mode`` says.

    ``change_set``: one id for the transaction's audit entries (each step of a request shares
    request:<id>; by default a fresh one); a break-glass Author gets a change set of its own. A change to a protected group is not written: it
    becomes a change request, and ChangeRequested says which (hubctl.services.requests).
    """
    if isinstance(author.mode, Capture):
        with _captured(database, author, author.mode) as conn:
            yield conn
        return
    if author.break_glass:
        change_set = _break_glass_change_set(author.reason)
    try:
        with (
            audited_transaction(database, author, change_set=change_set) as conn,
            _four_eyes(conn, change_set),
        ):
            yield conn
    except _NeedsApproval as pending:
        request = open_request(database, changes=pending.changes, author=author)
        raise request.created() from None
