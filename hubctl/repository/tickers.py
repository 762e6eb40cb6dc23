"""The ticker universe (hub.tickers)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from hubctl.repository.tables import TICKERS, select_records
from hubctl.schemas import TickerRecord


def list_tickers(conn: Connection, *, exchanges: Sequence[str] | None = None) -> list[TickerRecord]:
    """Every ticker, or those listed on one of ``exchanges`` (an exchange group's)."""
    where = [] if exchanges is None else [TICKERS.table.c.exchange.in_(list(exchanges))]
    return select_records(conn, table=TICKERS, where=where)
