"""Read-only queries for `hubctl status`: how fresh each exchange group's prices are."""

from __future__ import annotations

import datetime as dt

from hubctl.db import Connection
from hubctl.repository.rows import fetch

# One index probe per security (the ohlcv primary key starts with security_id), not a table scan.
_LATEST_TRADE_DATES = """
SELECT g.group_name, max(latest.trade_date) AS latest_trade_date
  FROM hub.exchange_groups g
  LEFT JOIN market.securities s ON s.exchange = ANY (g.exchanges)
  LEFT JOIN LATERAL (
    SELECT max(o.trade_date) AS trade_date FROM market.ohlcv o WHERE o.security_id = s.security_id
  ) latest ON true
 GROUP BY g.group_name
"""


def latest_trade_dates(conn: Connection) -> dict[str, dt.date | None]:
    """The newest trade date stored for any security on each group's exchanges (None: no data)."""
    return {row["group_name"]: row["latest_trade_date"] for row in fetch(conn, _LATEST_TRADE_DATES)}
