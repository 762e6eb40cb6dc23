"""Reading hub.audit_log (it is written only by the database's triggers) and its chain head."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from psycopg2.extras import Json

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch, fetch_value
from hubctl.tables import CONTROL_TABLES, GROUPS, JOBS, TICKERS

AUDIT_COLUMNS = (
    "id", "occurred_at", "txid", "table_name", "action", "row_key", "old_row", "new_row",
    "changed_fields", "actor", "reason", "via", "db_user", "client_addr", "application_name",
    "change_set", "prev_hash", "row_hash",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM hub.audit_log"
# Must stay identical to hub.audit_canonical() in the first migration.
CANONICAL_ROW_SQL = """
jsonb_build_array(
  id, (extract(epoch FROM occurred_at) * 1000000)::bigint, txid, table_name, action, row_key,
  old_row, new_row, changed_fields, actor, reason, via, db_user, host(client_addr),
  application_name, change_set
)::text
"""
# The group's change requests, by id.
_GROUP_REQUESTS = "SELECT id FROM hub.change_requests WHERE %(group)s = ANY (groups)"
# A scheduled change is about the group when one of its row changes is: the group's own row, or
# a job in the group before or after.
_SCHEDULED_IN_GROUP = """jsonb_path_exists(coalesce(new_row, old_row)->'changes',
  '$[*] ? (@.key.group_name == $g || @.before.exchange_group == $g || @.after.exchange_group == $g)',
  jsonb_build_object('g', %(group)s::text))"""
# Entries about the group itself, jobs that were or are in it, tickers on its exchanges, and its
# governance: its change requests, their approvals and applications, its scheduled changes.
# One part each, each answerable by an index (migrations 0001 and 0007) or, when the part is dense,
# by walking the primary key: see _about_group_ids. The subqueries are arrays (InitPlans), so
# their values reach the index as one list instead of a join PostgreSQL could walk the log for.
_GROUP_PARTS = (
    f"table_name = '{GROUPS.name}' AND row_key->>'group_name' = %(group)s",
    f"table_name = '{JOBS.name}' AND new_row->>'exchange_group' = %(group)s",
    f"table_name = '{JOBS.name}' AND old_row->>'exchange_group' = %(group)s",
    f"table_name = '{TICKERS.name}' AND action <> 'TRUNCATE'"
    " AND coalesce(new_row, old_row)->>'exchange' = ANY(%(exchanges)s::text[])",
    f"change_set = ANY(ARRAY(SELECT 'request:' || id FROM ({_GROUP_REQUESTS}) AS r))",
    "table_name = 'change_requests'"
    f" AND row_key = ANY(ARRAY(SELECT jsonb_build_object('id', id) FROM ({_GROUP_REQUESTS}) AS r))",
    "table_name = 'change_request_approvals'"
    f" AND row_key->>'request_id' = ANY(ARRAY(SELECT id::text FROM ({_GROUP_REQUESTS}) AS r))",
    f"table_name = 'scheduled_changes' AND action <> 'TRUNCATE' AND {_SCHEDULED_IN_GROUP}",
)
_FILTERS = {
    "since": "occurred_at >= %(since)s",
    "until": "occurred_at < %(until)s",
    "actor": "actor = %(actor)s",
    "via": "via = %(via)s",
    "table": "table_name = %(table)s",
    "dag_name": f"(table_name = '{JOBS.name}' AND row_key->>'dag_name' = %(dag_name)s)",
    "job_name": f"(table_name = '{JOBS.name}' AND row_key->>'job_name' = %(job_name)s)",
    "after_id": "id > %(after_id)s",
    "before_id": "id < %(before_id)s",  # keyset paging: the primary key serves every page alike
}
_LIMIT = " ORDER BY id DESC LIMIT %(limit)s"


def _about_group_ids(where: list[str], limit: int | None) -> str:
    """The ids of the newest ``limit`` entries about the group that also match ``where``.

    Not one `OR` of the parts: under `ORDER BY id DESC LIMIT n` PostgreSQL answers that by
    walking the primary key back until n entries match, which reads most of a million-entry log
    for a quiet group. Each part alone, limited, is an index read when the part is sparse and a
    short walk when it is dense; the merged ids are at most n per part.
    """
    tail = _LIMIT if limit is not None else ""
    parts = [
        f"(SELECT id FROM hub.audit_log WHERE {' AND '.join([part, *where])}{tail})"
        for part in _GROUP_PARTS
    ]
    return f"SELECT id FROM ({' UNION '.join(parts)}) AS about{tail}"


def _entries_query(
    filters: Mapping[str, Any], group_exchanges: Sequence[str], limit: int | None
) -> tuple[str, dict[str, Any]]:
    where = [
        _FILTERS[name] for name, value in filters.items() if value is not None and name != "group"
    ]
    if filters.get("group") is not None:
        where = [f"id = ANY(ARRAY({_about_group_ids(where, limit)}))"]
    sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT %(limit)s"
    return sql, {**filters, "exchanges": list(group_exchanges), "limit": limit}


def stream_entries(
    conn: Connection,
    *,
    filters: Mapping[str, Any],
    group_exchanges: Sequence[str] = (),
    limit: int | None = None,
    batch: int = 2_000,
) -> Iterator[Row]:
    """list_entries' rows (same ``filters`` names), through a server-side cursor: flat memory."""
    with conn.cursor(name="hub_audit_export") as cursor:
        cursor.itersize = batch
        cursor.execute(*_entries_query(filters, group_exchanges, limit))
        for values in cursor:
            yield dict(zip(AUDIT_COLUMNS, values, strict=True))


