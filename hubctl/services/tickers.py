"""The ticker universe: list (per group), add, remove, import from CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hubctl import configfile
from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import ValidationError
from hubctl.services import documents, rows
from hubctl.services.changes import audited_change
from hubctl.services.rows import RowChange
from hubctl.tables import TICKERS

CSV_COLUMNS = ("ticker", "exchange", "groupings", "enabled")
REQUIRED_CSV_COLUMNS = ("ticker", "exchange")
_ROW_INDEX = re.compile(r"tickers\[(\d+)\]")


def add_ticker(
    database: Database,
    *,
    ticker: str,
    exchange: str,
    groupings: Sequence[str] = (),
    enabled: bool = True,
    author: Author,
) -> RowChange:
    values = {
        "ticker": ticker,
        "exchange": exchange,
        "groupings": list(groupings),
        "enabled": enabled,
    }
    with audited_change(database, author) as conn:
        return rows.create_row(conn, table=TICKERS, values=values)


def remove_ticker(database: Database, *, ticker: str, author: Author) -> RowChange:
    with audited_change(database, author) as conn:
        return rows.delete_row(conn, table=TICKERS, key={"ticker": ticker})


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    values: dict[str, Any] = {name: (row.get(name) or "").strip() for name in REQUIRED_CSV_COLUMNS}
    groupings = (row.get("groupings") or "").replace(";", " ").split()
    values["groupings"] = groupings
    if (row.get("enabled") or "").strip():
        values["enabled"] = (row.get("enabled") or "").strip()
    return values


def parse_tickers_csv(text: str, *, source: str = "tickers.csv") -> configfile.ConfigDocument:
    """CSV with a header: ticker,exchange[,groupings][,enabled]; groupings separated by ';'."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_CSV_COLUMNS if name not in header]
    extra = [name for name in header if name not in CSV_COLUMNS]
    if missing or extra:
        raise ValidationError(
            f"{source}: header must name {', '.join(REQUIRED_CSV_COLUMNS)} and optionally "
            f"groupings, enabled (missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})"
        )
    reader.fieldnames = header
    try:
        return configfile.parse_document({"tickers": [_csv_row(r) for r in reader]}, source=source)
    except ValidationError as error:  # tickers[0] is the first data row: line 2 of the file
        raise ValidationError(
            _ROW_INDEX.sub(lambda m: f"line {int(m[1]) + 2}", str(error))
        ) from None


def import_tickers(database: Database, *, path: Path, author: Author) -> documents.ApplyResult:
    """Create the file's new tickers and update changed ones in one change set; remove none."""
    text = configfile.read_text(path, encoding="utf-8-sig")
    document = parse_tickers_csv(text, source=str(path))
    return documents.apply_document(database, document, author=author, mode="merge")
