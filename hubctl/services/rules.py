"""Each control table's own write rules, applied by every write path (hubctl.services.rows).

``prepare`` normalises and checks a validated spec against the database before it is written
(``before`` is None for a new row); ``guard`` may refuse a removal. Set, enable/disable, add,
apply and revert all write through hubctl.services.rows, which looks the rules up here, so no
path can skip them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hubctl import calendars
from hubctl.db import Connection
from hubctl.errors import ConflictError, ValidationError
from hubctl.repository import groups as group_rows
from hubctl.schemas import ExchangeGroupSpec, JobSpec
from hubctl.services.reads import require_group
from hubctl.tables import GROUPS, JOBS, ControlTable
from hubctl.validation import normalized_params

Prepare = Callable[[Connection, Any, Any], Any]
Guard = Callable[[Connection, Mapping[str, Any]], None]


@dataclass(frozen=True)
class WriteRules:
    prepare: Prepare | None = None
    guard: Guard | None = None


def prepare_job(conn: Connection, spec: JobSpec, before: JobSpec | None) -> JobSpec:
    """A known pipeline with valid params (normalised) and an existing group."""
    if before is None or spec.params != before.params or spec.dag_name != before.dag_name:
        spec = spec.model_copy(update={"params": normalized_params(spec.dag_name, spec.params)})
    changed_group = before is None or spec.exchange_group != before.exchange_group
    if changed_group and spec.exchange_group is not None:
        require_group(conn, spec.exchange_group)
    return spec


def prepare_group(
    conn: Connection, spec: ExchangeGroupSpec, before: ExchangeGroupSpec | None
) -> ExchangeGroupSpec:
    """A timezone both timezone databases know: Python's zoneinfo (the spec checked that), which
    schedules DAGs, and the server's, which the CHECK consults; their tzdata versions may differ."""
    changed = before is None or spec.primary_timezone != before.primary_timezone
    if changed and not group_rows.database_knows_timezone(conn, name=spec.primary_timezone):
        raise ValidationError(
            f"primary_timezone: {spec.primary_timezone!r} is known to Python's zoneinfo but not"
            " to the database server's timezone list (pg_timezone_names); use another name for"
            " the same zone, or update the server's tzdata"
        )
    return spec.model_copy(update={"calendar": group_calendar(spec, before)})


def group_calendar(spec: ExchangeGroupSpec, before: ExchangeGroupSpec | None) -> str:
    """The calendar to store: the one named, else the exchanges' own (also when the exchanges
    change under a calendar that was only derived from them), and always one the library knows."""
    name = spec.calendar
    followed_exchanges = (
        before is not None
        and name == before.calendar == calendars.derived_calendar(before.exchanges)
    )
    if followed_exchanges and before is not None and spec.exchanges != before.exchanges:
        name = None
    name = name or calendars.derived_calendar(spec.exchanges)
    if name is None:
        raise ValidationError(calendars.no_calendar_message(spec.exchanges))
    # Asking the library costs its import (pandas, ~1 s): only for a name just chosen by hand.
    chosen = name != (before.calendar if before else None) and name != calendars.WEEKDAY
    if (
        chosen
        and name not in calendars.EXCHANGE_CALENDARS.values()
        and name not in calendars.known_calendars()
    ):
        raise ValidationError(
            f"calendar: {name!r} is not a calendar exchange_calendars knows (e.g. XNYS, XLON,"
            f" XETR, XPAR) nor {calendars.WEEKDAY!r}"
        )
    unusable = calendars.unusable_reason(name) if chosen else None
    if unusable:
        raise ValidationError(f"calendar: exchange_calendars cannot build {name}: {unusable}")
    return name


def with_derived_calendar(spec: ExchangeGroupSpec) -> ExchangeGroupSpec:
    """``spec`` with the calendar it would be written with when it names none (if derivable)."""
    if spec.calendar is not None:
        return spec
    return spec.model_copy(update={"calendar": calendars.derived_calendar(spec.exchanges)})


def guard_unused_group(conn: Connection, key: Mapping[str, Any]) -> None:
    """A group that jobs still use cannot be removed (the foreign key says so too)."""
    jobs = group_rows.jobs_using(conn, group_name=key["group_name"])
    if jobs:
        raise ConflictError(
            f"group_name: group {key['group_name']!r} is used by {', '.join(jobs)};"
            " remove those jobs (hubctl config remove) or disable the group instead"
        )


_RULES = {
    JOBS.name: WriteRules(prepare=prepare_job),
    GROUPS.name: WriteRules(prepare=prepare_group, guard=guard_unused_group),
}


def rules_for(table: ControlTable) -> WriteRules:
    return _RULES.get(table.name, WriteRules())
