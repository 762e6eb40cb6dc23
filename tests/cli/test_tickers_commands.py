"""hubctl tickers: list, add, remove, import."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.cli import Run, audit_rows, last_audit_id, snapshot


def tickers(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT * FROM hub.tickers")).mappings()
        return {row["ticker"]: dict(row) for row in found}


def test_list_all_and_by_group(hub: Run) -> None:
    assert len(json.loads(hub("tickers", "list", "-o", "json").stdout)) == 28
    lse = json.loads(hub("tickers", "list", "--group", "lse", "-o", "json").stdout)
    assert {row["exchange"] for row in lse} == {"LSE"} and len(lse) == 6
    us = hub("tickers", "list", "--group", "us_markets", "-o", "csv").stdout.splitlines()
    assert us[0] == "ticker,exchange,groupings,enabled,version,created_at,updated_at,updated_by"
    assert len(us) == 11


def test_add_and_remove(hub: Run, default_config: Engine) -> None:
    result = hub(
        "tickers",
        "add",
        "RIO.L",
        "--exchange",
        "LSE",
        "--grouping",
        "ftse100",
        "--grouping",
        "miners",
        "-m",
        "new",
    )
    assert result.exit_code == 0, result.stderr
    assert tickers(default_config)["RIO.L"]["groupings"] == ["ftse100", "miners"]
    assert hub("tickers", "remove", "RIO.L").exit_code == 0
    assert "RIO.L" not in tickers(default_config)
    assert [e["action"] for e in audit_rows(default_config)[-2:]] == ["INSERT", "DELETE"]


def test_import_creates_and_updates_in_one_change_set(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "universe.csv"
    path.write_text(
        "ticker,exchange,groupings,enabled\n"
        "RIO.L,LSE,ftse100;miners,true\n"
        "AAPL,NASDAQ,sp500;nasdaq100;dow30,\n"
        "MSFT,NASDAQ,sp500;nasdaq100,\n"
    )
    before = last_audit_id(default_config)
    result = hub("tickers", "import", str(path), "-m", "quarterly rebalance")
    assert result.exit_code == 0, result.stderr
    assert "1 created, 1 updated" in result.stdout
    found = tickers(default_config)
    assert found["RIO.L"]["groupings"] == ["ftse100", "miners"]
    assert found["AAPL"]["groupings"] == ["sp500", "nasdaq100", "dow30"]
    assert len(found) == 29  # nothing removed
    entries = audit_rows(default_config, before)
    assert len(entries) == 2 and len({e["change_set"] for e in entries}) == 1


def test_import_reports_every_bad_line_and_writes_nothing(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ticker,exchange\nGOOD.L,LSE\nbad,LSE\nOK.L,lse\nGOOD.L,LSE\n")
    before = snapshot(default_config)
    result = hub("tickers", "import", str(path))
    assert result.exit_code == 1
    for expected in ("line 3.ticker", "line 4.exchange", "line 5: duplicate ticker"):
        assert expected in result.stderr
    assert snapshot(default_config) == before


def test_import_refuses_an_unknown_header(hub: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,exchange\nRIO.L,LSE\n")
    result = hub("tickers", "import", str(path))
    assert result.exit_code == 1 and "unknown: symbol" in result.stderr
