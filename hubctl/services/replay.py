"""Proof that the control tables hold what the audit log replays to.

The hash chain proves the log was not edited; it cannot see a change that never reached the log.
A login that can disable the audit triggers (a superuser, or a managed database's owner where the
event-trigger guard could not be installed) can change a row, re-enable them, and leave no entry.
Replaying the whole log (as `--at` does) and comparing with the live rows catches exactly that.
"""

from __future__ import annotations

import json
from typing import Any

from hubctl.db import Connection
from hubctl.repository import audit as audit_rows
from hubctl.repository.rows import Row
from hubctl.services.history import Moment, tables_at
from hubctl.tables import CONTROL_TABLES, ControlTable

# Compared besides the spec fields: the touch trigger bumps it on every change, audited or not.
_VERSION = "version"


def unaudited_differences(conn: Connection) -> list[str]:
    """Each row where the live tables and the replayed log disagree, as one line; [] if none.

    ``conn`` should be a snapshot (REPEATABLE READ): the log and the tables are read at one moment.
    """
    head = audit_rows.chain_head(conn)
    last_id = (head or {}).get("last_id") or 0
    replayed = tables_at(conn, Moment(audit_id=last_id))
    differences: list[str] = []
    for name, table in CONTROL_TABLES.items():
        live = audit_rows.live_rows(conn, table_name=name)
        differences += _table_differences(
            table, _by_key(table, replayed[name]), _by_key(table, live)
        )
    return differences


def _by_key(table: ControlTable, rows: list[Row]) -> dict[tuple[Any, ...], Row]:
    return {tuple(row[name] for name in table.key): row for row in rows}


def _table_differences(
    table: ControlTable, replayed: dict[tuple[Any, ...], Row], live: dict[tuple[Any, ...], Row]
) -> list[str]:
    found = []
    for key in sorted({*replayed, *live}, key=str):
        name = f"{table.name} {table.label(dict(zip(table.key, key, strict=True)))}"
        if key not in live:
            found.append(f"{name}: the audit log replays this row; the table lacks it (removed"
                         " without an audit entry)")  # fmt: skip
        elif key not in replayed:
            found.append(f"{name}: the table holds this row; no audit entry made it (added"
                         " without an audit entry)")  # fmt: skip
        else:
            found += _field_differences(table, name, replayed[key], live[key])
    return found


def _field_differences(table: ControlTable, name: str, replayed: Row, live: Row) -> list[str]:
    return [
        f"{name}: {field} is {json.dumps(live.get(field))}, the audit log replays"
        f" {json.dumps(replayed[field])} (changed without an audit entry)"
        for field in (*table.spec_fields, _VERSION)
        if field in replayed and live.get(field) != replayed[field]
    ]