def row_changes(
    conn: Connection, *, until: dt.datetime | None = None, last_id: int | None = None
) -> Iterator[Row]:
    """Every control-table entry up to ``until`` (or id ``last_id``), oldest first: what replays
    the tables (other audited tables, such as scheduled changes, are not configuration).

    Streamed through a server-side cursor: the whole log never sits in memory at once.
    """
    bound = "occurred_at <= %(until)s" if until is not None else "id <= %(last_id)s"
    with conn.cursor(name="hub_audit_replay") as cursor:
        cursor.itersize = 10_000
        cursor.execute(
            "SELECT table_name, action, old_row, new_row FROM hub.audit_log"
            f" WHERE {bound} AND table_name = ANY(%(tables)s) ORDER BY id",
            {"until": until, "last_id": last_id, "tables": list(CONTROL_TABLES)},
        )
        for table_name, action, old_row, new_row in cursor:
            yield {
                "table_name": table_name,
                "action": action,
                "old_row": old_row,
                "new_row": new_row,
            }


def live_rows(conn: Connection, *, table_name: str) -> list[Row]:
    """A control table's rows now, as JSON objects in the form the audit log records them."""
    table = CONTROL_TABLES[table_name]  # only a known table name reaches the SQL
    return [
        row["row"]
        for row in fetch(conn, f"SELECT to_jsonb(t) AS row FROM {table.qualified_name} t")
    ]


def transaction_entries(conn: Connection, *, after_id: int | None) -> list[Row]:
    """This transaction's entries after id ``after_id``, oldest first.

    The triggers record ``txid_current()`` as txid; ``after_id`` (the chain head before the
    writes) keeps the scan to the log's tail.
    """
    sql = f"{_SELECT} WHERE id > %(after)s AND txid = txid_current() ORDER BY id"
    return fetch(conn, sql, {"after": after_id or 0})


def get_entry(conn: Connection, *, entry_id: int) -> Row | None:
    found = fetch(conn, f"{_SELECT} WHERE id = %(id)s", {"id": entry_id})
    return found[0] if found else None


def latest_entry(conn: Connection, *, table: str, key: Mapping[str, Any]) -> Row | None:
    """The id and action of the newest entry that touched the row (a TRUNCATE of its table counts)."""
    return latest_entries(conn, rows=[(table, key)])[0]


