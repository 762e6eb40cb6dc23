"""The audit trail for auditors: query, show, verify the hash chain, revert one entry."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from hubctl import audit as chain
from hubctl.db import Connection, Database, Via
from hubctl.errors import ConflictError, NotFoundError, ValidationError, unknown
from hubctl.repository import audit as audit_rows
from hubctl.repository import groups as group_rows
from hubctl.repository import rows as row_sql
from hubctl.repository.rows import Row
from hubctl.services import rows
from hubctl.services.changes import audited_change
from hubctl.tables import CONTROL_TABLES, GROUPS, ControlTable

TABLE_NAMES = {
    "exchange_groups": "exchange_groups",
    "groups": "exchange_groups",
    "dag_configuration": "dag_configuration",
    "config": "dag_configuration",
    "jobs": "dag_configuration",
    "tickers": "tickers",
}
_AGO = re.compile(r"^(?P<amount>[0-9]{1,6})(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class AuditEntry:
    """One audit row, with field names that stay stable for scripts (audit log -o json)."""

    id: int
    occurred_at: dt.datetime
    actor: str
    via: str
    action: str
    table: str
    key: dict[str, Any] | None
    changes: dict[str, Any] | None
    reason: str | None
    change_set: str | None
    row_hash: str
    prev_hash: str | None
    txid: int
    db_user: str
    client_addr: str | None
    application_name: str | None
    old: Any
    new: Any

    @classmethod
    def from_row(cls, row: Row) -> AuditEntry:
        return cls(
            id=row["id"],
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            via=row["via"],
            action=row["action"],
            table=row["table_name"],
            key=row["row_key"],
            changes=row["changed_fields"],
            reason=row["reason"],
            change_set=row["change_set"],
            row_hash=row["row_hash"],
            prev_hash=row["prev_hash"],
            txid=row["txid"],
            db_user=row["db_user"],
            client_addr=None if row["client_addr"] is None else str(row["client_addr"]),
            application_name=row["application_name"],
            old=row["old_row"],
            new=row["new_row"],
        )

    @property
    def label(self) -> str:
        if self.key is None or self.table not in CONTROL_TABLES:
            return "(whole table)"
        return CONTROL_TABLES[self.table].label(self.key)

    def to_dict(self, *, with_rows: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        if not with_rows:
            del data["old"], data["new"]
        return data


def parse_moment(text: str, *, option: str, now: dt.datetime | None = None) -> dt.datetime:
    """`7d`, `12h`, `30m`, `2w` (ago) or an ISO date/time (UTC unless it names an offset)."""
    now = now or dt.datetime.now(dt.UTC)
    ago = _AGO.match(text.strip())
    if ago:
        return now - dt.timedelta(**{_UNITS[ago["unit"]]: int(ago["amount"])})
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{option}: expected 30m, 12h, 7d, 2w or a date such as 2026-01-01 (got {text!r})"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _table_name(table: str) -> str:
    if table not in TABLE_NAMES:
        raise unknown("table", "table", table, sorted(set(TABLE_NAMES.values())))
    return TABLE_NAMES[table]


def _group_exchanges(conn: Connection, group: str) -> list[str]:
    """The group's exchanges; a removed group is still searchable by its audit history."""
    found = row_sql.select_rows(conn, table=GROUPS, where={"group_name": group})
    if found:
        return list(found[0]["exchanges"])
    known = set(group_rows.group_names(conn)) | set(audit_rows.audited_group_names(conn))
    if group not in known:
        raise unknown("group", "group", group, known)
    return []


def audit_log(
    database: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    table: str | None = None,
    dag_name: str | None = None,
    group: str | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries matching every filter given, newest first (limit None or 0: all of them)."""
    if limit is not None and limit < 0:
        raise ValidationError(f"limit: must be 0 (no limit) or more (got {limit})")
    start = None if since is None else parse_moment(since, option="since")
    end = None if until is None else parse_moment(until, option="until")
    table_name = None if table is None else _table_name(table)
    with database.connect() as conn:
        exchanges = [] if group is None else _group_exchanges(conn, group)
        found = audit_rows.list_entries(
            conn,
            since=start,
            until=end,
            actor=actor,
            table=table_name,
            dag_name=dag_name,
            group=group,
            group_exchanges=exchanges,
            limit=limit or None,
        )
    return [AuditEntry.from_row(row) for row in found]


def _require_entry(conn: Connection, entry_id: int) -> AuditEntry:
    row = audit_rows.get_entry(conn, entry_id=entry_id)
    if row is None:
        raise NotFoundError(f"id: no audit entry {entry_id}")
    return AuditEntry.from_row(row)


def audit_entry(database: Database, *, entry_id: int) -> AuditEntry:
    with database.connect() as conn:
        return _require_entry(conn, entry_id)


def verify(database: Database) -> chain.ChainReport:
    """Recompute the hash chain; the report names the first broken id, if any."""
    with database.connect() as conn:
        return chain.verify_chain(conn)


def _require_latest(conn: Connection, entry: AuditEntry, table: ControlTable) -> None:
    latest = audit_rows.latest_entry_id(conn, table=entry.table, key=entry.key or {})
    if latest != entry.id:
        raise ConflictError(
            f"id: {table.noun} {entry.label!r} changed after audit entry {entry.id} (by entry "
            f"{latest}); revert {latest} first, or change it with hubctl directly"
        )


def _require_unchanged(conn: Connection, entry: AuditEntry, table: ControlTable) -> None:
    """The row still holds what the entry wrote (catches changes made behind the triggers)."""
    current = rows.spec_values(table, rows.require_record(conn, table=table, key=entry.key or {}))
    differs = [
        name
        for name in (entry.changes or {})
        if name in current and current[name] != (entry.new or {}).get(name)
    ]
    if differs:
        raise ConflictError(
            f"{differs[0]}: {table.noun} {entry.label!r} no longer holds the value audit entry "
            f"{entry.id} wrote; refusing to revert"
        )


def _inverse(conn: Connection, entry: AuditEntry, table: ControlTable) -> rows.RowChange:
    key = entry.key or {}
    if entry.action == "INSERT":
        return rows.delete_row(conn, table=table, key=key)
    if entry.action == "DELETE":
        values = {name: value for name, value in entry.old.items() if name in table.spec_fields}
        return rows.create_row(conn, table=table, values=values)
    _require_unchanged(conn, entry, table)
    restored = {name: change["old"] for name, change in (entry.changes or {}).items()}
    return rows.update_row(
        conn,
        table=table,
        key=key,
        edit=lambda current: {**current, **restored},
    )


def revert(
    database: Database,
    *,
    entry_id: int,
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> rows.RowChange:
    """Write the inverse of one entry as a new audited change; refuse if the row moved on since."""
    note = f"revert of audit entry {entry_id}" + (f": {reason}" if reason else "")
    with audited_change(database, actor=actor, reason=note, via=via) as conn:
        entry = _require_entry(conn, entry_id)
        if entry.action == "TRUNCATE" or entry.table not in CONTROL_TABLES:
            raise ValidationError(
                f"id: entry {entry_id} is a {entry.action}; only row changes revert"
            )
        table = CONTROL_TABLES[entry.table]
        row_sql.lock_tables(conn, tables=[table])
        _require_latest(conn, entry, table)
        return _inverse(conn, entry, table)
