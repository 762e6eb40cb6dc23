"""Scheduled changes: a write captured now (Capture mode, hubctl.author), applied at its time.

Scheduling records the rows the command would write, each with its target row's version then
(its base). ``apply_due`` (the hub_scheduler job) applies each due change in its own audited
transaction, as the actor who scheduled it with ``via = 'schedule'``; a change whose target moved
on since is suspended instead, and never applied blindly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hubctl.author import REASON_LIMIT, Author, Capture
from hubctl.db import Connection, Database, audited_transaction
from hubctl.errors import (
    ChangeRequested,
    ConflictError,
    HubError,
    NotFoundError,
    StaleChangeError,
    ValidationError,
    unknown,
)
from hubctl.repository import scheduled as scheduled_sql
from hubctl.repository.rows import Row
from hubctl.services import deferred
from hubctl.services.changes import ChangesCaptured, audited_change
from hubctl.services.history import in_utc
from hubctl.services.recorded import read_changes, to_json
from hubctl.services.rows import RowChange

logger = logging.getLogger(__name__)

STATES = ("scheduled", "applied", "suspended", "cancelled", "failed")
# A change that did not apply may still be cancelled (and so leaves `doctor`'s report).
CANCELLABLE = ("scheduled", "suspended")
# What a change that cannot apply raises (StaleChangeError is a ConflictError).
_REFUSED = (ValidationError, NotFoundError, ConflictError)


@dataclass(frozen=True)
class ScheduledChange:
    """One scheduled change as `schedule list` shows it (``changes``: what it writes).

    ``problem``: why its stored changes cannot be read (then ``changes`` is empty); the scheduler
    marks such a change failed and goes on, doctor names it.
    """

    id: int
    run_at: dt.datetime
    state: str
    summary: str
    command: str
    actor: str
    reason: str | None
    note: str | None
    applied_at: dt.datetime | None
    changes: list[RowChange]
    problem: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> ScheduledChange:
        changes, problem = read_changes(row["changes"])
        return cls(
            id=row["id"],
            run_at=row["run_at"],
            state=row["state"],
            summary=f"unreadable: {problem}" if problem else summarise(changes),
            command=row["command"],
            actor=row["actor"],
            reason=row["reason"],
            note=row["note"],
            applied_at=row["applied_at"],
            changes=changes,
            problem=problem,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for `schedule list -o json/csv/yaml` (the changes as stored)."""
        data = dataclasses.asdict(self)
        data["run_at"] = self.run_at.isoformat()
        data["applied_at"] = self.applied_at.isoformat() if self.applied_at else None
        return data


def summarise(changes: Sequence[RowChange]) -> str:
    """'update exchange group lse (enabled=false)'; more changes are counted after the first."""
    first = changes[0]
    fields = ", ".join(f"{name}={json.dumps(new)}" for name, (_, new) in first.changed.items())
    text = f"{first.action} {first.noun} {first.label}"
    if first.action == "update":
        text += f" ({fields})"
    return text + (f" and {len(changes) - 1} more" if len(changes) > 1 else "")


def parse_run_at(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO time with its zone (2026-12-29T07:00Z, ...T08:00+01:00), later than ``now``."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"at: expected a time with its zone, such as 2026-12-29T07:00Z (got {text!r})"
        ) from None
    if moment.tzinfo is None:
        raise ValidationError(f"at: {text!r} names no zone; add one, e.g. {text.strip()}Z for UTC")
    in_utc(moment, option="at")  # refuses a time the database could store but never give back
    now = now or dt.datetime.now(dt.UTC)
    if moment <= now:
        raise ValidationError(
            f"at: {moment.isoformat()} is in the past (now {now:%Y-%m-%dT%H:%MZ})"
        )
    return moment


def capture_at(run_at: dt.datetime) -> Capture:
    """The write mode that captures a change as it will run at ``run_at``: after the changes
    scheduled before it."""
    return Capture(prepare=functools.partial(_make_pending, run_at=run_at))


def _make_pending(conn: Connection, *, run_at: dt.datetime) -> None:
    """The changes due by ``run_at``, in order; one that would be suspended then is left out."""
    for row in scheduled_sql.due_changes(conn, until=run_at):
        changes, problem = read_changes(row["changes"])
        if problem:  # the scheduler will mark it failed
            continue
        try:
            with scheduled_sql.savepoint(conn):
                deferred.apply_captured(conn, changes)
        except _REFUSED:
            continue


def add(
    database: Database, *, run_at: dt.datetime, command: str, captured: ChangesCaptured | None
) -> ScheduledChange:
    """Store a captured write to apply at ``run_at`` as its author; refuse one that changes
    nothing (or made no audited change at all: ``captured`` None)."""
    if captured is None or not captured.changes:
        raise ValidationError(f"command: nothing to schedule: {command!r} changes nothing")
    author = captured.author
    with audited_transaction(database, author) as conn:
        row = scheduled_sql.insert_change(
            conn,
            run_at=run_at,
            command=command,
            changes=to_json(captured.changes),
            actor=author.actor,
            reason=author.reason,
        )
    return ScheduledChange.from_row(row)


