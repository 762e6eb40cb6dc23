"""Exchange groups: list, show, add, change, enable/disable and remove."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hubctl.db import audited_transaction
from hubctl.errors import ConflictError
from hubctl.repository import groups as group_rows
from hubctl.repository.tables import GROUPS
from hubctl.services import rows

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


def guard_unused(conn: Connection, key: Mapping[str, Any]) -> None:
    """A group that jobs still use cannot be removed (the foreign key says so too)."""
    jobs = group_rows.jobs_using(conn, group_name=key["group_name"])
    if jobs:
        raise ConflictError(
            f"group_name: group {key['group_name']!r} is used by {', '.join(jobs)};"
            " remove those jobs (hubctl config remove) or disable the group instead"
        )


def add_group(
    engine: Engine,
    *,
    group_name: str,
    exchanges: Sequence[str],
    timezone: str,
    display_name: str | None = None,
    market_open: dt.time | str | None = None,
    market_close: dt.time | str | None = None,
    priority: int | None = None,
    enabled: bool = True,
    actor: str,
    reason: str | None = None,
) -> rows.RowChange:
    given = {"market_open": market_open, "market_close": market_close, "priority": priority}
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
    with audited_transaction(engine, actor=actor, reason=reason) as conn:
        return rows.create_row(conn, table=GROUPS, values=values)


def set_group(
    engine: Engine,
    *,
    group_name: str,
    assignments: Sequence[str],
    expect_version: int | None = None,
    dry_run: bool = False,
    actor: str,
    reason: str | None = None,
) -> rows.RowChange:
    """Change fields of a group: `priority=9 market_close=17:00 exchanges=LSE,AIM`."""
    return rows.edit_row(
        engine,
        table=GROUPS,
        key={"group_name": group_name},
        assignments=assignments,
        expect_version=expect_version,
        dry_run=dry_run,
        actor=actor,
        reason=reason,
    )


def set_group_enabled(
    engine: Engine, *, group_name: str, enabled: bool, actor: str, reason: str | None = None
) -> rows.RowChange:
    """Enable or disable a group: its jobs' DAGs come back or stop; nothing else changes."""
    field = f"enabled={str(enabled).lower()}"
    return set_group(engine, group_name=group_name, assignments=[field], actor=actor, reason=reason)


def remove_group(
    engine: Engine, *, group_name: str, actor: str, reason: str | None = None
) -> rows.RowChange:
    with audited_transaction(engine, actor=actor, reason=reason) as conn:
        return rows.delete_row(
            conn, table=GROUPS, key={"group_name": group_name}, guard=guard_unused
        )
