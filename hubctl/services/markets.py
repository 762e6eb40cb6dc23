"""What the Markets page shows per exchange group: `hubctl status`'s row, who changed the group's
own row last (when and why), and its alert state (None until the monitoring issue adds alerts)."""

from __future__ import annotations

from typing import Any

from hubctl.db import Database
from hubctl.services import audit, health
from hubctl.settings import Settings


def market_status(database: Database, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    """health.group_status's rows, each with ``last_change`` {id, actor, via, at, reason} (None:
    no audit entry names it) and ``alert``."""
    rows = health.group_status(database, settings=settings)
    last = audit.last_change_of_groups(database, [row["group"] for row in rows])
    return [
        {**row, "last_change": _change_summary(last.get(row["group"])), "alert": None}
        for row in rows
    ]


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
