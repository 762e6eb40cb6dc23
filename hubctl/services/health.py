"""`hubctl status` and `hubctl doctor`: what runs, how fresh the data is, and what is broken."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubctl import calendars
from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import Database
from hubctl.errors import HubError
from hubctl.listener import HEARTBEAT_SECONDS
from hubctl.repository import listener as listener_queries
from hubctl.repository import status as status_queries
from hubctl.repository.rows import Row, select_rows
from hubctl.services import alerts
from hubctl.settings import Settings
from hubctl.shards import all_shards, is_entry_file, read_build_times, slow_unit_warnings
from hubctl.specs import dag_id_for, format_age, load_specs, read_snapshot
from hubctl.tables import GROUPS

if TYPE_CHECKING:
    from hubctl.specs import DagSpec, LoadResult, Rejected

DEFAULT_MAX_SNAPSHOT_AGE = dt.timedelta(minutes=10)
# A listener is gone after three heartbeat periods without one, and stuck when the oldest change
# it has not passed on to Airflow waited longer than this (since its start, at most).
LISTENER_SILENT_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
LISTENER_BEHIND_GRACE_SECONDS = 60.0
START_LISTENER = (
    "start `hubctl listen` beside Airflow (compose: the hub-listener service; `hubctl up` runs it)"
)
Explain = Callable[[Sequence["DagSpec"]], list["Rejected"]]


def _latest_run(api: AirflowApi, dag_ids: list[str]) -> dict[str, Any] | None:
    """The newest run of any of ``dag_ids``: its dag_id, dag_run_id, state (None: never ran).

    One batch request for the whole group (a group of 10,000 jobs is one call, not 10,000)."""
    body = {"dag_ids": dag_ids, "order_by": "-run_after", "page_limit": 1}
    runs = api.call("POST", "/api/v2/dags/~/dagRuns/list", body)["dag_runs"]
    if not runs:
        return None
    return {name: runs[0].get(name) for name in ("dag_id", "dag_run_id", "state", "run_after")}


def _last_run(api: AirflowApi | None, dag_ids: list[str]) -> tuple[str, dict[str, Any] | None]:
    """The latest run as a line for people, and as a record the page links to the run with."""
    if api is None:
        return "(Airflow API not configured)", None
    try:
        latest = _latest_run(api, dag_ids)
    except AirflowApiError as error:
        return f"(unknown: {error})", None
    return ("never", None) if latest is None else (f"{latest['dag_id']}: {latest['state']}", latest)


def generated_dags(groups: list[Row], jobs: list[Row]) -> dict[str, list[str]]:
    """Per exchange group, the DAGs the hub generates for it (none while the group is disabled)."""
    return {
        group["group_name"]: [
            dag_id_for(job["dag_name"], job["job_name"])
            for job in jobs
            if job["exchange_group"] == group["group_name"] and job["enabled"]
        ]
        if group["enabled"]
        else []
        for group in groups
    }


def stale_sessions(calendar: str, newest: dt.date | None, today: dt.date) -> int | None:
    """Trading sessions of ``calendar`` that ended after ``newest``, the newest price's date
    (a holiday does not count); None: the group has no prices at all."""
    return None if newest is None else calendars.sessions_missed(calendar, newest, today)


# Airflow API requests a status read sends at once (each group's latest run, and the pauses): one
# after the other they were most of the Markets page's read, about 0.1 s each.
AIRFLOW_REQUESTS_AT_ONCE = 4


def group_status(
    database: Database, *, settings: Settings | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Per exchange group: enabled, its DAGs, the latest run, the newest price and its age in
    trading sessions of the group's calendar (a holiday does not age it), the scheduled changes
    about it that are suspended, and its DAGs paused in Airflow."""
    # deferred: > 50 ms of models; only doctor needs them, `hubctl status` does not
    from hubctl.services import schedule

    today = today or dt.date.today()
    with database.connect() as conn:
        groups = select_rows(conn, table=GROUPS)
        dags = generated_dags(groups, status_queries.generating_jobs(conn))
        latest = status_queries.latest_trade_dates(conn)
        open_alerts = alerts.open_alert_counts_in(conn)
    api = AirflowApi.from_settings(settings)
    suspended = schedule.suspended_by_group(database, groups)
    with ThreadPoolExecutor(max_workers=AIRFLOW_REQUESTS_AT_ONCE) as pool:
        pausing = pool.submit(airflow_pauses, api, [dag for ids in dags.values() for dag in ids])
        running = {name: pool.submit(_last_run, api, ids) for name, ids in dags.items() if ids}
    pauses, last_runs = pausing.result(), {name: ran.result() for name, ran in running.items()}
    rows = []
    for group in groups:
        name = group["group_name"]
        newest = latest.get(name)
        last_run, run = last_runs.get(name, ("-", None))
        rows.append({
            "group": name,
            "enabled": group["enabled"],
            "approvals_required": group["approvals_required"],
            "dags": dags[name],
            "last_run": last_run,
            "last_run_record": run,
            "latest_trade_date": newest,
            "calendar": group["calendar"],
            "stale_sessions": stale_sessions(group["calendar"], newest, today),
            "suspended_changes": suspended.get(name, []),
            "alerts": sum(open_alerts.get(name, {}).values()),
            "alert_rules": sorted(open_alerts.get(name, {})),
            "paused_in_airflow": pauses_shown(dags[name], pauses),
        })  # fmt: skip
    return rows


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # A finding that does not make the whole check fail (doctor still exits 0).
    warning: bool = False

    def as_row(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def _check_database(database: Database) -> Check:
    # deferred: Alembic and SQLAlchemy (~0.3 s); only the schema commands need them
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


def _check_login(database: Database) -> Check:
    """hubctl should run as a member of hub_operator that owns nothing: the owner or a superuser
    could disable the audit triggers (docs/audit.md)."""
    try:
        with database.connect() as conn:
            powers = status_queries.login_powers(conn)
    except Exception as error:  # the database check reports the cause
        return Check("login", False, f"unknown: {str(error).strip().splitlines()[0]}", True)
    login = powers["login"]
    power = (
        "a superuser"
        if powers["superuser"]
        else "the owner of schema hub"
        if powers["owner"]
        else ""
    )
    if power:
        return Check(
            "login",
            False,
            f"hubctl connects as {login}, {power}, who could disable the audit triggers: connect"
            " as a login in hub_operator (HUB_DATABASE_URL) and migrate with"
            " HUB_MIGRATION_DATABASE_URL (docs/deploy.md)",
            warning=True,
        )
    return Check("login", True, f"hubctl connects as {login}, which owns nothing in schema hub")


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


def _check_break_glass(database: Database) -> list[Check]:
    """One failing check per break-glass change nobody has acknowledged yet (docs/governance.md)."""
    # deferred: > 50 ms of models; only doctor needs them, `hubctl status` does not
    from hubctl.services.requests import unacknowledged_break_glass

    try:
        pending = unacknowledged_break_glass(database)
    except Exception as error:  # the database check reports the cause
        return [Check("break-glass", False, f"unknown: {str(error).strip().splitlines()[0]}", True)]
    return [
        Check(
            f"break-glass {item.change_set}",
            False,
            f"{item.actor} wrote {item.entries} row change(s) past four-eyes at"
            f" {item.occurred_at:%Y-%m-%d %H:%M:%S %Z} ({item.reason}); review it, then"
            f" `hubctl requests ack-break-glass {item.change_set} -m ...`",
        )
        for item in pending
    ]


def _check_listener(database: Database) -> Check:
    """Do changes reach Airflow: a listener with a recent heartbeat that keeps up with the log."""
    try:
        with database.connect() as conn:
            listeners = listener_queries.states(conn)
    except Exception as error:  # the database check reports the cause
        return Check("listener", False, f"unknown: {str(error).strip().splitlines()[0]}", True)
    alive = [row for row in listeners if row["silent_seconds"] <= LISTENER_SILENT_AFTER_SECONDS]
    current = [
        row for row in alive if (row["behind_seconds"] or 0) <= LISTENER_BEHIND_GRACE_SECONDS
    ]
    if current:
        row = current[0]
        return Check(
            "listener",
            True,
            f"{_named(row)}: heartbeat {format_age(_seconds(row['silent_seconds']))} ago,"
            f" {_position(row)}",
        )
    return Check("listener", False, _not_reaching_airflow(listeners, alive), warning=True)


def _not_reaching_airflow(listeners: list[Row], alive: list[Row]) -> str:
    if alive:
        row = alive[0]
        return (
            f"changes are not reaching Airflow in seconds: {_named(row)} is alive but"
            f" {format_age(_seconds(row['behind_seconds']))} behind the audit log"
            f" ({_position(row)}); see its log (can it reach Airflow's API?)"
        )
    if listeners:
        row = listeners[0]
        return (
            f"changes reach Airflow only at its periodic parse: no listener heartbeat for"
            f" {format_age(_seconds(row['silent_seconds']))} (last: {_named(row)}); {START_LISTENER}"
        )
    return (
        "changes reach Airflow only at its periodic parse: no listener has ever run against this"
        f" database; {START_LISTENER}"
    )


def _named(row: Row) -> str:
    return f"listener {row['name']!r} on {row['host']} (pid {row['pid']})"


def _position(row: Row) -> str:
    at = row["last_audit_id"]
    where = "no position yet" if at is None else f"at audit entry {at}"
    return f"{where}, head {row['head_id']}"


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def _check_snapshot(path: Path, max_age: dt.timedelta) -> Check:

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


def _check_jobs(loaded: LoadResult) -> list[Check]:
    """Every enabled job that produces no DAG, named with the generator's own reason."""
    if not loaded.rejected:
        return [Check("jobs", True, f"all {len(loaded.specs)} enabled jobs are valid")]
    return [
        Check("jobs", False, f"{len(loaded.rejected)} enabled job(s) produce no DAG"),
        *(Check(f"job {failure.dag_id}", False, failure.reason) for failure in loaded.rejected),
    ]


def _check_airflow(settings: Settings, loaded: LoadResult, explain: Explain | None) -> list[Check]:
    api = AirflowApi.from_settings(settings)
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
    expected = {spec.dag_id for spec in loaded.specs}
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
    unbuilt = [spec for spec in loaded.specs if spec.dag_id in missing]
    if unbuilt and explain is not None:
        checks += [Check(f"job {f.dag_id}", False, f.reason) for f in explain(unbuilt)]
    return checks


def _check_scheduled_changes(database: Database) -> Check:
    """Suspended scheduled changes wait for a person: their target moved on since scheduling."""
    # deferred: > 50 ms of models; only doctor needs them, `hubctl status` does not
    from hubctl.services import schedule

    suspended = schedule.suspended(database)
    if not suspended:
        return Check("scheduled changes", True, "none suspended")
    ids = ", ".join(f"#{change.id}" for change in suspended)
    return Check(
        "scheduled changes",
        False,
        f"suspended: {ids} (their target changed after they were scheduled); review them with"
        " `hubctl schedule list --state suspended`, then `hubctl schedule cancel ID` (and"
        " schedule again what is still wanted)",
        warning=True,
    )


ALERTS_NAMED = 10  # doctor names this many open alerts, then counts the rest


def _check_alerts(database: Database) -> Check:
    """Open alerts (hubctl.services.alerts) warn: someone should look, nothing is broken here."""
    found = alerts.list_alerts(database, open_only=True)
    if not found:
        return Check("alerts", True, "none open")
    named = ", ".join(f"{alert.rule} {alert.subject}" for alert in found[:ALERTS_NAMED])
    more = f" and {len(found) - ALERTS_NAMED} more" if len(found) > ALERTS_NAMED else ""
    return Check(
        "alerts",
        False,
        f"{len(found)} open: {named}{more}; see `hubctl alerts list --open`",
        warning=True,
    )


# The event triggers of migration 0005: they refuse ALTER TABLE ... DISABLE TRIGGER on the hub's
# tables. Only a superuser can create them, so a database migrated by another login has none.
AUDIT_GUARD = ("hub_keep_the_audit_on", "hub_keep_the_audit_on_drop")


def _check_audit_guard(database: Database) -> Check:
    """Is the guard that keeps the audit triggers on installed and enabled (docs/deploy.md)?"""
    with database.connect() as conn:
        installed = status_queries.enabled_event_triggers(conn, names=AUDIT_GUARD)
    if len(installed) == len(AUDIT_GUARD):
        return Check("audit guard", True, "the event trigger that keeps the audit on is installed")
    return Check(
        "audit guard",
        False,
        "the event trigger that keeps the audit on is not installed (migrated by a"
        " non-superuser): the owner can disable triggers and change rows unaudited;"
        " `hubctl audit verify` detects such a change afterwards (docs/deploy.md)",
        warning=True,
    )


def _check_governance_rows(database: Database) -> Check:
    """Change requests and scheduled changes still pending whose stored changes cannot be read
    (stored before migration 0016 refused them): they are skipped, a person settles them."""
    # deferred: > 50 ms of models; only doctor needs them, `hubctl status` does not
    from hubctl.services import requests, schedule

    bad = [
        f"change request #{r.id} ({r.problem}): `hubctl requests reject {r.id}`"
        for r in requests.list_requests(database)
        if r.problem and r.state in ("open", "approved")
    ] + [
        f"scheduled change #{c.id} ({c.problem}): `hubctl schedule cancel {c.id}`"
        for c in schedule.list_changes(database)
        if c.problem and c.state in schedule.CANCELLABLE
    ]
    if not bad:
        return Check("governance rows", True, "every pending request and scheduled change reads")
    return Check("governance rows", False, "unreadable, skipped: " + "; ".join(bad))


def doctor(
    database: Database,
    settings: Settings,
    *,
    max_snapshot_age: dt.timedelta = DEFAULT_MAX_SNAPSHOT_AGE,
    explain: Explain | None = None,
) -> list[Check]:
    """Every check, in order; the caller decides how to show them and fails if any is not ok.

    ``explain`` builds the DAGs of valid jobs Airflow does not serve and returns why each failed
    (hubctl.dag_builder; it imports Airflow, so it is passed in and only called when needed).
    """

    checks = [
        _check_database(database),
        _check_login(database),
        *_check_snapshots(settings, max_snapshot_age),
        _check_build_times(settings),
        *_check_break_glass(database),
    ]
    if checks[0].ok:  # a database behind on migrations may not have the tables yet
        checks += [
            _check_scheduled_changes(database),
            _check_governance_rows(database),
            _check_audit_guard(database),
            _check_listener(database),
            _check_alerts(database),
        ]
    try:
        loaded = load_specs(settings, save_snapshot=False)
    except HubError as error:  # neither the database nor a snapshot: nothing to compare
        return [*checks, Check("jobs", False, str(error))]
    return [
        *checks,
        *_check_jobs(loaded),
        *_check_airflow(settings, loaded, explain),
        *checks_paused_in_airflow(database, settings),
    ]


# Airflow's own pause switch. The hub never flips it (docs/web.md says why): it shows every pause
# beside the hub's state and doctor fails on an enabled market with a paused DAG, so the two
# never disagree silently.


def paused_in_airflow(api: AirflowApi, dag_ids: list[str]) -> dict[str, str]:
    """{dag_id: "paused by WHO at WHEN"} for those of ``dag_ids`` that Airflow has paused."""
    wanted = set(dag_ids)
    paused = sorted(dag["dag_id"] for dag in api.dags(paused=True) if dag["dag_id"] in wanted)
    found = {}
    for dag_id in paused:
        event = api.last_pause(dag_id)
        found[dag_id] = (
            "paused (not recorded in Airflow's event log)"
            if event is None
            else f"paused by {event.who} at {event.when}"
        )
    return found


def airflow_pauses(api: AirflowApi | None, dag_ids: list[str]) -> dict[str, str] | str:
    """``paused_in_airflow`` of ``dag_ids``, or the line saying why Airflow could not be asked
    (none without an Airflow API configured)."""
    if api is None:
        return {}
    try:
        return paused_in_airflow(api, dag_ids)
    except AirflowApiError as error:
        return f"(unknown: {error})"


def pauses_shown(dag_ids: list[str], pauses: dict[str, str] | str) -> list[str]:
    """A status row's DAGs paused in Airflow, by whom and when (or why that is unknown)."""
    if isinstance(pauses, str):
        return [pauses]
    return [f"{dag} {pauses[dag]}" for dag in dag_ids if dag in pauses]


def checks_paused_in_airflow(database: Database, settings: Settings) -> list[Check]:
    """An enabled market whose DAG is paused in Airflow: the hub says it runs, and it does not.

    No check when Airflow cannot be asked: the `airflow` check already reports that.
    """
    api = AirflowApi.from_settings(settings)
    if api is None:
        return []
    with database.connect() as conn:
        dags = generated_dags(select_rows(conn, table=GROUPS), status_queries.generating_jobs(conn))
    try:
        pauses = paused_in_airflow(api, [dag for group_dags in dags.values() for dag in group_dags])
    except AirflowApiError:
        return []
    if pauses:
        listed = "; ".join(f"{dag} {how}" for dag, how in pauses.items())
        return [Check("pauses", False, f"enabled in the hub but paused in Airflow: {listed}")]
    return [Check("pauses", True, "no DAG of an enabled market is paused in Airflow")]