def latest_entries(
    conn: Connection, *, rows: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Row | None]:
    """latest_entry of each (table, key) in ``rows``, in one query, in the order given."""
    if not rows:
        return []
    # Two index lookups on (table_name, row_key) per row, not one newest-first scan for
    # "this key OR a TRUNCATE" (which no index serves: it walked the log back to a quiet row).
    sql = """
    SELECT wanted.n, entry.id, entry.action
    FROM unnest(%(tables)s::text[], %(keys)s::jsonb[]) WITH ORDINALITY AS wanted(table_name, row_key, n)
    JOIN hub.audit_log AS entry ON entry.id = greatest(
      (SELECT max(id) FROM hub.audit_log
       WHERE table_name = wanted.table_name AND row_key = wanted.row_key),
      (SELECT max(id) FROM hub.audit_log
       WHERE table_name = wanted.table_name AND row_key IS NULL AND action = 'TRUNCATE'))
    """
    params = {"tables": [table for table, _ in rows], "keys": [Json(dict(key)) for _, key in rows]}
    found = {
        row["n"]: {"id": row["id"], "action": row["action"]} for row in fetch(conn, sql, params)
    }
    return [found.get(n) for n in range(1, len(rows) + 1)]


def audited_group_names(conn: Connection) -> list[str]:
    """Every group name the log mentions (groups removed since included)."""
    sql = (
        "SELECT DISTINCT row_key->>'group_name' AS name FROM hub.audit_log"
        f" WHERE table_name = '{GROUPS.name}' ORDER BY 1"
    )
    return [row["name"] for row in fetch(conn, sql) if row["name"] is not None]


def is_empty(conn: Connection) -> bool:
    """No change was ever recorded: the database was never configured."""
    return fetch_value(conn, "SELECT NOT EXISTS (SELECT 1 FROM hub.audit_log)") is True


def chain_head(conn: Connection) -> Row | None:
    """The one-row chain head: the last entry's id and hash, as the triggers recorded them."""
    found = fetch(conn, "SELECT last_id, last_hash FROM hub.audit_chain_head WHERE id = 1")
    return found[0] if found else None


_LINK = f"SELECT id, prev_hash, row_hash, {CANONICAL_ROW_SQL} AS canonical FROM hub.audit_log"


def chain_links(
    conn: Connection, *, after_id: int | None = None, batch: int = 10_000
) -> Iterator[Row]:
    """Entries' id, hashes and canonical text in id order (after ``after_id``), streamed.

    A server-side cursor keeps memory flat however long the log is.
    """
    with conn.cursor(name="hub_audit_chain") as cursor:
        cursor.itersize = batch
        cursor.execute(f"{_LINK} WHERE id > %(after)s ORDER BY id", {"after": after_id or 0})
        for entry_id, prev_hash, row_hash, canonical in cursor:
            yield {"id": entry_id, "prev_hash": prev_hash, "row_hash": row_hash,
                   "canonical": canonical}  # fmt: skip


def chain_link(conn: Connection, *, entry_id: int) -> Row | None:
    """One entry's link (as chain_links yields it) and how many entries have an id up to it."""
    sql = (
        f"SELECT *, (SELECT count(*) FROM hub.audit_log WHERE id <= %(id)s) AS count"
        f" FROM ({_LINK} WHERE id = %(id)s) AS link"
    )
    found = fetch(conn, sql, {"id": entry_id})
    return found[0] if found else None


def affected_groups_after(conn: Connection, *, after_id: int) -> list[Row]:
    """Entries after ``after_id``, oldest first: their id and the groups whose DAGs they affect.

    ``groups`` is a list (None: jobs without a group), empty for a table no DAG is built from,
    or None for every group (a TRUNCATE); hub.audit_affected_groups (migration 0010) decides,
    as it does for the notifications. Ids follow commit order: the chain head is locked until
    commit, so no entry can appear later below an id already read.
    """
    return fetch(
        conn,
        "SELECT id, hub.audit_affected_groups(table_name, action, old_row, new_row) AS groups"
        " FROM hub.audit_log WHERE id > %(after)s ORDER BY id",
        {"after": after_id},
    )
