"""Read-only queries for `hubctl status` and `hubctl doctor`: how fresh prices are, what is installed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hubctl.db import Connection
from hubctl.repository.rows import fetch

# One index probe per security (the ohlcv primary key starts with security_id), not a table scan.
LATEST_TRADE_DATES = """
SELECT g.group_name, max(latest.trade_date) AS latest_trade_date
  FROM hub.exchange_groups g
  LEFT JOIN market.securities s ON s.exchange = ANY (g.exchanges)
  LEFT JOIN LATERAL (
    SELECT max(o.trade_date) AS trade_date FROM market.ohlcv o WHERE o.security_id = s.security_id
  ) latest ON true
 GROUP BY g.group_name
"""


def generating_jobs(conn: Connection) -> list[dict[str, Any]]:
    """The key and group of every enabled job in a group: only what names a group's DAGs (not
    the jobs' JSON columns, whose decoding was most of `status` at 10,000 jobs)."""
    return fetch(
        conn,
        "SELECT dag_name, job_name, exchange_group, enabled FROM hub.dag_configuration"
        " WHERE enabled AND exchange_group IS NOT NULL ORDER BY dag_name, job_name",
    )


def latest_trade_dates(conn: Connection) -> dict[str, dt.date | None]:
    """The newest trade date stored for any security on each group's exchanges (None: no data)."""
    return {row["group_name"]: row["latest_trade_date"] for row in fetch(conn, LATEST_TRADE_DATES)}


# Whether the login could silence the audit: a superuser, or a member of the role that owns the
# schema or one of its tables (ownership allows ALTER TABLE ... DISABLE TRIGGER).
_LOGIN_POWERS = """
SELECT current_user AS login, r.rolsuper AS superuser,
       EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'hub'
                  AND pg_has_role(current_user, n.nspowner, 'MEMBER'))
       OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = to_regnamespace('hub')
                     AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owner
  FROM pg_roles r WHERE r.rolname = current_user
"""


def login_powers(conn: Connection) -> dict[str, Any]:
    """The login's name, whether it is a superuser, and whether it owns schema hub or a table."""
    return fetch(conn, _LOGIN_POWERS)[0]


def enabled_event_triggers(conn: Connection, *, names: Sequence[str]) -> list[str]:
    """Which of the event triggers ``names`` exist and are enabled (any login may read this)."""
    rows = fetch(
        conn,
        "SELECT evtname FROM pg_event_trigger WHERE evtname = ANY(%(names)s)"
        " AND evtenabled <> 'D' ORDER BY evtname",
        {"names": list(names)},
    )
    return [row["evtname"] for row in rows]
