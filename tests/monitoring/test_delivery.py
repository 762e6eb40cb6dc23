"""Alert notifications through the smtp provider's SmtpNotifier to a real local SMTP server."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from hubctl.db import Database
from hubctl.monitoring.delivery import deliver_pending, smtp_sender
from hubctl.repository.rows import fetch
from hubctl.settings import Settings
from tests.support.smtp_receiver import SmtpReceiver, smtp_receiver

HOSTILE = "<script>alert(1)</script> <b>bold</b> \x1b[31mred\x1b[0m {{ 7 * 7 }}"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    with smtp_receiver() as running:
        monkeypatch.setenv("AIRFLOW_CONN_HUB_ALERTS", running.connection_json())
        yield running


def open_alert(database: Database, subject: str, *events: str) -> int:
    with database.transaction() as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO hub.alerts (rule, subject, exchange_group, value, threshold, detail,"
            " first_seen, last_seen) VALUES ('data_late', %(s)s, 'lse', 95, 60, %(s)s, now(),"
            " now()) RETURNING id",
            {"s": subject},
        )
        alert_id = int(cursor.fetchone()[0])
        for event in events:
            cursor.execute(
                "INSERT INTO hub.alert_deliveries (alert_id, event) VALUES (%(id)s, %(e)s)",
                {"id": alert_id, "e": event},
            )
    return alert_id


def deliveries(database: Database) -> list[dict[str, object]]:
    with database.connect() as conn:
        sql = "SELECT event, attempts, last_error, delivered_at FROM hub.alert_deliveries"
        return fetch(conn, sql + " ORDER BY event")


SETTINGS = Settings(alert_to="ops@example.test")


def test_a_failed_delivery_is_retried_and_delivered_exactly_once(
    database: Database, receiver: SmtpReceiver
) -> None:
    open_alert(database, "lse", "opened")
    receiver.refuse = True
    failed = deliver_pending(database, smtp_sender(SETTINGS))
    assert (failed.sent, len(failed.failed)) == (0, 1)
    (pending,) = deliveries(database)
    assert pending["attempts"] == 1 and pending["delivered_at"] is None
    assert "451" in str(pending["last_error"])
    receiver.refuse = False
    assert deliver_pending(database, smtp_sender(SETTINGS)).sent == 1
    assert deliver_pending(database, smtp_sender(SETTINGS)).sent == 0
    assert len(receiver.texts("lse")) == 1
    (done,) = deliveries(database)
    assert done["attempts"] == 2 and done["delivered_at"] is not None
    assert done["last_error"] is None


def test_opening_and_resolving_send_one_notification_each(
    database: Database, receiver: SmtpReceiver
) -> None:
    open_alert(database, "lse", "opened", "resolved")
    assert deliver_pending(database, smtp_sender(SETTINGS)).sent == 2
    subjects = sorted(subject for subject, _ in receiver.texts())
    assert subjects == ["[airflow-hub] OPEN data_late lse", "[airflow-hub] RESOLVED data_late lse"]
    assert [str(message["To"]) for message in receiver.messages] == ["ops@example.test"] * 2


def test_hostile_text_arrives_literally_never_as_markup(
    database: Database, receiver: SmtpReceiver
) -> None:
    open_alert(database, HOSTILE, "opened")
    assert deliver_pending(database, smtp_sender(SETTINGS)).sent == 1
    ((subject, body),) = receiver.texts()
    shown = HOSTILE.replace("\x1b", "\\x1b")
    assert subject == f"[airflow-hub] OPEN data_late {shown}"
    assert "<script>" not in body and "<b>" not in body and "\x1b" not in body
    assert f"detail: {html.escape(shown)}" in body  # the escaped text shows the characters
    assert "{{ 7 * 7 }}" in html.unescape(body)  # data, never rendered as a template
