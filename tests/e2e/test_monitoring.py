"""Monitoring on a real `hubctl up` stack: each alert rule fires from what really happened, and
notifications reach a local SMTP server through the smtp provider's notifier and an Airflow
Connection, once when an alert opens and once when it resolves.

One stack for the module, started with the alert Connection and recipients, and Yahoo made
unreachable: HTTPS goes through a proxy on a port nothing listens on (the real yfinance and curl
fail to connect, as without a network), while Airflow's own HTTP calls do not use it. The
schedules of hub_monitor and of the collections under test are cleared before the stack starts:
only the tests evaluate, at known moments (`hubctl alerts evaluate`, or a run of the job triggered
through the API), never two at once, and only the runs they trigger exist.

Order matters, to share the stack's minutes: the slow task starts first (its collection blocks on
rows this module holds locked; HUB_LOCK_TIMEOUT_MS=0 lets it wait), the failing runs start with
it, and the slow task is checked last, once its minute has passed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from hubctl.airflow_api import AirflowApiError
from hubctl.db import connection_arguments, embedded_server_url
from tests.e2e.test_stack import HUBCTL, RunningStack, _running, wait_for
from tests.support.markers import AIRFLOW_PROCESSES
from tests.support.smtp_receiver import SmtpReceiver, smtp_receiver
from tests.support.stacks import configure_home, prepared_home

pytestmark = [pytest.mark.e2e, AIRFLOW_PROCESSES]

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
DEAD_PROXY = "http://127.0.0.1:9"
US, DE, EU = (f"data_collection_equities__{group}"
              for group in ("us_markets", "german_markets", "european_markets"))  # fmt: skip
MONITOR = "hub_monitor__hub"
DE_TICKERS = "[SAP.DE, SIE.DE, ALV.DE, BAS.DE, DTE.DE, BMW.DE]"
SLOW_TASK = f"{US}/batches.collect"
WHY = ("-m", "monitoring test")


@dataclass
class Monitored:
    stack: RunningStack
    receiver: SmtpReceiver
    runs: dict[str, str]  # dag_id -> the run this module triggered

    def hubctl(self, *arguments: str, clock: dict[str, str] | None = None) -> Any:
        done = subprocess.run(
            [HUBCTL, *arguments], env={**self.stack.env, **(clock or {})},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout) if "-o" in arguments else done.stdout

    def evaluate(self, at: dt.datetime | None = None) -> dict[str, Any]:
        clock = None if at is None else faked_clock(at)
        summary: dict[str, Any] = self.hubctl("alerts", "evaluate", "-o", "json", clock=clock)
        return summary

    def open_alerts(self) -> dict[str, dict[str, Any]]:
        rows = self.hubctl("alerts", "list", "--open", "-o", "json")
        return {f"{row['rule']} {row['subject']}": row for row in rows}

    def mails(self, alert: str) -> list[str]:
        """The subject lines of the notifications received about ``alert`` ("RULE SUBJECT")."""
        return [found for found, _ in self.receiver.texts(f" {alert}") if found.endswith(alert)]

    def trigger(self, dag_id: str) -> str:
        body = {"logical_date": None}
        return str(
            self.stack.api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]
        )

    def started(self, dag_id: str, task_id: str) -> str | None:
        """When the first mapped instance of ``task_id`` in this module's run started, if it has."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{self.runs[dag_id]}/taskInstances/{task_id}/0"
        try:
            found: dict[str, Any] = self.stack.api.call("GET", path)
            return found.get("start_date")
        except AirflowApiError:  # not expanded yet, or a busy api-server
            return None

    def finished(self, dag_id: str, run_id: str, timeout: float = 150) -> str:
        def state() -> str | None:
            try:
                found = str(self.stack.api.call(
                    "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])  # fmt: skip
            except AirflowApiError:  # a busy api-server: ask again
                return None
            return found if found in ("success", "failed") else None

        return str(wait_for(state, timeout, f"{dag_id} {run_id} to finish", 1))


def faked_clock(moment: dt.datetime) -> dict[str, str]:
    """libfaketime for one process: its clock reads ``moment`` now (the calendar tests' way)."""
    assert LIBFAKETIME.exists(), "libfaketime missing: apt-get install faketime (.ci/run does)"
    offset = round((moment - dt.datetime.now(dt.UTC)).total_seconds())
    return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"{offset:+d}"}


@pytest.fixture(scope="module")
def monitored() -> Iterator[Monitored]:
    home = prepared_home("hubmon")
    configure_home(home, *(command + WHY for command in CONFIGURATION))
    with smtp_receiver() as receiver:
        environment = {
            "AIRFLOW_CONN_HUB_ALERTS": receiver.connection_json(),
            "HUB_ALERT_TO": "ops@example.test",
            "HUB_LOCK_TIMEOUT_MS": "0",
            **{name: DEAD_PROXY for name in ("HTTPS_PROXY", "https_proxy")},
            **{name: "127.0.0.1,localhost" for name in ("NO_PROXY", "no_proxy")},
        }
        for stack in _running(home, environment):
            with held_rows(home):
                yield start_runs(stack, receiver)


# Before the stack starts, so that Airflow never schedules these DAGs: only the runs this module
# triggers exist, and each fails at once (no retries) or succeeds.
CONFIGURATION = [
    ("config", "set", "hub_monitor", "hub", "schedule=null"),
    ("config", "set", "data_collection_equities", "us_markets", "schedule=null", "task_minutes=1"),
    ("config", "set", "data_collection_equities", "german_markets", "schedule=null",
     "max_retries=0", "failure_rate_runs=1", f"params.fail_tickers={DE_TICKERS}"),
    ("config", "set", "data_collection_equities", "european_markets", "schedule=null",
     "max_retries=0", "params.source=yfinance"),
    ("groups", "set", "european_markets", "unreachable_fetches=1"),
]  # fmt: skip


@contextmanager
def held_rows(home: Path) -> Iterator[None]:
    """AAPL's bars of the last days, inserted in a transaction held open: the us_markets
    collection's upsert of those days waits for it, so its task runs until the module ends."""
    url = embedded_server_url(home)
    with psycopg2.connect(**connection_arguments(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO market.securities (ticker, exchange) VALUES ('AAPL', 'NASDAQ')"
            " ON CONFLICT DO NOTHING;"
            " DELETE FROM market.ohlcv WHERE trade_date > current_date - 12 AND security_id ="
            " (SELECT security_id FROM market.securities WHERE ticker = 'AAPL')"
        )
    holder = psycopg2.connect(**connection_arguments(url))
    with holder.cursor() as cursor:
        cursor.execute(
            "INSERT INTO market.ohlcv (security_id, trade_date, open, high, low, close, adj_close,"
            " volume, source) SELECT s.security_id, day, 1, 1, 1, 1, 1, 0, 'test'"
            " FROM market.securities s, generate_series(current_date - 8, current_date + 1,"
            " interval '1 day') AS day WHERE s.ticker = 'AAPL'"
        )
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def start_runs(stack: RunningStack, receiver: SmtpReceiver) -> Monitored:
    monitored = Monitored(stack, receiver, {})
    for dag_id in (US, DE, EU):
        monitored.runs[dag_id] = wait_for(functools.partial(monitored.trigger, dag_id), 180,
                                          f"{dag_id} to accept a run")  # fmt: skip
    return monitored


def test_a_failing_collection_opens_one_alert_and_a_later_success_resolves_it(
    monitored: Monitored,
) -> None:
    assert monitored.finished(DE, monitored.runs[DE]) == "failed"
    opened = monitored.evaluate()
    assert f"failure_rate {DE}" in opened["opened"]
    alert = monitored.open_alerts()[f"failure_rate {DE}"]
    assert (alert["value"], alert["threshold"]) == (100, 5)
    assert monitored.mails(f"failure_rate {DE}") == [f"[airflow-hub] OPEN failure_rate {DE}"]
    assert f"failure_rate {DE}" not in monitored.evaluate()["opened"]  # no second notification
    monitored.hubctl("config", "set", "data_collection_equities", "german_markets",
                     "params.fail_tickers=[]", *WHY)  # fmt: skip
    assert monitored.finished(DE, str(monitored.trigger(DE))) == "success"
    # This time the generated job evaluates, with the workers' own Connection and recipients.
    assert monitored.finished(MONITOR, str(monitored.trigger(MONITOR)), 120) == "success"
    assert f"failure_rate {DE}" not in monitored.open_alerts()
    assert monitored.mails(f"failure_rate {DE}") == [
        f"[airflow-hub] OPEN failure_rate {DE}", f"[airflow-hub] RESOLVED failure_rate {DE}"
    ]  # fmt: skip


def test_yahoo_unreachable_opens_source_unreachable(monitored: Monitored) -> None:
    assert monitored.finished(EU, monitored.runs[EU]) == "failed"
    monitored.evaluate()
    alert = monitored.open_alerts()["source_unreachable european_markets"]
    assert "RetryableSourceError" in alert["detail"] and "proxy" in alert["detail"]
    assert monitored.mails("source_unreachable european_markets") == [
        "[airflow-hub] OPEN source_unreachable european_markets"
    ]


def test_late_prices_alert_on_a_trading_day_and_not_on_a_holiday(monitored: Monitored) -> None:
    """LSE's prices reach Christmas Eve: on Christmas Day evening (closed) nothing is late; on
    the 29th, after the close plus the 60 minutes, the 29th's session is missing."""
    with psycopg2.connect(
        **connection_arguments(embedded_server_url(monitored.stack.home))
    ) as conn:
        conn.cursor().execute(
            "INSERT INTO market.securities (ticker, exchange) VALUES ('HSBA.L', 'LSE')"
            " ON CONFLICT DO NOTHING;"
            " INSERT INTO market.ohlcv (security_id, trade_date, open, high, low, close,"
            " adj_close, volume, source) SELECT security_id, '2026-12-24', 1, 1, 1, 1, 1, 0,"
            " 'test' FROM market.securities WHERE ticker = 'HSBA.L' ON CONFLICT DO NOTHING"
        )
    monitored.evaluate(at=dt.datetime(2026, 12, 25, 20, tzinfo=dt.UTC))
    assert "data_late lse" not in monitored.open_alerts()
    late = monitored.evaluate(at=dt.datetime(2026, 12, 29, 18, tzinfo=dt.UTC))
    assert "data_late lse" in late["opened"]
    assert "the 2026-12-29 session" in monitored.open_alerts()["data_late lse"]["detail"]


def test_a_task_slower_than_its_threshold_alerts(monitored: Monitored) -> None:
    """Last: the us_markets collection's batch has been blocked since it started."""
    started = wait_for(functools.partial(monitored.started, US, "batches.collect"), 120,
                       "the slow batch to start")  # fmt: skip
    running = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(started)
    time.sleep(max(0.0, 62 - running.total_seconds()))
    monitored.evaluate()
    alert = monitored.open_alerts()[f"task_duration {SLOW_TASK}"]
    # The real minutes it has run (an evaluation under a moved clock may have opened it first).
    assert 1 < alert["value"] < 30 and alert["threshold"] == 1
    assert "running" in alert["detail"]
