"""Alerts: the records of thresholds crossed (open, touched, resolved), silences, source fetches.

An evaluation (hubctl.monitoring) hands its ``Finding``s to ``reconcile``: one alert per
(rule, subject) opens and queues one ``opened`` delivery, is touched while the finding holds, and
resolves (one ``resolved`` delivery) when it no longer does. Alerts are operational state, not
audited. A silence is a field of the job or the group whose threshold it is (hubctl.tables), so
``silence`` is an ordinary audited row change: four-eyes makes it a request on a protected group.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubctl.author import TEXT_LIMIT, Author
from hubctl.db import Connection, Database
from hubctl.errors import NotFoundError, ValidationError
from hubctl.repository import alerts as alert_rows
from hubctl.repository.rows import Row, select_rows
from hubctl.services.changes import audited_change
from hubctl.services.row_change import RowChange
from hubctl.tables import GROUP_RULES, GROUPS, JOB_RULES, JOBS, ControlTable, silence_until

RULES = JOB_RULES | GROUP_RULES
LIST_LIMIT = 1000  # `alerts list` shows the most recent this many


@dataclass(frozen=True)
class Finding:
    """A threshold crossed now: ``value`` measured against ``threshold`` for ``subject``.

    ``subject``: a dag_id (failure_rate), ``dag_id/task_id`` (task_duration) or a group name
    (data_late, source_unreachable); ``exchange_group``/``dag_id``: what it belongs to, if known.
    """

    rule: str
    subject: str
    exchange_group: str | None
    dag_id: str | None
    value: float
    threshold: float
    detail: str = ""


@dataclass(frozen=True)
class Alert:
    """One alert record (hub.alerts); ``resolved_at`` None while it is open."""

    id: int
    rule: str
    subject: str
    exchange_group: str | None
    dag_id: str | None
    value: float
    threshold: float
    detail: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Alert:
        return cls(**row)


@dataclass(frozen=True)
class Transitions:
    """What one reconcile did: alerts opened, still holding (touched), resolved; and the
    findings a silence kept from opening."""

    opened: tuple[Alert, ...]
    touched: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    silenced: tuple[Finding, ...]


def reconcile(
    database: Database,
    *,
    rules: frozenset[str],
    findings: Sequence[Finding],
    now: dt.datetime,
) -> Transitions:
    """Make the alert records agree with ``findings``, in one transaction (see the module doc).

    ``rules``: the rules these findings are complete for; an open alert of one of them without a
    finding resolves. A finding of another rule (a single DeadlineAlert callback: rules empty)
    only opens or touches.
    """
    _check_findings(findings)
    with database.transaction() as conn:
        return _reconcile(conn, rules=rules, findings=_unique(findings), now=now)


def _reconcile(
    conn: Connection, *, rules: frozenset[str], findings: Sequence[Finding], now: dt.datetime
) -> Transitions:
    found_rules = rules | {finding.rule for finding in findings}
    open_ids = {
        (row["rule"], row["subject"]): row["id"]
        for row in alert_rows.open_alerts(conn, rules=found_rules)
    }
    holding = [item for item in findings if (item.rule, item.subject) in open_ids]
    new = [item for item in findings if (item.rule, item.subject) not in open_ids]
    silenced_now = silenced_subjects(conn, now)
    silenced = tuple(item for item in new if _is_silenced(item, silenced_now))
    to_open = [item for item in new if not _is_silenced(item, silenced_now)]
    seen = {(item.rule, item.subject) for item in findings}
    gone = [alert_id for key, alert_id in open_ids.items() if key[0] in rules and key not in seen]
    opened = alert_rows.insert_alerts(conn, findings=to_open, now=now)
    alert_rows.queue_deliveries(conn, alert_ids=_ids(opened), event="opened", now=now)
    touched = alert_rows.touch_alerts(
        conn, ids=[open_ids[(f.rule, f.subject)] for f in holding], findings=holding, now=now
    )
    resolved = alert_rows.resolve_alerts(conn, ids=gone, now=now)
    alert_rows.queue_deliveries(conn, alert_ids=_ids(resolved), event="resolved", now=now)
    return Transitions(_alerts(opened), _alerts(touched), _alerts(resolved), silenced)


def _check_findings(findings: Sequence[Finding]) -> None:
    for finding in findings:
        _check_rule(finding.rule)


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValidationError(f"rule: {rule!r} is not one of {', '.join(sorted(RULES))}")


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per (rule, subject) (the last), with details the database can hold."""
    by_key = {(item.rule, item.subject): item for item in findings}
    return [
        item if len(item.detail) <= TEXT_LIMIT and "\x00" not in item.detail else _shortened(item)
        for item in by_key.values()
    ]


def _shortened(finding: Finding) -> Finding:
    return dataclasses.replace(finding, detail=finding.detail.replace("\x00", "\\0")[:TEXT_LIMIT])


def _ids(rows: Sequence[Row]) -> list[int]:
    return [int(row["id"]) for row in rows]


def _alerts(rows: Sequence[Row]) -> tuple[Alert, ...]:
    return tuple(Alert.from_row(row) for row in rows)


# ---------------------------------------------------------------------------------- silences


def silenced_subjects(conn: Connection, now: dt.datetime) -> set[tuple[str, str]]:
    """(rule, dag_id) of the jobs and (rule, group_name) of the groups silenced at ``now``."""
    return set(silences_in_force(conn, now))


