"""What the Markets page shows per exchange group: `hubctl status`'s row, who changed the group's
own row last (when and why), its open alerts (each with the silence in force, if any), its alert
thresholds, and the last runs of its DAGs that the monitor recorded (the page's charts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hubctl.db import Database
from hubctl.errors import NotFoundError
from hubctl.repository import alerts as alert_rows
from hubctl.repository import monitoring
from hubctl.repository.rows import Row, select_rows
from hubctl.services import alerts, audit, health
from hubctl.settings import Settings
from hubctl.specs import dag_id_for
from hubctl.tables import GROUPS, JOBS

RUNS_LIMIT = 1000  # the most runs a chart asks for

Silences = Mapping[tuple[str, str], str]


def market_status(
    database: Database, *, settings: Settings | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """health.group_status's rows, each with ``last_change`` {id, actor, via, at, reason} (None:
    no audit entry names it), ``open_alerts`` (see ``alert_view``), ``thresholds`` and the
    group row's ``version`` (the threshold form carries it)."""
    rows = health.group_status(database, settings=settings)
    last = audit.last_change_of_groups(database, [row["group"] for row in rows])
    monitoring = _monitoring(database, now or dt.datetime.now(dt.UTC))
    return [
        {
            **row,
            "last_change": _change_summary(last.get(row["group"])),
            **monitoring.get(row["group"], {"open_alerts": [], "thresholds": {}, "version": None}),
        }
        for row in rows
    ]


def _monitoring(database: Database, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per group: its open alerts, thresholds and version, read in one connection."""
    with database.connect() as conn:
        groups = select_rows(conn, table=GROUPS)
        open_alerts = alert_rows.list_alerts(
            conn, open_only=True, group=None, limit=alerts.LIST_LIMIT
        )
        silences = alerts.silences_in_force(conn, now)
    found: dict[str, dict[str, Any]] = {
        group["group_name"]: {
            "open_alerts": [],
            "thresholds": {name: group[name] for name in GROUPS.threshold_fields},
            "version": group["version"],
        }
        for group in groups
    }
    for row in open_alerts:
        if row["exchange_group"] in found:
            view = alert_view(alerts.Alert.from_row(row), silences)
            found[row["exchange_group"]]["open_alerts"].append(view)
    return found


def alert_view(alert: alerts.Alert, silences: Silences) -> dict[str, Any]:
    """An open alert as the page shows it: rule, subject, since, value against threshold, detail,
    and ``silenced_until`` (None: not silenced)."""
    owner = alerts.silence_owner(alert.rule, alert.subject, alert.dag_id, alert.exchange_group)
    return {
        "id": alert.id,
        "rule": alert.rule,
        "subject": alert.subject,
        "since": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "value": alert.value,
        "threshold": alert.threshold,
        "detail": alert.detail,
        "silenced_until": silences.get((alert.rule, owner)),
    }


def market_runs(database: Database, *, group: str, limit: int = 20) -> list[dict[str, Any]]:
    """The ``limit`` newest finished runs of the group's DAGs (every job of the group, enabled
    or not) that hub_monitor recorded, oldest first (the order a chart draws them)."""
    limit = max(1, min(limit, RUNS_LIMIT))
    with database.connect() as conn:
        if not select_rows(conn, table=GROUPS, where={"group_name": group}):
            raise NotFoundError(f"group: no exchange group {group!r}")
        jobs = select_rows(conn, table=JOBS, where={"exchange_group": group})
        dag_ids = [dag_id_for(job["dag_name"], job["job_name"]) for job in jobs]
        runs = monitoring.last_runs(conn, dag_ids=dag_ids, limit=limit)
    return [_run_view(run) for run in reversed(runs)]


def _run_view(run: Row) -> dict[str, Any]:
    times = {name: run[name] and run[name].isoformat() for name in ("start_date", "end_date")}
    return {
        "dag_id": run["dag_id"],
        "run_id": run["run_id"],
        "state": run["state"],
        **times,
        "duration_seconds": run["duration_seconds"],
    }


def _change_summary(entry: audit.AuditEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "id": entry.id,
        "actor": entry.actor,
        "via": entry.via,
        "at": entry.occurred_at.isoformat(),
        "reason": entry.reason,
    }
