"""Send the queued alert notifications (hub.alert_deliveries) through Airflow's SmtpNotifier.

Each delivery is claimed in its own transaction (``FOR UPDATE SKIP LOCKED``: two senders never
hold the same one), sent, and marked delivered in that transaction; a failed send counts an
attempt, keeps its error and leaves the delivery for the next run. So a delivery is retried until
it succeeds, and one that succeeded is never sent again (unless the database fails between the
send and the commit: the one window SMTP leaves, since a mail cannot be taken back).

The text is plain: every value is shown literally (control characters such as terminal escapes
as ``\\x1b``, as the CLI prints them: hubctl.text.visible), and the notifier's HTML body is
that text escaped inside ``<pre>``, so a subject or detail holding markup arrives as the
characters it is. The notifier is called directly (``notify``), never rendered as a template:
alert text is data, not Jinja.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hubctl.db import Database
from hubctl.repository import monitoring
from hubctl.settings import Settings
from hubctl.text import visible

# Deliveries one run sends at most: the rest wait for the next run.
MAX_DELIVERIES_PER_RUN = 100


@dataclass(frozen=True)
class Notice:
    """One notification: a subject line and a plain-text body."""

    subject: str
    body: str


Send = Callable[[Notice], None]


@dataclass
class Delivered:
    sent: int = 0
    failed: list[str] = field(default_factory=list)  # the error of each failed attempt


def deliver_pending(
    database: Database, send: Send, limit: int = MAX_DELIVERIES_PER_RUN
) -> Delivered:
    """Send up to ``limit`` queued deliveries; a failure is recorded and stops this run's sending
    (the receiver is likely down: the rest wait for the next run)."""
    outcome = Delivered()
    while outcome.sent < limit and not outcome.failed:
        with database.transaction() as conn:
            claimed = monitoring.claim_delivery(conn)
            if claimed is None:
                break
            key = {"alert_id": claimed["alert_id"], "event": claimed["event"]}
            try:
                send(notice(claimed))
            except Exception as error:  # whatever the notifier raised is the recorded reason
                reason = f"{type(error).__name__}: {error}"
                monitoring.mark_failed(conn, **key, error=reason)
                outcome.failed.append(reason)
            else:
                monitoring.mark_delivered(conn, **key)
                outcome.sent += 1
    return outcome


def notice(delivery: Mapping[str, Any]) -> Notice:
    """The notification of one claimed delivery (an alert opened or resolved)."""
    event = "RESOLVED" if delivery["event"] == "resolved" else "OPEN"
    lines = [
        ("rule", delivery["rule"]),
        ("subject", delivery["subject"]),
        ("group", delivery["exchange_group"] or "-"),
        ("dag", delivery["dag_id"] or "-"),
        ("value", f"{delivery['value']:g}"),
        ("threshold", f"{delivery['threshold']:g}"),
        ("detail", delivery["detail"]),
        ("first seen", delivery["first_seen"].isoformat()),
        ("last seen", delivery["last_seen"].isoformat()),
        ("resolved at", delivery["resolved_at"].isoformat() if delivery["resolved_at"] else "-"),
    ]
    body = "\n".join(f"{name}: {visible(str(value))}" for name, value in lines)
    subject = f"[airflow-hub] {event} {visible(delivery['rule'])} {visible(delivery['subject'])}"
    return Notice(subject=subject, body=body)


def smtp_sender(settings: Settings) -> Send:
    """Send each notice with the smtp provider's SmtpNotifier through the Airflow Connection
    ``settings.alert_connection`` to ``settings.alert_to``."""
    recipients = [address.strip() for address in (settings.alert_to or "").split(",")]

    def send(message: Notice) -> None:
        # deferred: the provider imports Airflow (~1 s); only a run with something to send needs it
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(
            to=[address for address in recipients if address],
            smtp_conn_id=settings.alert_connection,
            subject=message.subject,
            html_content=f"<pre>{html.escape(message.body)}</pre>",
        )
        notifier.notify({})

    return send
