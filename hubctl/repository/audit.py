"""Reading hub.audit_log (it is written only by the database's triggers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, RowMapping

from hubctl.repository.tables import GROUPS, JOBS, TICKERS

_JSON_COLUMNS = ("row_key", "old_row", "new_row", "changed_fields")
AUDIT_COLUMNS = (
    "id", "occurred_at", "txid", "table_name", "action", *_JSON_COLUMNS, "actor", "reason", "via",
    "db_user", "client_addr", "application_name", "change_set", "prev_hash", "row_hash",
)  # fmt: skip
AUDIT = sa.table(
    "audit_log",
    *(sa.column(name, JSONB() if name in _JSON_COLUMNS else None) for name in AUDIT_COLUMNS),
    schema="hub",
)


def _about_group(group: str, exchanges: Sequence[str]) -> sa.ColumnElement[bool]:
    """Entries about the group itself, jobs that were or are in it, tickers on its exchanges."""
    c = AUDIT.c
    row = sa.func.coalesce(c.new_row, c.old_row)
    return sa.or_(
        sa.and_(c.table_name == GROUPS.name, c.row_key["group_name"].astext == group),
        sa.and_(
            c.table_name == JOBS.name,
            sa.or_(
                c.new_row["exchange_group"].astext == group,
                c.old_row["exchange_group"].astext == group,
            ),
        ),
        sa.and_(
            c.table_name == TICKERS.name,
            c.action != "TRUNCATE",
            row.op("->>")("exchange").in_(list(exchanges)),
        ),
    )


def list_entries(
    conn: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    table: str | None = None,
    dag_name: str | None = None,
    group: str | None = None,
    group_exchanges: Sequence[str] = (),
    limit: int | None = None,
) -> list[RowMapping]:
    """Entries matching every filter given, newest first."""
    c = AUDIT.c
    where: list[sa.ColumnElement[bool]] = []
    if since is not None:
        where.append(c.occurred_at >= since)
    if until is not None:
        where.append(c.occurred_at < until)
    if actor is not None:
        where.append(c.actor == actor)
    if table is not None:
        where.append(c.table_name == table)
    if dag_name is not None:
        where.append(sa.and_(c.table_name == JOBS.name, c.row_key["dag_name"].astext == dag_name))
    if group is not None:
        where.append(_about_group(group, group_exchanges))
    query = sa.select(AUDIT).where(*where).order_by(c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def get_entry(conn: Connection, *, entry_id: int) -> RowMapping | None:
    return conn.execute(sa.select(AUDIT).where(AUDIT.c.id == entry_id)).mappings().first()


def latest_entry_id(conn: Connection, *, table: str, key: Mapping[str, Any]) -> int | None:
    """The newest entry that touched the row (a TRUNCATE of its table counts)."""
    c = AUDIT.c
    query = sa.select(sa.func.max(c.id)).where(
        c.table_name == table,
        sa.or_(
            c.row_key == sa.bindparam("row_key", dict(key), type_=JSONB), c.action == "TRUNCATE"
        ),
    )
    return cast(int | None, conn.scalar(query))


def audited_group_names(conn: Connection) -> list[str]:
    """Every group name the log mentions (groups removed since included)."""
    name = AUDIT.c.row_key["group_name"].astext
    query = sa.select(name).where(AUDIT.c.table_name == GROUPS.name).distinct().order_by(name)
    return [value for value in conn.scalars(query) if value is not None]


def is_empty(conn: Connection) -> bool:
    """No change was ever recorded: the database was never configured."""
    return conn.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM hub.audit_log)")).scalar() is True
