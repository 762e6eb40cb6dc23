"""One evaluation against a real database: an alert notifies once when it opens and once when it
resolves, however many evaluations see it hold; without Airflow's API the rules that read it are
left alone."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from hubctl.db import Database
from hubctl.errors import ConflictError
from hubctl.monitoring.delivery import smtp_sender
from hubctl.monitoring.evaluate import evaluate
from hubctl.repository import monitoring
from hubctl.services.alerts import record_fetch
from hubctl.settings import Settings
from tests.support.smtp_receiver import SmtpReceiver, smtp_receiver

NOW = dt.datetime(2026, 12, 29, 18, tzinfo=dt.UTC)
SEND = smtp_sender(Settings(alert_to="ops@example.test"))


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    with smtp_receiver() as running:
        monkeypatch.setenv("AIRFLOW_CONN_HUB_ALERTS", running.connection_json())
        yield running


def test_source_unreachable_notifies_once_open_and_once_resolved(
    default_config: Engine, database: Database, receiver: SmtpReceiver
) -> None:
    for _ in range(3):
        record_fetch(database, exchange_group="lse", error="HTTP 503 from the source")
    first = evaluate(database, None, now=NOW, send=SEND)
    assert "source_unreachable lse" in first.summary()["opened"]
    for minutes in (5, 10):
        again = evaluate(database, None, now=NOW + dt.timedelta(minutes=minutes), send=SEND)
        assert again.summary()["opened"] == [] and again.delivered is not None
        assert again.delivered.sent == 0
    record_fetch(database, exchange_group="lse")
    last = evaluate(database, None, now=NOW + dt.timedelta(minutes=15), send=SEND)
    assert last.summary()["resolved"] == ["source_unreachable lse"]
    subjects = [subject for subject, _ in receiver.texts("source_unreachable lse")]
    assert subjects == [
        "[airflow-hub] OPEN source_unreachable lse",
        "[airflow-hub] RESOLVED source_unreachable lse",
    ]
    (_, body), _ = receiver.texts("source_unreachable lse")
    assert "HTTP 503 from the source" in body


def test_one_evaluation_at_a_time(default_config: Engine, database: Database) -> None:
    with database.connect() as other:
        with monitoring.evaluation_lock(other) as taken:
            assert taken and _evaluation_locks(default_config) == 1
            with pytest.raises(ConflictError, match="another evaluation is running"):
                evaluate(database, None, now=NOW, send=None)
        # Released as the block ends, its session still open: the next evaluation runs at once.
        assert _evaluation_locks(default_config) == 0
        assert evaluate(database, None, now=NOW, send=None).findings


def test_an_evaluation_that_died_leaves_no_lock_behind(
    default_config: Engine, database: Database
) -> None:
    with database.connect() as died:
        assert monitoring.evaluation_lock(died).__enter__()  # never left: the process dies in it
    # Its session ends on the server a moment after the client closed it; the lock goes with it.
    deadline = time.monotonic() + 10
    while _evaluation_locks(default_config) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert evaluate(database, None, now=NOW, send=None).findings


def _evaluation_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        return int(held.scalar_one())


def test_without_airflow_the_rules_that_read_it_are_left_alone(
    default_config: Engine, database: Database
) -> None:
    done = evaluate(database, None, now=NOW, send=None)
    assert done.airflow_error and "not configured" in done.airflow_error
    # No prices at all: every group's data is late; the Airflow rules found nothing either way.
    assert {f.rule for f in done.findings} == {"data_late"}
    assert {f.subject for f in done.findings} == {
        "us_markets", "lse", "german_markets", "european_markets"
    }  # fmt: skip
    with database.connect() as conn:
        state = monitoring.state(conn)
    assert state is not None and state["evaluated_at"] == NOW
    assert state["last_error"] == done.airflow_error and state["runs_cursor"] is None
