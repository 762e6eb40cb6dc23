"""Changes captured earlier, written now: scheduled changes and approved change requests.

A write in Capture mode (hubctl.author) and a write to a protected group record what they would
write as ``RowChange``s, each with the version of the row it started from (its base; see
hubctl.services.recorded). ``apply_captured`` writes them later, in the caller's audited
transaction, through ``rows.apply_change``, after checking that every row is still at its base.
"""

from __future__ import annotations

from collections.abc import Sequence

from hubctl.db import Connection
from hubctl.errors import StaleChangeError, ValidationError
from hubctl.repository import rows as row_sql
from hubctl.services.rows import RowChange, apply_change
from hubctl.tables import CONTROL_TABLES


def apply_captured(conn: Connection, changes: Sequence[RowChange]) -> list[RowChange]:
    """Write ``changes`` in order in the caller's transaction, each only if its row is at its base.

    StaleChangeError when one is not (the caller's transaction then writes nothing);
    ValidationError when there is nothing to write (stored changes that could not be read).
    """
    if not changes:
        raise ValidationError("changes: none readable to apply (see `hubctl doctor`)")
    written = []
    for change in changes:
        require_base(conn, change)
        written.append(apply_change(conn, change))
    return written


def require_base(conn: Connection, change: RowChange) -> None:
    """Lock the change's row and check it is at the recorded version (absent, for a create)."""
    table = CONTROL_TABLES[change.table]
    found = row_sql.select_rows(conn, table=table, where=change.key, lock=True)
    version = found[0]["version"] if found else None
    if version == change.version_before:
        return
    what = f"{change.noun} {change.label!r}"
    if change.version_before is None:
        raise StaleChangeError(f"{what} was created since (now at version {version})")
    if version is None:
        raise StaleChangeError(
            f"{what} was removed since (it was at version {change.version_before})"
        )
    raise StaleChangeError(
        f"{what} changed since: it was at version {change.version_before}, now {version}"
    )
