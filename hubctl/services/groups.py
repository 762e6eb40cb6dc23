"""Exchange groups: list, show, add, change, enable/disable and remove."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hubctl.author import Author
from hubctl.db import Database
from hubctl.services import rows
from hubctl.services.changes import audited_change
from hubctl.services.rows import FieldChanges, RowChange
from hubctl.tables import GROUPS


def add_group(
    database: Database,
    *,
    group_name: str,
    exchanges: Sequence[str],
    timezone: str,
    display_name: str | None = None,
    market_open: dt.time | str | None = None,
    market_close: dt.time | str | None = None,
    priority: int | None = None,
    calendar: str | None = None,
    enabled: bool = True,
    author: Author,
) -> RowChange:
    """Create a group; without ``calendar`` it gets its exchanges' own (hubctl.calendars)."""
    given = {
        "market_open": market_open,
        "market_close": market_close,
        "priority": priority,
        "calendar": calendar,
    }
    values = {
        "group_name": group_name,
        "display_name": group_name.replace("_", " ").title()
        if display_name is None
        else display_name,
        "exchanges": list(exchanges),
        "primary_timezone": timezone,
        "enabled": enabled,
        **{name: value for name, value in given.items() if value is not None},
    }
    with audited_change(database, author) as conn:
        return rows.create_row(conn, table=GROUPS, values=values)


def set_group(
    database: Database,
    *,
    group_name: str,
    changes: FieldChanges,
    expect_version: int | None = None,
    dry_run: bool = False,
    author: Author,
) -> RowChange:
    """Change fields of a group."""
    return rows.edit_row(
        database,
        table=GROUPS,
        key={"group_name": group_name},
        changes=changes,
        expect_version=expect_version,
        dry_run=dry_run,
        author=author,
    )


def set_group_enabled(
    database: Database,
    *,
    group_name: str,
    enabled: bool,
    author: Author,
) -> RowChange:
    """Enable or disable a group: its jobs' DAGs come back or stop; nothing else changes."""
    return set_group(
        database,
        group_name=group_name,
        changes=FieldChanges({"enabled": enabled}),
        author=author,
    )


def remove_group(database: Database, *, group_name: str, author: Author) -> RowChange:
    with audited_change(database, author) as conn:
        return rows.delete_row(conn, table=GROUPS, key={"group_name": group_name})
