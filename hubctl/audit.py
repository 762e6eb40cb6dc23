"""Verification of the audit hash chain, independent of the database's own hash function,
and of the chain against signed anchors kept outside the database (hubctl.anchors)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from hubctl.anchors import AnchorKey, StoredAnchor, order_problem, signature_problem
from hubctl.db import Connection
from hubctl.repository import audit as audit_rows


def row_hash(prev_hash: str | None, canonical: str) -> str:
    return hashlib.sha256(((prev_hash or "") + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class ChainPoint:
    """A place in the chain: entry ``last_id`` with hash ``last_hash``, ``count`` entries up to it."""

    last_id: int | None = None
    last_hash: str | None = None
    count: int = 0


@dataclass(frozen=True)
class ChainReport:
    rows_checked: int
    first_broken_id: int | None
    problem: str | None
    last_id: int | None
    last_hash: str | None
    count: int = 0
    # The watched entries the walk passed: id -> where the chain stood there.
    points: dict[int, ChainPoint] = field(default_factory=dict)
    # Rows where the live tables differ from the replayed log (hubctl.services.replay).
    unaudited: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.unaudited

    @property
    def failure(self) -> str | None:
        """One line: the first broken entry, else the first row changed without an entry."""
        if self.problem:
            return f"audit chain broken at id {self.first_broken_id}: {self.problem}"
        if self.unaudited:
            more = len(self.unaudited) - 1
            return self.unaudited[0] + (f" (and {more} more difference(s))" if more else "")
        return None


def verify_chain(
    conn: Connection, *, start: ChainPoint = ChainPoint(), watch: Collection[int] = ()
) -> ChainReport:
    """Walk the chain in id order from ``start``; report the first row whose links or hash do not hold.

    Recomputing each hash in Python means a row edited behind the triggers' back (even by a
    superuser with triggers disabled) is caught, and so is a row cut out of the middle (its
    successor's prev_hash no longer matches) or off the tail (the chain head disagrees).
    """
    at, checked = start, 0
    points: dict[int, ChainPoint] = {}
    for entry in audit_rows.chain_links(conn, after_id=start.last_id):
        checked += 1
        problem = None
        if entry["prev_hash"] != at.last_hash:
            problem = "prev_hash does not link to the previous row"
        elif row_hash(entry["prev_hash"], entry["canonical"]) != entry["row_hash"]:
            problem = "row_hash does not match the row's content"
        if problem:
            return ChainReport(
                checked, entry["id"], problem, at.last_id, at.last_hash, at.count, points
            )
        at = ChainPoint(entry["id"], entry["row_hash"], at.count + 1)
        if at.last_id in watch:
            points[entry["id"]] = at
    head = audit_rows.chain_head(conn)
    if head is None or (head["last_id"], head["last_hash"]) != (at.last_id, at.last_hash):
        broken = head["last_id"] if head is not None else at.last_id
        return ChainReport(checked, broken, "the chain head does not match the last row",
                           at.last_id, at.last_hash, at.count, points)  # fmt: skip
    return ChainReport(checked, None, None, at.last_id, at.last_hash, at.count, points)


@dataclass(frozen=True)
class AnchoredReport:
    """The chain's own check, and the first anchor (if any) that the chain no longer agrees with."""

    chain: ChainReport
    anchors_checked: int
    disagreeing_anchor: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.problem is None

    @property
    def failure(self) -> str | None:
        """One line naming what disagrees: the anchor first, else the chain's broken entry."""
        if self.problem:
            return f"{self.disagreeing_anchor}: {self.problem}"
        return self.chain.failure


def _disagreement(stored: StoredAnchor, point: ChainPoint | None) -> str | None:
    """Why the chain as it is now does not pass through the anchored point, or None."""
    assert stored.anchor is not None
    anchor = stored.anchor
    if point is None:
        return f"entry {anchor.last_id} is no longer in the chain"
    if point.last_hash != anchor.last_hash:
        return f"entry {anchor.last_id} now has another hash (history was rewritten)"
    if point.count != anchor.count:
        return f"{point.count} entries up to id {anchor.last_id}, the anchor counted {anchor.count}"
    return None


def _first_untrusted_line(anchors: Sequence[StoredAnchor], key: AnchorKey) -> AnchoredReport | None:
    """The first line that is unsigned, signed by another key, or not past the line before it."""
    previous = None
    for stored in anchors:
        problem = signature_problem(stored, key) or order_problem(previous, stored)
        previous = stored
        if problem:
            empty = ChainReport(0, None, None, None, None)
            return AnchoredReport(empty, len(anchors), stored.name, problem)
    return None


def verify_with_anchors(
    conn: Connection, anchors: Sequence[StoredAnchor], key: AnchorKey
) -> AnchoredReport:
    """The whole chain, then every anchor in order: the first one it does not pass through is named."""
    bad = _first_untrusted_line(anchors, key)
    if bad:
        return bad
    report = verify_chain(conn, watch={s.anchor.last_id for s in anchors if s.anchor})
    for stored in anchors:
        assert stored.anchor is not None
        if report.ok or stored.anchor.last_id <= (report.last_id or 0):
            problem = _disagreement(stored, report.points.get(stored.anchor.last_id))
            if problem:
                return AnchoredReport(report, len(anchors), stored.name, problem)
    return AnchoredReport(report, len(anchors))


def verify_from_last_anchor(
    conn: Connection, anchors: Sequence[StoredAnchor], key: AnchorKey
) -> AnchoredReport:
    """Incremental: every signature and the lines' order, the newest anchor's entry (its hash and count), then the chain
    after it. Rows before that entry are not re-hashed: the full check (verify_with_anchors) is
    what catches an old row edited while its stored hashes were left alone."""
    bad = _first_untrusted_line(anchors, key)
    if bad or not anchors:
        return bad or AnchoredReport(verify_chain(conn), 0)
    newest = anchors[-1]
    assert newest.anchor is not None
    link = audit_rows.chain_link(conn, entry_id=newest.anchor.last_id)
    point = None
    if link is not None and row_hash(link["prev_hash"], link["canonical"]) == link["row_hash"]:
        point = ChainPoint(link["id"], link["row_hash"], link["count"])
    problem = _disagreement(newest, point)
    if link is not None and point is None:
        problem = f"entry {newest.anchor.last_id}'s row_hash does not match its content"
    if problem:
        return AnchoredReport(
            ChainReport(0, None, None, None, None), len(anchors), newest.name, problem
        )
    assert point is not None
    return AnchoredReport(verify_chain(conn, start=point), len(anchors))
