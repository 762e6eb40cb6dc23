"""Verification of the audit hash chain, independent of the database's own hash function."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Must stay identical to hub.audit_canonical() in hubctl/alembic/versions/0001_control_plane.py.
CANONICAL_ROW_SQL = """
jsonb_build_array(
  id, (extract(epoch FROM occurred_at) * 1000000)::bigint, txid, table_name, action, row_key,
  old_row, new_row, changed_fields, actor, reason, via, db_user, host(client_addr),
  application_name, change_set
)::text
"""

_CHAIN_QUERY = sa.text(
    f"SELECT id, prev_hash, row_hash, {CANONICAL_ROW_SQL} AS canonical FROM hub.audit_log ORDER BY id"
)
_HEAD_QUERY = sa.text("SELECT last_id, last_hash FROM hub.audit_chain_head WHERE id = 1")


def row_hash(prev_hash: str | None, canonical: str) -> str:
    return hashlib.sha256(((prev_hash or "") + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    rows_checked: int
    first_broken_id: int | None
    problem: str | None
    last_id: int | None
    last_hash: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(conn: Connection) -> ChainReport:
    """Walk the chain in id order; report the first row whose links or hash do not hold.

    Recomputing each hash in Python means a row edited behind the triggers' back (even by a
    superuser with triggers disabled) is caught, and so is a row cut out of the middle (its
    successor's prev_hash no longer matches) or off the tail (the chain head disagrees).
    """
    expected_prev: str | None = None
    last_id: int | None = None
    checked = 0
    for entry in conn.execute(_CHAIN_QUERY):
        checked += 1
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.id, "prev_hash does not link to the previous row",
                               last_id, expected_prev)  # fmt: skip
        if row_hash(entry.prev_hash, entry.canonical) != entry.row_hash:
            return ChainReport(checked, entry.id, "row_hash does not match the row's content",
                               last_id, expected_prev)  # fmt: skip
        expected_prev, last_id = entry.row_hash, entry.id
    head = conn.execute(_HEAD_QUERY).first()
    if head is None or (head.last_id, head.last_hash) != (last_id, expected_prev):
        broken = head.last_id if head is not None else last_id
        return ChainReport(checked, broken, "the chain head does not match the last row",
                           last_id, expected_prev)  # fmt: skip
    return ChainReport(checked, None, None, last_id, expected_prev)
