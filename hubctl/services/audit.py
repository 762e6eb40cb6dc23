"""The audit trail for auditors: query, show, verify the hash chain, revert one entry."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hubctl import anchors
from hubctl import audit as chain
from hubctl.author import Author, Capture
from hubctl.db import Connection, Database
from hubctl.errors import ConflictError, HubError, NotFoundError, ValidationError, unknown
from hubctl.repository import audit as audit_rows
from hubctl.repository import groups as group_rows
from hubctl.repository import rows as row_sql
from hubctl.repository.rows import Row
from hubctl.services import replay, rows
from hubctl.services.changes import ChangesCaptured, audited_change
from hubctl.services.history import parse_moment
from hubctl.tables import CONTROL_TABLES, GROUPS, INT4_MAX, TICKERS, ControlTable

MAX_PAGE = 1_000  # the most entries one history page holds
TABLE_NAMES = {
    "exchange_groups": "exchange_groups",
    "groups": "exchange_groups",
    "dag_configuration": "dag_configuration",
    "config": "dag_configuration",
    "jobs": "dag_configuration",
    "tickers": "tickers",
    "scheduled_changes": "scheduled_changes",
    "schedule": "scheduled_changes",
    "change_requests": "change_requests",
    "requests": "change_requests",
    "change_request_approvals": "change_request_approvals",
    "approvals": "change_request_approvals",
    "break_glass_acks": "break_glass_acks",
    "acks": "break_glass_acks",
}


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
        if self.key is None:
            return "(whole table)"
        if self.table not in CONTROL_TABLES:  # e.g. a scheduled change: its id
            return "/".join(str(value) for value in self.key.values())
        return CONTROL_TABLES[self.table].label(self.key)

    def to_dict(self, *, with_rows: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        if not with_rows:
            del data["old"], data["new"]
        return data


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


@dataclass(frozen=True)
class AuditQuery:
    """audit log's filters, as typed in (times as `7d` or ISO; table by any of its names)."""

    since: str | None = None
    until: str | None = None
    actor: str | None = None
    table: str | None = None
    dag_name: str | None = None
    group: str | None = None
    job_name: str | None = None
    after_id: int | None = None
    before_id: int | None = None  # keyset paging: the next page starts below the last id shown
    via: str | None = None

    def filters(self) -> dict[str, Any]:
        return {
            "since": None if self.since is None else parse_moment(self.since, option="since"),
            "until": None if self.until is None else parse_moment(self.until, option="until"),
            "actor": self.actor,
            "via": self.via,
            "table": None if self.table is None else _table_name(self.table),
            "dag_name": self.dag_name,
            "group": self.group,
            "job_name": self.job_name,
            "after_id": self.after_id,
            "before_id": self.before_id,
        }


def _checked_limit(limit: int | None) -> int | None:
    if limit is not None and not 0 <= limit <= INT4_MAX:
        raise ValidationError(f"limit: must be 0 (no limit) to {INT4_MAX} (got {limit})")
    return limit or None


def audit_log(
    database: Database, query: AuditQuery = AuditQuery(), *, limit: int | None = None
) -> list[AuditEntry]:
    """Entries matching every filter given, newest first (limit None or 0: all of them)."""
    return list(stream_audit_log(database, query, limit=limit))


def stream_audit_log(
    database: Database, query: AuditQuery = AuditQuery(), *, limit: int | None = None
) -> Iterator[AuditEntry]:
    """audit_log, one entry at a time: a million entries export in constant memory."""
    limit, filters = _checked_limit(limit), query.filters()
    with database.connect() as conn:
        exchanges = [] if query.group is None else _group_exchanges(conn, query.group)
        rows = audit_rows.stream_entries(
            conn, filters=filters, group_exchanges=exchanges, limit=limit
        )
        for row in rows:
            yield AuditEntry.from_row(row)


def _require_entry(conn: Connection, entry_id: int) -> AuditEntry:
    row = audit_rows.get_entry(conn, entry_id=entry_id)
    if row is None:
        raise NotFoundError(f"id: no audit entry {entry_id}")
    return AuditEntry.from_row(row)


def audit_entry(database: Database, *, entry_id: int) -> AuditEntry:
    with database.connect() as conn:
        return _require_entry(conn, entry_id)


