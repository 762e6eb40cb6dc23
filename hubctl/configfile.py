"""The whole configuration as one YAML document: read, check, dump. No writes happen here.

A document has a section per control table (its ``section`` name in hubctl.tables:
``exchange_groups``, ``jobs``, ``tickers``). Every problem of a file is reported at once, before
anything is written. Planning and applying a document is a service (hubctl.services.documents).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hubctl import yamlio
from hubctl.db import Connection, Database
from hubctl.errors import ValidationError
from hubctl.repository import groups as group_rows
from hubctl.repository import rows as row_sql
from hubctl.tables import CONTROL_TABLES, GROUPS, JOBS, ControlTable
from hubctl.validation import normalized_params, pydantic_problems

# converge: the file's sections become the database's (creates, updates, removals);
# merge: creates and updates only; add-missing: creates only (how the defaults are applied).
Mode = Literal["converge", "merge", "add-missing"]
SECTIONS: dict[str, ControlTable] = {table.section: table for table in CONTROL_TABLES.values()}
DEFAULTS_RESOURCE = "defaults.yaml"


@dataclass(frozen=True)
class ConfigDocument:
    """The configuration as a file holds it: validated specs per section it contains.

    A section left out is not managed by the file (its rows are left alone).
    """

    specs_by_section: Mapping[str, list[Any]] = field(default_factory=dict)

    def specs(self, table: ControlTable) -> list[Any] | None:
        """The section's specs, or None when the document leaves the table alone."""
        return self.specs_by_section.get(table.section)

    def sections(self) -> Iterator[tuple[str, ControlTable, list[Any]]]:
        """(section, table, specs) for each section the document contains, in dependency order."""
        for section, table in SECTIONS.items():
            specs = self.specs_by_section.get(section)
            if specs is not None:
                yield section, table, specs


# ---------------------------------------------------------------- reading and checking a file


Positions = dict[str, list[int]]  # section -> each valid item's index in the file


def _indexes(positions: Positions | None, section: str, specs: list[Any]) -> list[int]:
    return (positions or {}).get(section) or list(range(len(specs)))


def _duplicate_problems(document: ConfigDocument, positions: Positions | None = None) -> list[str]:
    problems = []
    for section, table, specs in document.sections():
        seen: set[str] = set()
        for index, spec in zip(_indexes(positions, section, specs), specs, strict=True):
            label = table.label(table.key_of(spec))
            if label in seen:
                problems.append(f"{section}[{index}]: duplicate {table.noun} {label!r}")
            seen.add(label)
    return problems


def _params_problems(document: ConfigDocument, positions: Positions | None = None) -> list[str]:
    problems = []
    jobs = document.specs(JOBS) or []
    for index, job in zip(_indexes(positions, JOBS.section, jobs), jobs, strict=True):
        try:
            normalized_params(job.dag_name, job.params)
        except ValidationError as error:
            problems.append(f"{JOBS.section}[{index}]: {error}")
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


def _normalize_params(jobs: list[Any] | None) -> None:
    for job in jobs or []:
        job.params = normalized_params(job.dag_name, job.params)


def parse_document(
    data: Any, *, source: str = "document", database: Callable[[], Database] | None = None
) -> ConfigDocument:
    """Validate a parsed YAML document; all of its problems are reported in one ValidationError.

    Whether a job's group exists may depend on the database (a file without an exchange_groups
    section uses the database's groups), so the plan checks references. When the file has other
    problems, its references are checked here too, against the file's groups and, when
    ``database`` is given, the database's (it is called only then), so that every problem is
    listed at once.
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
    document = ConfigDocument(sections)
    problems.extend(
        [*_duplicate_problems(document, positions), *_params_problems(document, positions)]
    )
    if problems:
        problems.extend(_file_reference_problems(data, document, positions, database))
        raise ValidationError(f"{source}: {len(problems)} problem(s): {'; '.join(problems)}")
    _normalize_params(document.specs(JOBS))
    return document


def _file_reference_problems(
    data: Mapping[str, Any],
    document: ConfigDocument,
    positions: Positions,
    database: Callable[[], Database] | None,
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
        return reference_problems(document, (), "converge", None, positions, file_groups)
    if database is None:
        return []
    try:
        with database().connect() as conn:
            current_groups = group_rows.group_names(conn)
            return reference_problems(
                document, current_groups, "converge", conn, positions, file_groups
            )
    except Exception:  # unreachable or not migrated: the file's own problems are reported
        return []


def parse_text(
    text: str, *, source: str = "document", database: Callable[[], Database] | None = None
) -> ConfigDocument:
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as error:
        raise ValidationError(f"{source}: not valid YAML: {' '.join(str(error).split())}") from None
    return parse_document(data, source=source, database=database)


def decode_text(data: bytes, *, source: str, encoding: str = "utf-8") -> str:
    """A file's bytes as text; bytes that are not UTF-8 are one error naming where they are."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValidationError(
            f"{source}: line {line}: byte 0x{data[error.start]:02x} is not valid UTF-8"
        ) from None


def read_text(path: Path, *, encoding: str = "utf-8") -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(f"{path}: cannot read: {error.strerror}") from None
    return decode_text(data, source=str(path), encoding=encoding)


def read_document(path: Path, *, database: Callable[[], Database] | None = None) -> ConfigDocument:
    return parse_text(read_text(path), source=str(path), database=database)


def defaults_text() -> str:
    return resources.files("hubctl").joinpath(DEFAULTS_RESOURCE).read_text(encoding="utf-8")


def load_defaults() -> ConfigDocument:
    """The shipped default configuration (hubctl/defaults.yaml)."""
    return parse_text(defaults_text(), source=DEFAULTS_RESOURCE)


def dump_document(document: ConfigDocument) -> str:
    data = {
        section: [spec.model_dump() for spec in specs] for section, _, specs in document.sections()
    }
    return yamlio.dump(data)


def reference_problems(
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
        file_groups = {group.group_name for group in document.specs(GROUPS) or []}
    replaces_groups = document.specs(GROUPS) is not None and mode == "converge"
    final_groups = set(file_groups) if replaces_groups else {*file_groups, *current_groups}
    known = ", ".join(sorted(final_groups)) or "(none)"
    jobs = document.specs(JOBS) or []
    indexes = _indexes(positions, JOBS.section, jobs)
    problems = [
        f"jobs[{index}].exchange_group: unknown group {job.exchange_group!r}; known: {known}"
        for index, job in zip(indexes, jobs, strict=True)
        if job.exchange_group is not None and job.exchange_group not in final_groups
    ]
    if replaces_groups and document.specs(JOBS) is None and conn is not None:
        for job in row_sql.select_rows(conn, table=JOBS):
            group = job["exchange_group"]
            if group is not None and group not in final_groups:
                problems.append(
                    f"exchange_groups: {group!r} would be removed but job {JOBS.label(job)}"
                    " uses it (add the jobs section or keep the group)"
                )
    return problems