def list_changes(database: Database, *, state: str | None = None) -> list[ScheduledChange]:
    if state is not None and state not in STATES:
        raise unknown("state", "state", state, STATES)
    with database.connect() as conn:
        rows = scheduled_sql.list_changes(conn, states=[state] if state else None)
    return [ScheduledChange.from_row(row) for row in rows]


def suspended(database: Database) -> list[ScheduledChange]:
    """Changes held back because their target moved on (status and doctor report them)."""
    return list_changes(database, state="suspended")


def suspended_by_group(database: Database, groups: Sequence[Row]) -> dict[str, list[int]]:
    """Ids of suspended changes per group they touch (the group, its jobs, its tickers)."""
    group_of_exchange = {exchange: g["group_name"] for g in groups for exchange in g["exchanges"]}
    found: dict[str, list[int]] = {}
    for scheduled in suspended(database):
        for change in scheduled.changes:
            values = change.before or change.after or {}
            group = (
                values.get("group_name")
                or values.get("exchange_group")
                or group_of_exchange.get(values.get("exchange", ""))
            )
            if group is not None and scheduled.id not in found.get(group, []):
                found.setdefault(group, []).append(scheduled.id)
    return found


def cancel(database: Database, *, change_id: int, author: Author) -> ScheduledChange:
    """Cancel a change that has not applied; it is never applied after."""
    with audited_transaction(database, author) as conn:
        row = scheduled_sql.lock_change(conn, change_id=change_id)
        if row is None:
            raise NotFoundError(f"id: no scheduled change #{change_id} (see hubctl schedule list)")
        if row["state"] not in CANCELLABLE:
            raise ConflictError(
                f"id: scheduled change #{change_id} is {row['state']}; only"
                f" {' or '.join(CANCELLABLE)} ones can be cancelled"
            )
        row = scheduled_sql.set_state(
            conn, change_id=change_id, state="cancelled", note=author.reason
        )
    return ScheduledChange.from_row(row)


def apply_due(database: Database, *, now: dt.datetime) -> list[ScheduledChange]:
    """Apply every change due by ``now``, each in its own transaction; what each came to."""
    with database.connect() as conn:
        due = scheduled_sql.due_changes(conn, until=now)
    settled, errors = [], []
    for row in due:
        try:
            change = _apply_one(database, row, now)
        except Exception as error:  # one change's failure must not hold back the ones after it
            logger.exception("scheduled change #%s could not be applied", row["id"])
            errors.append(f"#{row['id']}: {type(error).__name__}: {error}")
            continue
        if change is not None:
            settled.append(change)
    if errors:
        raise HubError(
            f"scheduled changes: {len(settled)} settled, {len(errors)} raised errors and stay"
            f" due: {'; '.join(errors)}"
        )
    return settled


def _apply_one(database: Database, due: Row, now: dt.datetime) -> ScheduledChange | None:
    """Apply one change as its scheduler's actor, or suspend it; None if another runner has it."""
    reason = f"scheduled change #{due['id']}" + (f": {due['reason']}" if due["reason"] else "")
    try:
        with audited_change(database, _scheduler(due, reason)) as conn:
            row = scheduled_sql.lock_due_change(conn, change_id=due["id"], until=now)
            if row is None:
                return None
            changes, problem = read_changes(row["changes"])
            state, note = ("failed", problem) if problem else _apply_or_hold(conn, changes)
            row = scheduled_sql.set_state(conn, change_id=row["id"], state=state, note=note)
    except ChangeRequested as requested:  # a protected group: people approve it, not the clock
        return _settle(database, due, now, note=str(requested))
    return ScheduledChange.from_row(row)


def _scheduler(due: Row, reason: str) -> Author:
    """Who applies a due change: the actor who scheduled it, through the scheduler."""
    return Author(actor=due["actor"], reason=reason[:REASON_LIMIT], via="schedule")


def _settle(database: Database, due: Row, now: dt.datetime, *, note: str) -> ScheduledChange | None:
    """Mark a due change failed with ``note``, in a transaction of its own."""
    with audited_change(database, _scheduler(due, note)) as conn:
        row = scheduled_sql.lock_due_change(conn, change_id=due["id"], until=now)
        if row is None:
            return None
        row = scheduled_sql.set_state(conn, change_id=row["id"], state="failed", note=note)
    return ScheduledChange.from_row(row)


def _apply_or_hold(conn: Connection, changes: list[RowChange]) -> tuple[str, str | None]:
    """('applied', None); ('suspended', why) if a target moved on; ('failed', why) if refused."""
    try:
        with scheduled_sql.savepoint(conn):
            deferred.apply_captured(conn, changes)
    except StaleChangeError as error:
        return "suspended", f"target changed since it was scheduled: {error}"
    except _REFUSED as error:
        return "failed", str(error)
    return "applied", None
