"""Plan and apply a configuration document, and export the database as one.

Applying a document converges the database to the file for the sections the file contains:
rows the file lacks are removed (the plan lists them as removals), sections the file omits are
left alone. The shipped defaults are applied with ``mode="add-missing"`` instead: rows are
created when absent, and nothing that exists is changed or removed, so re-loading the defaults
never undoes an operator's change. Every change goes through hubctl.services.rows, so each
table's write rules apply as they do to `set` and `revert`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hubctl.author import Author
from hubctl.configfile import SECTIONS, ConfigDocument, Mode, reference_problems
from hubctl.db import Connection, Database
from hubctl.errors import ConflictError, ValidationError
from hubctl.repository import rows as row_sql
from hubctl.services import history
from hubctl.services.changes import audited_change
from hubctl.services.rows import RowChange, apply_change, select_records, spec_values
from hubctl.services.rules import with_derived_calendar
from hubctl.tables import GROUPS, ControlTable


def current_document(conn: Connection) -> ConfigDocument:
    return ConfigDocument(
        {
            section: [
                table.spec.model_validate(spec_values(table, record))
                for record in select_records(conn, table=table)
            ]
            for section, table in SECTIONS.items()
        }
    )


def export_document(database: Database, *, at: str | None = None) -> ConfigDocument:
    """Everything the database holds (``at``: held then), as a document `apply` reproduces."""
    with history.connect_at(database, at) as conn:
        return current_document(conn)


def diff(database: Database, *, start: str, end: str) -> Plan:
    """What changed from ``start`` to ``end`` (times, or audit ids), as a plan would show it."""
    start_moment = history.Moment.parse(start, option="from", ids=True)
    end_moment = history.Moment.parse(end, option="to", ids=True)
    with database.connect(snapshot=True) as conn:
        with history.reading(conn, end_moment):
            document = current_document(conn)
        with history.reading(conn, start_moment):
            return _plan(conn, document, "converge")


@dataclass(frozen=True)
class Plan:
    """What applying a document would do, in execution order, and the state it was computed on."""

    changes: tuple[RowChange, ...]
    mode: Mode

    @property
    def fingerprint(self) -> str:
        """Identifies the planned changes and the row versions they were planned against."""
        planned = [[c.table, c.key, c.action, c.version_before, c.after] for c in self.changes]
        encoded = json.dumps(planned, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    change_set: str


def _current_rows(conn: Connection, table: ControlTable) -> dict[str, Any]:
    return {
        table.label(table.key_of(record)): record for record in select_records(conn, table=table)
    }


def _section_changes(
    table: ControlTable, specs: Iterable[Any], current: Mapping[str, Any], mode: Mode
) -> tuple[list[RowChange], list[RowChange]]:
    """(creates and updates, removals) that make ``current`` equal ``specs``."""
    upserts, wanted = [], set()
    for spec in specs:
        key = table.key_of(spec)
        label, after = table.label(key), spec_values(table, spec)
        wanted.add(label)
        record = current.get(label)
        if record is None:
            upserts.append(RowChange(table.name, key, "create", None, after))
        elif mode != "add-missing" and spec_values(table, record) != after:
            upserts.append(
                RowChange(
                    table.name, key, "update", spec_values(table, record), after, record.version
                )
            )
    removals = [
        RowChange(
            table.name,
            table.key_of(record),
            "delete",
            spec_values(table, record),
            None,
            record.version,
        )
        for label, record in current.items()
        if mode == "converge" and label not in wanted
    ]
    return upserts, removals


def _plan(conn: Connection, document: ConfigDocument, mode: Mode) -> Plan:
    current_groups = _current_rows(conn, GROUPS)
    problems = reference_problems(document, list(current_groups), mode, conn)
    if problems:
        raise ValidationError(f"{len(problems)} problem(s): {'; '.join(problems)}")
    upserts: list[RowChange] = []
    removals: list[RowChange] = []
    for _, table, specs in document.sections():
        current = current_groups if table is GROUPS else _current_rows(conn, table)
        if table is GROUPS:  # a group without a calendar gets its exchanges' own when written
            specs = [with_derived_calendar(spec) for spec in specs]
        section_upserts, section_removals = _section_changes(table, specs, current, mode)
        upserts.extend(section_upserts)
        removals[:0] = section_removals  # jobs are removed before the groups they use
    return Plan(tuple(upserts + removals), mode)


def plan_document(database: Database, document: ConfigDocument, *, mode: Mode = "converge") -> Plan:
    """What `apply_document` would change, without changing anything."""
    with database.connect() as conn:
        return _plan(conn, document, mode)


def check_fingerprint(plan: Plan, expected: str | None) -> None:
    """Refuse when the plan is not the one the user approved (the database changed since)."""
    if expected is not None and plan.fingerprint != expected:
        raise ConflictError(
            f"plan: the database changed since the plan was made (fingerprint {expected}, "
            f"now {plan.fingerprint}); nothing was applied, plan again"
        )


def apply_document(
    database: Database,
    document: ConfigDocument,
    *,
    author: Author,
    mode: Mode = "converge",
    expected_fingerprint: str | None = None,
) -> ApplyResult:
    """Apply every change in ONE audited transaction (one change-set id).

    The tables are locked against other writers, the plan is computed again, and with
    ``expected_fingerprint`` (the plan the user approved) the apply is refused if it differs.
    """
    change_set = str(uuid.uuid4())
    with audited_change(database, author, change_set=change_set) as conn:
        row_sql.lock_tables(conn, tables=SECTIONS.values())
        plan = _plan(conn, document, mode)
        check_fingerprint(plan, expected_fingerprint)
        for change in plan.changes:
            apply_change(conn, change)
    return ApplyResult(plan, change_set)
