"""The ticker universe (hub.tickers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hubctl.repository.tables import TICKERS, AnyConnection, select_records

if TYPE_CHECKING:
    from hubctl.schemas import TickerRecord


def list_tickers(
    conn: AnyConnection, *, exchanges: Sequence[str] | None = None
) -> list[TickerRecord]:
    """Every ticker, or those listed on one of ``exchanges`` (an exchange group's)."""
    where = {} if exchanges is None else {"exchange": list(exchanges)}
    return select_records(conn, table=TICKERS, where=where)
