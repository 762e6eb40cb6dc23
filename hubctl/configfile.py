"""The whole configuration as one YAML document: load, export, plan and apply.

A document has up to three sections: ``exchange_groups``, ``jobs`` and ``tickers``. Applying it
converges the database to the file for the sections the file contains: rows the file lacks are
removed (the plan lists them as removals), sections the file omits are left alone. The shipped
defaults are applied with ``mode="add-missing"`` instead: rows are created when absent, and
nothing that exists is changed or removed, so re-loading the defaults never undoes an operator's
change. Every problem of a file is reported at once, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import ValidationError as PydanticValidationError

from hubctl import yamlio
from hubctl.db import audited_transaction
from hubctl.errors import ConflictError, ValidationError
from hubctl.repository import groups as group_rows
from hubctl.repository import tables
from hubctl.repository.tables import GROUPS, JOBS, TICKERS, AnyConnection, ControlTable
from hubctl.schemas import DagConfigSpec, ExchangeGroupSpec, TickerSpec
from hubctl.services.rows import RowChange, execute_change, spec_values
from hubctl.services.validation import normalized_params, pydantic_problems

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from hubctl.db import Connectable

# converge: the file's sections become the database's (creates, updates, removals);
# merge: creates and updates only; add-missing: creates only (how the defaults are applied).
Mode = Literal["converge", "merge", "add-missing"]
SECTIONS: dict[str, ControlTable[Any]] = {
    "exchange_groups": GROUPS,
    "jobs": JOBS,
    "tickers": TICKERS,
}
DEFAULTS_RESOURCE = "defaults.yaml"


class ConfigDocument(BaseModel):
    """The configuration as a file holds it; a section left out (None) is not managed by the file."""

    model_config = ConfigDict(extra="forbid")

    exchange_groups: list[ExchangeGroupSpec] | None = None
    jobs: list[DagConfigSpec] | None = None
    tickers: list[TickerSpec] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ConfigDocument:
        problems = [*_duplicate_problems(self), *_params_problems(self)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def sections(self) -> Iterator[tuple[str, ControlTable[Any], list[Any]]]:
        """(section, table, specs) for each section the document contains, in dependency order."""
        for section, table in SECTIONS.items():
            specs = getattr(self, section)
            if specs is not None:
                yield section, table, specs


# ---------------------------------------------------------------- reading and checking a file


Positions = dict[str, list[int]]  # section -> each valid item's index in the file


def _duplicate_problems(document: ConfigDocument, positions: Positions | None = None) -> list[str]:
    problems = []
    for section, table, specs in document.sections():
        seen: set[str] = set()
        indexes = (positions or {}).get(section) or list(range(len(specs)))
        for index, spec in zip(indexes, specs, strict=True):
            label = table.label(table.key_of(spec))
            if label in seen:
                problems.append(f"{section}[{index}]: duplicate {table.noun} {label!r}")
            seen.add(label)
    return problems


def _params_problems(document: ConfigDocument, positions: Positions | None = None) -> list[str]:
    problems = []
    jobs = document.jobs or []
    indexes = (positions or {}).get("jobs") or list(range(len(jobs)))
    for index, job in zip(indexes, jobs, strict=True):
        try:
            normalized_params(job.dag_name, job.params)
        except ValidationError as error:
            problems.append(f"jobs[{index}]: {error}")
    return problems


def _valid_items(
    section: str, model: type[BaseModel], items: Any
) -> tuple[list[Any], list[int], list[str]]:
    """(the valid items, their indexes in the file, the problems of the others)."""
    if not isinstance(items, list):
        return [], [], [f"{section}: expected a list (write [] for none)"]
    valid, indexes, problems = [], [], []
    for index, item in enumerate(items):
        try:
            valid.append(model.model_validate(item))
            indexes.append(index)
        except PydanticValidationError as error:
            problems.extend(pydantic_problems(error, prefix=f"{section}[{index}]"))
    return valid, indexes, problems


def _normalize_params(jobs: list[DagConfigSpec] | None) -> None:
    for job in jobs or []:
        job.params = normalized_params(job.dag_name, job.params)


def parse_document(
    data: Any, *, source: str = "document", database: Callable[[], Engine] | None = None
) -> ConfigDocument:
    """Validate a parsed YAML document; all of its problems are reported in one ValidationError.

    Whether a job's group exists may depend on the database (a file without an exchange_groups
    section uses the database's groups), so the plan checks references. When the file has other
    problems, its references are checked here too, against the file's groups and, when
    ``database`` is given, the database's, so that every problem is listed at once.
    """
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: expected a mapping with keys {', '.join(SECTIONS)}")
    problems = [
        f"unknown key {key!r}; valid keys: {', '.join(SECTIONS)}"
        for key in data
        if key not in SECTIONS
    ]
    sections: dict[str, list[Any]] = {}
    positions: Positions = {}
    for section, table in SECTIONS.items():
        if section in data:
            sections[section], positions[section], found = _valid_items(
                section, table.spec, data[section]
            )
            problems.extend(found)
    document = ConfigDocument.model_construct(**sections)  # type: ignore[arg-type]
    problems.extend(
        [*_duplicate_problems(document, positions), *_params_problems(document, positions)]
    )
    if problems:
        problems.extend(_file_reference_problems(data, document, positions, database))
        raise ValidationError(f"{source}: {len(problems)} problem(s): {'; '.join(problems)}")
    _normalize_params(document.jobs)
    return document


def _file_reference_problems(
    data: Mapping[str, Any],
    document: ConfigDocument,
    positions: Positions,
    database: Callable[[], Engine] | None,
) -> list[str]:
    """The unknown groups of a file that has other problems (files converge: mode "converge").

    A group the file defines counts even when its entry is invalid (that entry has its own
    problem). When the database is needed but cannot be read, these problems wait for the plan.
    """
    referenced = [section for section in ("exchange_groups", "jobs") if section in data]
    if not referenced or any(not isinstance(data[section], list) for section in referenced):
        return []  # no references, or a section that is not a list (already reported)
    file_groups = {
        item["group_name"]
        for item in data.get("exchange_groups", [])
        if isinstance(item, dict) and isinstance(item.get("group_name"), str)
    }
    if len(referenced) == 2:  # the file's groups are all the groups there will be
        return _reference_problems(document, (), "converge", None, positions, file_groups)
    if database is None:
        return []
    try:
        with database().connect() as conn:
            current_groups = group_rows.group_names(conn)
            return _reference_problems(
                document, current_groups, "converge", conn, positions, file_groups
            )
    except Exception:  # unreachable or not migrated: the file's own problems are reported
        return []


def parse_text(
    text: str, *, source: str = "document", database: Callable[[], Engine] | None = None
) -> ConfigDocument:
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as error:
        raise ValidationError(f"{source}: not valid YAML: {' '.join(str(error).split())}") from None
    return parse_document(data, source=source, database=database)


def read_document(path: Path, *, database: Callable[[], Engine] | None = None) -> ConfigDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError(f"{path}: cannot read: {error.strerror}") from None
    return parse_text(text, source=str(path), database=database)


def defaults_text() -> str:
    return resources.files("hubctl").joinpath(DEFAULTS_RESOURCE).read_text(encoding="utf-8")


def load_defaults() -> ConfigDocument:
    """The shipped default configuration (hubctl/defaults.yaml)."""
    return parse_text(defaults_text(), source=DEFAULTS_RESOURCE)


# ---------------------------------------------------------------- export


def current_document(conn: AnyConnection) -> ConfigDocument:
    sections = {
        section: [
            table.spec.model_validate(spec_values(table, record))
            for record in tables.select_records(conn, table=table)
        ]
        for section, table in SECTIONS.items()
    }
    return ConfigDocument.model_construct(**sections)  # type: ignore[arg-type]


def export_document(engine: Connectable) -> ConfigDocument:
    """Everything the database holds, as a document that `apply` reproduces exactly."""
    with engine.connect() as conn:
        return current_document(conn)


def dump_document(document: ConfigDocument) -> str:
    data = {
        section: [spec.model_dump() for spec in specs] for section, _, specs in document.sections()
    }
    return yamlio.dump(data)


# ---------------------------------------------------------------- plan


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


def _current_rows(conn: AnyConnection, table: ControlTable[Any]) -> dict[str, Any]:
    return {
        table.label(table.key_of(record)): record
        for record in tables.select_records(conn, table=table)
    }


def _section_changes(
    table: ControlTable[Any], specs: Iterable[Any], current: Mapping[str, Any], mode: Mode
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


def _reference_problems(
    document: ConfigDocument,
    current_groups: Collection[str],
    mode: Mode,
    conn: Connection | None,
    positions: Positions | None = None,
    file_groups: Collection[str] | None = None,
) -> list[str]:
    """Jobs must name a group that exists after the apply; a removed group must not be in use.

    ``positions`` and ``file_groups`` describe a file only partly valid: each valid job's index in
    the file, and every group name the file defines (valid entries or not).
    """
    if file_groups is None:
        file_groups = {group.group_name for group in document.exchange_groups or []}
    replaces_groups = document.exchange_groups is not None and mode == "converge"
    final_groups = set(file_groups) if replaces_groups else {*file_groups, *current_groups}
    known = ", ".join(sorted(final_groups)) or "(none)"
    jobs = document.jobs or []
    indexes = (positions or {}).get("jobs") or list(range(len(jobs)))
    problems = [
        f"jobs[{index}].exchange_group: unknown group {job.exchange_group!r}; known: {known}"
        for index, job in zip(indexes, jobs, strict=True)
        if job.exchange_group is not None and job.exchange_group not in final_groups
    ]
    if replaces_groups and document.jobs is None and conn is not None:
        for job in tables.select_records(conn, table=JOBS):
            if job.exchange_group is not None and job.exchange_group not in final_groups:
                problems.append(
                    f"exchange_groups: {job.exchange_group!r} would be removed but job "
                    f"{job.dag_name}/{job.job_name} uses it (add the jobs section or keep the group)"
                )
    return problems


def _plan(conn: Connection, document: ConfigDocument, mode: Mode) -> Plan:
    current_groups = _current_rows(conn, GROUPS)
    problems = _reference_problems(document, list(current_groups), mode, conn)
    if problems:
        raise ValidationError(f"{len(problems)} problem(s): {'; '.join(problems)}")
    upserts: list[RowChange] = []
    removals: list[RowChange] = []
    for _, table, specs in document.sections():
        current = current_groups if table is GROUPS else _current_rows(conn, table)
        section_upserts, section_removals = _section_changes(table, specs, current, mode)
        upserts.extend(section_upserts)
        removals[:0] = section_removals  # jobs are removed before the groups they use
    return Plan(tuple(upserts + removals), mode)


def plan_document(engine: Engine, document: ConfigDocument, *, mode: Mode = "converge") -> Plan:
    """What `apply_document` would change, without changing anything."""
    with engine.connect() as conn:
        return _plan(conn, document, mode)


def check_fingerprint(plan: Plan, expected: str | None) -> None:
    """Refuse when the plan is not the one the user approved (the database changed since)."""
    if expected is not None and plan.fingerprint != expected:
        raise ConflictError(
            f"plan: the database changed since the plan was made (fingerprint {expected}, "
            f"now {plan.fingerprint}); nothing was applied, plan again"
        )


def apply_document(
    engine: Engine,
    document: ConfigDocument,
    *,
    actor: str,
    reason: str | None,
    mode: Mode = "converge",
    expected_fingerprint: str | None = None,
) -> ApplyResult:
    """Apply every change in ONE audited transaction (one change-set id).

    The tables are locked against other writers, the plan is computed again, and with
    ``expected_fingerprint`` (the plan the user approved) the apply is refused if it differs.
    """
    change_set = str(uuid.uuid4())
    with audited_transaction(engine, actor=actor, reason=reason, change_set=change_set) as conn:
        tables.lock_tables(conn, tables=SECTIONS.values())
        plan = _plan(conn, document, mode)
        check_fingerprint(plan, expected_fingerprint)
        for change in plan.changes:
            execute_change(conn, change)
    return ApplyResult(plan, change_set)
