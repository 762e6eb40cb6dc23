"""The ticker universe (hub.tickers)."""

from __future__ import annotations

from collections.abc import Sequence

from hubctl.repository.tables import TICKERS, AnyConnection, Row, select_rows


def list_tickers(conn: AnyConnection, *, exchanges: Sequence[str] | None = None) -> list[Row]:
    """Every ticker, or those listed on one of ``exchanges`` (an exchange group's)."""
    where = {} if exchanges is None else {"exchange": list(exchanges)}
    return select_rows(conn, table=TICKERS, where=where)
