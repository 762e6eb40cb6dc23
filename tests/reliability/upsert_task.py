"""A market-data load, run as its own process so a test can SIGKILL it in the middle of an upsert.

`python upsert_task.py URL` loads deterministic OHLCV rows for SECURITIES securities in CHUNKS
chunks, one transaction each (as the collection's batches commit one by one), printing
`committed N` after each, through the production path: hubctl.marketdata.storage (COPY into a
staging table, then INSERT … ON CONFLICT). Running it again loads the same rows.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import sqlalchemy as sa

SECURITIES = 200
DAYS = 1000
CHUNKS = 4
APPLICATION_NAME = "reliability-upsert-task"
SOURCE = "sample"


def tickers() -> list[str]:
    return [f"R{number:04d}" for number in range(SECURITIES)]


def frame(ticker: str) -> pd.DataFrame:
    """The same prices for a ticker every time (the frame contract of hubctl.marketdata.sources)."""
    rng = np.random.default_rng(int(ticker[1:]))
    close = 100 + np.cumsum(rng.normal(0, 1, DAYS))
    open_ = close + rng.normal(0, 0.5, DAYS)
    spread = np.abs(rng.normal(0, 1, DAYS))
    return pd.DataFrame(
        {
            "trade_date": pd.bdate_range("2020-01-01", periods=DAYS).as_unit("ns"),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "adj_close": close * 0.99,
            "volume": rng.integers(0, 10**7, DAYS),
        }
    )


def chunks() -> list[list[str]]:
    names = tickers()
    size = len(names) // CHUNKS
    return [names[start : start + size] for start in range(0, len(names), size)]


def main(url: str) -> None:
    from hubctl.marketdata import storage

    engine = sa.create_engine(
        url, poolclass=sa.NullPool, connect_args={"application_name": APPLICATION_NAME}
    )
    for number, chunk in enumerate(chunks(), start=1):
        with engine.begin() as conn:
            ids = storage.register_securities(conn, tickers=dict.fromkeys(chunk, "NASDAQ"))
            rows = storage.stack_frames({ids[ticker]: frame(ticker) for ticker in chunk})
            storage.upsert_ohlcv(conn, rows=rows, source=SOURCE)
        print(f"committed {number}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
