"""The configuration as it was at any moment, rebuilt from the audit log alone.

Every change to a control table, by any path, left an audit entry holding the whole row before
and after (a TRUNCATE: every row it removed). Replaying the entries in id order up to a moment
gives the tables as they were then; read commands then run their usual queries over those rows
(the connection's ``as_of``, see hubctl.repository.rows.reading_as_of), so `config list --at`
shows what `config list` showed.

Kept free of pydantic: `hubctl config list --at` stays as light as `hubctl config list`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hubctl.db import BoundedConnection, Connection, Database
from hubctl.errors import ValidationError
from hubctl.repository import audit as audit_rows
from hubctl.repository.rows import Row, reading_as_of
from hubctl.tables import CONTROL_TABLES

_AGO = re.compile(r"^(?P<amount>[0-9]{1,6})(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AUDIT_ID = re.compile(r"^[0-9]{1,18}$")


def parse_moment(text: str, *, option: str, now: dt.datetime | None = None) -> dt.datetime:
    """`7d`, `12h`, `30m`, `2w` (ago) or an ISO date/time (UTC unless it names an offset)."""
    now = now or dt.datetime.now(dt.UTC)
    ago = _AGO.match(text.strip())
    if ago:
        try:
            return now - dt.timedelta(**{_UNITS[ago["unit"]]: int(ago["amount"])})
        except OverflowError:  # further back than year 1, the earliest date there is
            raise ValidationError(
                f"{option}: {text.strip()!r} reaches back before year 1"
            ) from None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{option}: expected 30m, 12h, 7d, 2w or a date such as 2026-01-01 (got {text!r})"
        ) from None
    return in_utc(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), option=option)


def in_utc(moment: dt.datetime, *, option: str) -> dt.datetime:
    """``moment`` (zone-aware) in UTC; one that lands past year 9999 there cannot be stored."""
    try:
        return moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValidationError(f"{option}: must be before year 10000 (UTC)") from None


@dataclass(frozen=True)
class Moment:
    """A point in the configuration's history: a time, or just after one audit entry."""

    time: dt.datetime | None = None
    audit_id: int | None = None

    @classmethod
    def parse(cls, text: str, *, option: str, ids: bool = False) -> Moment:
        """A time (`3d`, ISO); with ``ids``, a plain number is an audit id."""
        if ids and _AUDIT_ID.match(text.strip()):
            return cls(audit_id=int(text))
        return cls(time=parse_moment(text, option=option))


def _key(table_name: str, row: Any) -> tuple[Any, ...]:
    return tuple(row[name] for name in CONTROL_TABLES[table_name].key)


def _complete(table_name: str, row: Row) -> Row:
    """An entry written before a migration added a field lacks it: the row had its default then
    (e.g. approvals_required 0: no approvals were required before there were any)."""
    fields = CONTROL_TABLES[table_name].fields
    missing = {field.name: field.default for field in fields if field.name not in row}
    return {**missing, **row} if missing else row


def tables_at(conn: Connection, moment: Moment) -> dict[str, list[Row]]:
    """Each control table's rows (as the audit recorded them, JSON objects) at ``moment``."""
    state: dict[str, dict[tuple[Any, ...], Row]] = {name: {} for name in CONTROL_TABLES}
    entries = audit_rows.row_changes(conn, until=moment.time, last_id=moment.audit_id)
    for entry in entries:
        rows = state.setdefault(entry["table_name"], {})
        if entry["action"] == "TRUNCATE":
            rows.clear()
            continue
        # The old key first: an UPDATE may have changed the key itself.
        if entry["old_row"] is not None:
            rows.pop(_key(entry["table_name"], entry["old_row"]), None)
        if entry["new_row"] is not None:
            rows[_key(entry["table_name"], entry["new_row"])] = _complete(
                entry["table_name"], entry["new_row"]
            )
    return {name: list(rows.values()) for name, rows in state.items()}


@contextmanager
def reading(conn: BoundedConnection, moment: Moment | None) -> Iterator[BoundedConnection]:
    """``conn``, whose control-table reads see ``moment`` (None: now) within the block."""
    if moment is None:
        yield conn
        return
    with reading_as_of(conn, tables_at(conn, moment)):
        yield conn


@contextmanager
def connect_at(database: Database, at: str | None) -> Iterator[BoundedConnection]:
    """A read-only connection; with ``at`` (a time), reads see the tables as they were then."""
    moment = None if at is None else Moment.parse(at, option="at")
    with database.connect(snapshot=at is not None) as conn, reading(conn, moment):
        yield conn
