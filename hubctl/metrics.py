"""`hubctl metrics`: the hub's own state as Prometheus metrics (docs/monitoring.md, "Metrics").

A ``prometheus_client`` custom collector: each scrape opens one read-only snapshot connection and
runs a fixed set of queries whatever the number of jobs (groups, newest prices, request and
scheduled-change counts, open alerts, listeners, the audit chain's tail), then builds the metric
families from what it read. A scrape the database does not answer reports ``hub_database_up 0``
and nothing else about the hub, so Prometheus sees an outage instead of a failed scrape.

The audit chain is checked incrementally, as `hubctl audit verify --incremental` does: every
anchor's signature and order, the newest anchor's entry (its hash and entry count), then each
entry after it. Rows before the newest anchor are not re-hashed and the live tables are not
replayed: that is the daily full `hubctl audit verify`'s job (docs/audit.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg2
from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from hubctl import anchors
from hubctl import audit as chain
from hubctl.db import Connection, Database
from hubctl.errors import HubError, ValidationError
from hubctl.repository import listener as listener_queries
from hubctl.repository import metrics as metric_queries
from hubctl.repository import status as status_queries
from hubctl.repository.rows import Row, select_rows
from hubctl.services.alerts import open_alert_counts_in
from hubctl.services.health import stale_sessions
from hubctl.settings import Settings
from hubctl.tables import GROUP_RULES, GROUPS, JOB_RULES

log = logging.getLogger("hubctl.metrics")

# Every rule is exported for every group, 0 when none is open.
ALERT_RULES = sorted(JOB_RULES | GROUP_RULES)
NO_GROUP = ""  # the group of alerts about jobs that belong to no exchange group


@dataclass(frozen=True)
class ChainState:
    """``verified``: the incremental check passed (None: not checked, no anchor or no key);
    ``anchor_age_seconds``: since the newest anchor was signed (inf: none yet)."""

    verified: bool | None
    anchor_age_seconds: float


@dataclass(frozen=True)
class HubState:
    groups: list[Row]
    stale_sessions: dict[str, int | None]
    open_alerts: dict[str, dict[str, int]]  # group -> rule -> open alerts
    requests_pending: int
    scheduled_suspended: int
    listeners: list[Row]
    chain: ChainState


def chain_state(conn: Connection, settings: Settings, now: dt.datetime) -> ChainState:
    """The incremental check from the newest anchor; without a key or an anchor there is nothing
    to start from but the first entry, and a full walk per scrape is too dear: not checked."""
    try:
        key = anchors.configured_key(settings)
        stored = list(anchors.read_anchors(anchors.store_file(settings=settings)))
    except ValidationError:  # no key, or no store yet
        return ChainState(None, float("inf"))
    signed = [line.anchor for line in stored if line.anchor is not None]
    if not signed:
        return ChainState(None, float("inf"))
    report = chain.verify_from_last_anchor(conn, stored, key)
    if not report.ok:
        log.warning("audit chain: %s", report.failure)
    age = now - anchors.signed_at(signed[-1])
    return ChainState(report.ok, max(age.total_seconds(), 0.0))


def read_state(database: Database, settings: Settings, *, today: dt.date) -> HubState:
    """Everything a scrape reports, read in one snapshot (the queries do not grow with jobs)."""
    with database.connect(snapshot=True) as conn:
        groups = select_rows(conn, table=GROUPS)
        latest = status_queries.latest_trade_dates(conn)
        counts = metric_queries.governance_counts(conn)
        alerts = open_alert_counts_in(conn)
        listeners = listener_queries.states(conn)
        chain_now = chain_state(conn, settings, dt.datetime.now(dt.UTC))
    return HubState(
        groups=groups,
        stale_sessions={
            group["group_name"]: stale_sessions(
                group["calendar"], latest.get(group["group_name"]), today
            )
            for group in groups
        },
        open_alerts=alerts,
        requests_pending=counts["requests_pending"],
        scheduled_suspended=counts["scheduled_suspended"],
        listeners=listeners,
        chain=chain_now,
    )


def _gauge(name: str, documentation: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def group_families(state: HubState) -> Iterator[Metric]:
    enabled = _gauge("hub_group_enabled", "1 while the exchange group is enabled", ("group",))
    fresh = _gauge(
        "hub_group_freshness_sessions",
        "Trading sessions of the group's calendar that ended after its newest price"
        " (no sample: the group has no prices)",
        ("group",),
    )
    for group in state.groups:
        name = group["group_name"]
        enabled.add_metric([name], 1.0 if group["enabled"] else 0.0)
        if state.stale_sessions[name] is not None:
            fresh.add_metric([name], float(state.stale_sessions[name] or 0))
    alerts = _gauge("hub_alerts_open", "Open hub alerts by rule and group", ("rule", "group"))
    for rule in ALERT_RULES:
        for name in [*(group["group_name"] for group in state.groups), NO_GROUP]:
            alerts.add_metric([rule, name], float(state.open_alerts.get(name, {}).get(rule, 0)))
    yield from (enabled, fresh, alerts)


def governance_families(state: HubState) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "hub_requests_pending",
        "Change requests open or approved and not yet applied",
        value=state.requests_pending,
    )
    yield GaugeMetricFamily(
        "hub_scheduled_changes_suspended",
        "Scheduled changes suspended because their target changed (a person must decide)",
        value=state.scheduled_suspended,
    )


def audit_families(state: HubState) -> Iterator[Metric]:
    if state.chain.verified is not None:
        yield GaugeMetricFamily(
            "hub_audit_chain_verified",
            "1 when the audit chain verifies from the newest anchor on (incremental check)",
            value=1.0 if state.chain.verified else 0.0,
        )
    yield GaugeMetricFamily(
        "hub_audit_anchor_age_seconds",
        "Seconds since the newest audit anchor was signed (+Inf: none)",
        value=state.chain.anchor_age_seconds,
    )


def listener_families(state: HubState) -> Iterator[Metric]:
    lag = _gauge(
        "hub_listener_lag_entries",
        "Audit entries after the last one the listener passed on to Airflow",
        ("listener",),
    )
    silent = _gauge(
        "hub_listener_heartbeat_age_seconds",
        "Seconds since the listener's last heartbeat",
        ("listener",),
    )
    for row in state.listeners:
        behind = row["head_id"] - (row["last_audit_id"] or 0)
        lag.add_metric([row["name"]], float(max(behind, 0)))
        silent.add_metric([row["name"]], float(row["silent_seconds"]))
    yield from (lag, silent)


class HubCollector(Collector):
    """Reads the hub on each scrape (prometheus_client calls ``collect`` per request)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            state = read_state(self.database, self.settings, today=dt.date.today())
        except (psycopg2.Error, HubError) as error:
            log.warning("could not read the hub database: %s", str(error).strip().splitlines()[0])
            state = None
        yield GaugeMetricFamily(
            "hub_database_up",
            "1 when this scrape read the hub database",
            value=0.0 if state is None else 1.0,
        )
        if state is not None:
            for families in (group_families, governance_families, audit_families):
                yield from families(state)
            yield from listener_families(state)
        yield GaugeMetricFamily(
            "hub_metrics_scrape_seconds",
            "Seconds this scrape took to read the hub",
            value=time.perf_counter() - started,
        )


def registry(database: Database, settings: Settings) -> CollectorRegistry:
    """A registry holding only the hub's collector (no process metrics of this server)."""
    found = CollectorRegistry()
    found.register(HubCollector(database, settings))
    return found


def serve(settings: Settings, echo: Callable[[str], None], *, host: str, port: int) -> None:
    """Serve /metrics on ``host``:``port`` until interrupted (SIGTERM ends the process)."""
    server, thread = start_http_server(
        port, addr=host, registry=registry(Database.from_settings(settings), settings)
    )
    echo(f"serving the hub's metrics on http://{host}:{server.server_port}/metrics")
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