def verify(database: Database) -> chain.ChainReport:
    """Recompute the hash chain, then replay it against the live tables (one snapshot); the
    report names the first broken id, or the rows changed without an audit entry."""
    with database.connect(snapshot=True) as conn:
        return _with_replay(conn, chain.verify_chain(conn))


def _with_replay(conn: Connection, report: chain.ChainReport) -> chain.ChainReport:
    """``report`` plus the replay's differences (only a sound chain is worth replaying)."""
    if not report.ok:
        return report
    return dataclasses.replace(report, unaudited=tuple(replay.unaudited_differences(conn)))


# How to bring back the rows of a truncated table: a TRUNCATE entry itself cannot be reverted.
_RESTORE_HINT = {
    TICKERS.name: "hubctl tickers import FILE, or hubctl apply -f EXPORT",
}


def verify_anchored(
    database: Database,
    *,
    store: Path | None = None,
    incremental: bool = False,
    key: anchors.AnchorKey | None = None,
) -> chain.AnchoredReport:
    """The chain against the anchor store: all of it and the replay, or (incremental) the chain
    from the newest anchor on, without the replay (it reads the whole log: docs/audit.md)."""
    stored = list(anchors.read_anchors(anchors.store_file(store)))
    key = key or anchors.configured_key()
    with database.connect(snapshot=True) as conn:
        if incremental:
            return chain.verify_from_last_anchor(conn, stored, key)
        report = chain.verify_with_anchors(conn, stored, key)
        if report.problem:
            return report
        return dataclasses.replace(report, chain=_with_replay(conn, report.chain))


def anchor(
    database: Database, *, store: Path | None = None, key: anchors.AnchorKey | None = None
) -> anchors.Anchor:
    """Check the chain from the newest anchor on, then sign where it stands and append that.

    Refuses to anchor a chain that does not verify: an anchor vouches for everything before it.
    """
    path = anchors.store_file(store)
    key = key or anchors.configured_key()
    stored = list(anchors.read_anchors(path)) if path.exists() else []
    with database.connect(snapshot=True) as conn:
        report = chain.verify_from_last_anchor(conn, stored, key)
    if not report.ok:
        raise ConflictError(f"not anchoring: {report.failure}")
    if report.chain.last_id is None or report.chain.last_hash is None:
        raise ValidationError("the audit log is empty: nothing to anchor yet")
    made = anchors.new_anchor(
        key,
        last_id=report.chain.last_id,
        last_hash=report.chain.last_hash,
        count=report.chain.count,
    )
    anchors.append_anchor(path, made)
    return made


def revert_refusal(entry: AuditEntry, latest: Row | None) -> HubError | None:
    """Why ``entry`` cannot be reverted, or None; ``latest`` is the newest entry on its row
    (None: not looked up yet). The one rule for `audit revert` and the page's Revert button."""
    if entry.action == "TRUNCATE" or entry.table not in CONTROL_TABLES:
        return ValidationError(
            f"id: entry {entry.id} is a {entry.action} of {entry.table}, not a change to a group,"
            " job or ticker row; only row changes revert"
        )
    if latest is None or latest["id"] == entry.id:
        return None
    table = CONTROL_TABLES[entry.table]
    if latest["action"] == "TRUNCATE":
        restore = _RESTORE_HINT.get(table.name, "hubctl apply -f EXPORT")
        return ConflictError(
            f"id: entry {latest['id']} truncated {table.qualified_name} after audit entry"
            f" {entry.id}, and a TRUNCATE cannot be reverted; restore the rows from an export"
            f" made before entry {latest['id']} ({restore}), then change the row with hubctl"
        )
    return ConflictError(
        f"id: {table.noun} {entry.label!r} changed after audit entry {entry.id} (by entry "
        f"{latest['id']}); revert {latest['id']} first, or change it with hubctl directly"
    )


def revert_refusals(conn: Connection, entries: Sequence[AuditEntry]) -> list[str | None]:
    """revert_refusal's text for each of ``entries`` (None: revertible), in one query."""
    rows_of = [entry for entry in entries if revert_refusal(entry, None) is None]
    latest = audit_rows.latest_entries(conn, rows=[(e.table, e.key or {}) for e in rows_of])
    newest = {entry.id: found for entry, found in zip(rows_of, latest, strict=True)}
    refusals = []
    for entry in entries:
        refusal = revert_refusal(entry, newest.get(entry.id))
        refusals.append(None if refusal is None else str(refusal))
    return refusals


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
    author: Author,
) -> rows.RowChange:
    """Write the inverse of one entry as a new audited change; refuse if the row moved on since."""
    note = f"revert of audit entry {entry_id}" + (f": {author.reason}" if author.reason else "")
    with audited_change(database, dataclasses.replace(author, reason=note)) as conn:
        entry = _require_entry(conn, entry_id)
        _raise_refusal(revert_refusal(entry, None))  # a control table's entry, before locking it
        table = CONTROL_TABLES[entry.table]
        row_sql.lock_tables(conn, tables=[table])
        latest = audit_rows.latest_entry(conn, table=entry.table, key=entry.key or {})
        _raise_refusal(revert_refusal(entry, latest))
        return _inverse(conn, entry, table)


