"""The ticker universe (hub.tickers)."""

from __future__ import annotations

from collections.abc import Sequence

from hubctl.db import Connection
from hubctl.repository.rows import Row, select_rows
from hubctl.tables import TICKERS


def list_tickers(conn: Connection, *, exchanges: Sequence[str] | None = None) -> list[Row]:
    """Every ticker, or those listed on one of ``exchanges`` (an exchange group's)."""
    where = {} if exchanges is None else {"exchange": list(exchanges)}
    return select_rows(conn, table=TICKERS, where=where)
