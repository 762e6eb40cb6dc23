"""`hubctl status` and `hubctl doctor`: what runs, how fresh the data is, and what is broken."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubctl.airflow_api import AirflowApi, AirflowApiConfig, AirflowApiError
from hubctl.db import Database
from hubctl.repository import status as status_queries
from hubctl.repository.rows import select_rows
from hubctl.settings import Settings
from hubctl.shards import all_shards, is_entry_file, read_build_times, slow_unit_warnings
from hubctl.specs import dag_id_for
from hubctl.tables import GROUPS, JOBS

DEFAULT_MAX_SNAPSHOT_AGE = dt.timedelta(minutes=10)


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after ``start`` up to and including ``end`` (0 when start >= end)."""
    days = (start + dt.timedelta(days=offset) for offset in range(1, (end - start).days + 1))
    return sum(1 for day in days if day.weekday() < 5)


def _airflow(settings: Settings | None) -> AirflowApi | None:
    config = AirflowApiConfig.from_settings(settings)
    return AirflowApi(config) if config else None


def _last_run(api: AirflowApi | None, dag_ids: list[str]) -> str:
    if api is None:
        return "(Airflow API not configured)"
    latest: dict[str, Any] | None = None
    try:
        for dag_id in dag_ids:
            runs = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1&order_by=-run_after")
            for run in runs["dag_runs"]:
                if latest is None or run["run_after"] > latest["run_after"]:
                    latest = run
    except AirflowApiError as error:
        return f"(unknown: {error})"
    return "never" if latest is None else f"{latest['dag_id']}: {latest['state']}"


def group_status(
    database: Database, *, settings: Settings | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Per exchange group: enabled, its DAGs, the latest run, the newest price and its age."""
    today = today or dt.date.today()
    with database.connect() as conn:
        groups = select_rows(conn, table=GROUPS)
        jobs = select_rows(conn, table=JOBS, where={"enabled": True})
        latest = status_queries.latest_trade_dates(conn)
    api = _airflow(settings)
    rows = []
    for group in groups:
        name, enabled = group["group_name"], group["enabled"]
        dag_ids = [
            dag_id_for(job["dag_name"], job["job_name"])
            for job in jobs
            if job["exchange_group"] == name
        ]
        newest = latest.get(name)
        rows.append({
            "group": name,
            "enabled": enabled,
            "dags": dag_ids if enabled else [],
            "last_run": _last_run(api, dag_ids) if enabled and dag_ids else "-",
            "latest_trade_date": newest,
            "stale_business_days": None if newest is None else business_days_between(newest, today),
        })  # fmt: skip
    return rows


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_row(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _check_database(database: Database) -> Check:
    from hubctl import migrations
    from hubctl.db import create_engine

    try:
        revision = migrations.current(create_engine(database.url))
    except Exception as error:  # any failure to connect or read is the finding itself
        return Check("database", False, f"unreachable: {str(error).strip().splitlines()[0]}")
    head = migrations.head()
    if revision != head:
        return Check(
            "database",
            False,
            f"at migration {revision or 'base'}, head is {head}: run `hubctl db upgrade`",
        )
    return Check("database", True, f"reachable, at migration head {head}")


def _check_snapshots(settings: Settings, max_age: dt.timedelta) -> list[Check]:
    """One check per parse unit's snapshot (one file unless HUB_DAG_SHARDS > 1)."""
    base = settings.resolved_snapshot_path
    return [
        _check_snapshot(shard.snapshot_path(base), max_age)
        for shard in all_shards(settings.dag_shards)
    ]


def _check_build_times(settings: Settings) -> Check:
    """The cliff: a unit whose build nears dagbag_import_timeout would make all its DAGs stale."""
    records = read_build_times(settings)
    warnings = slow_unit_warnings(records)
    if warnings:
        return Check("parse units", False, "; ".join(warnings))
    if not records:
        return Check("parse units", True, "no build time recorded yet (no full parse so far)")
    slowest = records[0]
    return Check(
        "parse units",
        True,
        f"{len(records)} unit(s); slowest {slowest['unit']}: {slowest['seconds']:.1f} s of"
        f" {slowest['dagbag_import_timeout']:g} s dagbag_import_timeout",
    )


def _check_snapshot(path: Path, max_age: dt.timedelta) -> Check:
    from hubctl.specs import format_age, read_snapshot

    snapshot = read_snapshot(path)
    if snapshot is None:
        return Check(
            "snapshot",
            False,
            f"none usable at {path}: a database outage would stop the DAG file (it is written on the generator's first successful parse)",
        )
    entries, age = snapshot
    if age > max_age:
        return Check(
            "snapshot",
            False,
            f"{format_age(age)} old ({len(entries)} jobs): is the dag-processor parsing?",
        )
    return Check("snapshot", True, f"{format_age(age)} old, {len(entries)} jobs, at {path}")


def _check_airflow(settings: Settings) -> list[Check]:
    from hubctl.specs import load_specs

    api = _airflow(settings)
    if api is None:
        return [
            Check(
                "airflow",
                False,
                "no Airflow API configured (HUB_AIRFLOW_API_URL, or run `hubctl up`)",
            )
        ]
    try:
        served = {dag["dag_id"] for dag in api.dags() if is_entry_file(dag["fileloc"])}
    except AirflowApiError as error:
        return [Check("airflow", False, str(error))]
    expected = {spec.dag_id for spec in load_specs(settings, save_snapshot=False).specs}
    checks = [Check("airflow", True, f"reachable at {api.config.url}")]
    missing, extra = sorted(expected - served), sorted(served - expected)
    if missing or extra:
        detail = "; ".join(part for part in (
            f"missing in Airflow: {', '.join(missing)}" if missing else "",
            f"in Airflow but not in the configuration: {', '.join(extra)}" if extra else "",
        ) if part)  # fmt: skip
        checks.append(Check("dags", False, detail))
    else:
        checks.append(
            Check("dags", True, f"Airflow serves exactly the {len(expected)} configured DAGs")
        )
    return checks


def doctor(
    database: Database,
    settings: Settings,
    *,
    max_snapshot_age: dt.timedelta = DEFAULT_MAX_SNAPSHOT_AGE,
) -> list[Check]:
    """Every check, in order; the caller decides how to show them and fails if any is not ok."""
    return [
        _check_database(database),
        *_check_snapshots(settings, max_snapshot_age),
        _check_build_times(settings),
        *_check_airflow(settings),
    ]