def silences_in_force(conn: Connection, now: dt.datetime) -> dict[tuple[str, str], str]:
    """(rule, dag_id or group_name) -> the "until" of each silence not yet expired at ``now``."""
    # deferred: hubctl.specs brings pydantic (~140 ms); `alerts list` must not pay for it
    from hubctl.specs import dag_id_for

    found: dict[tuple[str, str], str] = {}
    for row in alert_rows.silences(conn):
        owner = (
            row["group_name"]
            if row["kind"] == "group"
            else dag_id_for(row["dag_name"], row["job_name"])
        )
        for rule, until in row["silences"].items():
            moment = silence_until(until)
            if moment is not None and moment > now:
                found[(rule, owner)] = until
    return found


def silence_owner(rule: str, subject: str, dag_id: str | None, group: str | None) -> str:
    """Whose ``silences`` field holds ``rule``'s silence for ``subject``: a dag_id (job rules) or
    a group name."""
    owner = dag_id if rule in JOB_RULES else group
    return owner or subject.split("/")[0]


def _is_silenced(finding: Finding, silenced: set[tuple[str, str]]) -> bool:
    owner = silence_owner(finding.rule, finding.subject, finding.dag_id, finding.exchange_group)
    return (finding.rule, owner) in silenced


def silence(
    database: Database,
    author: Author,
    *,
    rule: str,
    subject: str,
    until: str,
    now: dt.datetime,
) -> RowChange:
    """Silence ``rule`` for ``subject`` until ``until`` (ISO 8601 with a zone): an audited change
    of the ``silences`` field of the subject's job (a dag_id, or ``dag_id/task_id`` for
    task_duration) or group. A protected group's change becomes a request (ChangeRequested)."""
    _check_silence(rule, until, now)
    table = JOBS if rule in JOB_RULES else GROUPS
    with audited_change(database, author) as conn:
        key = _silenced_row(conn, rule, subject)
        return _set_silence(conn, table, key, rule, until)


def _check_silence(rule: str, until: str, now: dt.datetime) -> None:
    _check_rule(rule)
    moment = silence_until(until)
    if moment is None:
        raise ValidationError(
            f"until: {until!r} is not an ISO 8601 time with a zone (e.g. 2026-12-08T09:00:00Z)"
        )
    if moment <= now:
        raise ValidationError(f"until: {until} is not in the future")


def _silenced_row(conn: Connection, rule: str, subject: str) -> dict[str, str]:
    """The key of the row holding ``rule``'s silence for ``subject``; NotFoundError if none."""
    # deferred: hubctl.specs brings pydantic (~140 ms); `alerts list` must not pay for it
    from hubctl.specs import candidate_keys

    if rule in GROUP_RULES:
        if select_rows(conn, table=GROUPS, where={"group_name": subject}):
            return {"group_name": subject}
        raise NotFoundError(f"subject: no exchange group {subject!r} ({rule} is per group)")
    dag_id, _, task_id = subject.partition("/")
    if (rule == "task_duration") != bool(task_id):
        shape = "DAG_ID/TASK_ID" if rule == "task_duration" else "a DAG_ID"
        raise ValidationError(f"subject: {rule} takes {shape}, not {subject!r}")
    for dag_name, job_name in candidate_keys(dag_id):
        key = {"dag_name": dag_name, "job_name": job_name}
        if select_rows(conn, table=JOBS, where=key):
            return key
    raise NotFoundError(f"subject: no job makes DAG {dag_id!r}")


def _set_silence(
    conn: Connection, table: ControlTable, key: Mapping[str, str], rule: str, until: str
) -> RowChange:
    # deferred: pydantic (~50 ms) for the row's validation; `alerts list` must not pay for it
    from hubctl.services import rows

    def edit(current: dict[str, Any]) -> dict[str, Any]:
        return {**current, "silences": {**current["silences"], rule: until}}

    return rows.update_row(conn, table=table, key=key, edit=edit)


# ---------------------------------------------------------------------------------- reads


def list_alerts(
    database: Database, *, open_only: bool = False, group: str | None = None
) -> list[Alert]:
    """Open alerts first, then resolved ones, newest first (at most LIST_LIMIT)."""
    with database.connect() as conn:
        rows = alert_rows.list_alerts(conn, open_only=open_only, group=group, limit=LIST_LIMIT)
    return [Alert.from_row(row) for row in rows]


def open_alert_counts(database: Database) -> dict[str, dict[str, int]]:
    """Per exchange group ('' for alerts of no group): open alerts per rule."""
    with database.connect() as conn:
        return open_alert_counts_in(conn)


def open_alert_counts_in(conn: Connection) -> dict[str, dict[str, int]]:
    """open_alert_counts on the caller's connection (status reads it with the rest)."""
    counts: dict[str, dict[str, int]] = {}
    for row in alert_rows.open_counts(conn):
        counts.setdefault(row["exchange_group"], {})[row["rule"]] = row["open"]
    return counts


def record_fetch(
    database: Database,
    *,
    exchange_group: str,
    dag_id: str | None = None,
    run_id: str | None = None,
    error: str | None = None,
) -> int:
    """Record one source call of a collection batch: ok when ``error`` is None; its id."""
    with database.transaction() as conn:
        return record_fetch_in(
            conn, exchange_group=exchange_group, dag_id=dag_id, run_id=run_id, error=error
        )


def record_fetch_in(
    conn: Connection,
    *,
    exchange_group: str,
    dag_id: str | None,
    run_id: str | None,
    error: str | None,
) -> int:
    """record_fetch in the caller's transaction."""
    text = None if error is None else error.replace("\x00", "\\0")[:TEXT_LIMIT]
    return alert_rows.record_fetch(
        conn, exchange_group=exchange_group, dag_id=dag_id, run_id=run_id, ok=error is None,
        error=text,
    )  # fmt: skip