def _raise_refusal(refusal: HubError | None) -> None:
    if refusal is not None:
        raise refusal


@dataclass(frozen=True)
class AuditPage:
    """One page of the log, newest first: each entry with why it cannot be reverted (None: it can),
    and the ``before_id`` of the next page (None: this is the last)."""

    entries: list[AuditEntry]
    revert_refusals: list[str | None]
    next_before_id: int | None


def audit_page(database: Database, query: AuditQuery, *, limit: int) -> AuditPage:
    """``limit`` entries matching ``query`` below its ``before_id`` (keyset paging: the primary
    key finds the first and the last page alike, unlike an OFFSET)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit: must be 1 to {MAX_PAGE} (got {limit})")
    with database.connect() as conn:
        exchanges = [] if query.group is None else _group_exchanges(conn, query.group)
        found = audit_rows.stream_entries(
            conn, filters=query.filters(), group_exchanges=exchanges, limit=limit
        )
        entries = [AuditEntry.from_row(row) for row in found]
        refusals = revert_refusals(conn, entries)
    last = entries[-1].id if len(entries) == limit else None
    return AuditPage(entries, refusals, last)


def head(database: Database) -> int | None:
    """The newest audit entry's id: it moves with every audited write, by any writer."""
    with database.connect() as conn:
        found = audit_rows.chain_head(conn)
    return found["last_id"] if found else None


def last_change_of_groups(database: Database, groups: Sequence[str]) -> dict[str, AuditEntry]:
    """Each group's own row's newest entry: who last set its state (enabled, approvals, ...), when
    and why. Its jobs' and tickers' changes are in its History; this is two index reads a group."""
    keys = [(GROUPS.name, {"group_name": group}) for group in groups]
    with database.connect() as conn:
        latest = audit_rows.latest_entries(conn, rows=keys)
        return {
            group: _require_entry(conn, found["id"])
            for group, found in zip(groups, latest, strict=True)
            if found is not None
        }


def last_change_of_row(database: Database, *, table: str, key: dict[str, Any]) -> AuditEntry | None:
    """The newest entry that changed one row (a version conflict names who and when)."""
    with database.connect() as conn:
        latest = audit_rows.latest_entry(conn, table=table, key=key)
        return None if latest is None else _require_entry(conn, latest["id"])


@dataclass(frozen=True)
class VerifySummary:
    """The chain's check and the anchors' state (``anchors``: "ok", what disagrees, or why the
    anchors were not checked)."""

    ok: bool
    rows_checked: int
    problem: str | None
    anchors_checked: int
    anchors: str


def verify_summary(database: Database) -> VerifySummary:
    """The chain, checked against the anchor store when a store and its key are configured."""
    try:
        report = verify_anchored(database)
    except ValidationError as not_configured:
        alone = verify(database)
        return VerifySummary(
            alone.ok, alone.rows_checked, alone.problem, 0, f"not checked: {not_configured}"
        )
    anchors_state = (
        "ok" if report.problem is None else f"{report.disagreeing_anchor}: {report.problem}"
    )
    return VerifySummary(
        report.ok, report.chain.rows_checked, report.failure, report.anchors_checked, anchors_state
    )


def revert_preview(database: Database, *, entry_id: int, author: Author) -> list[rows.RowChange]:
    """What revert would write, computed by writing it and rolling back (Capture mode).

    Reverting afterwards writes exactly this, or is refused: revert requires the entry to be the
    row's latest, so a row changed in between cannot be reverted to something else.
    """
    mode = author.mode if isinstance(author.mode, Capture) else Capture()
    try:
        revert(database, entry_id=entry_id, author=dataclasses.replace(author, mode=mode))
    except ChangesCaptured as captured:
        return captured.changes
    return []
