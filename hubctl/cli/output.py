"""The one output option and the one renderer every read command uses.

`table` is for people (rich); `json`, `csv` and `yaml` are for scripts and keep the library's
field names. Rows are dicts; a single object renders as a field/value table (or one CSV row).
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    yaml = "yaml"


OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "-o",
        "--output",
        help="table for people; json, jsonl (one object a line), csv, yaml for scripts.",
    ),
]
Data = Mapping[str, Any] | Sequence[Mapping[str, Any]]
_WIDE = 200  # when stdout is not a terminal, do not wrap tables at 80 columns


def cell(value: Any) -> str:
    """A value in a table or CSV cell: lists joined, mappings as compact JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _csv_cell(value: Any) -> str:
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, separators=(",", ":"), default=str)
    return cell(value)


def _rows(data: Data) -> list[Mapping[str, Any]]:
    return [data] if isinstance(data, Mapping) else list(data)


def _print_table(data: Data, columns: Sequence[str] | None, title: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else _WIDE, soft_wrap=False)
    if isinstance(data, Mapping):
        table = Table("field", "value", title=title, show_header=False)
        for name, value in data.items():
            table.add_row(name, cell(value))
    else:
        names = list(columns or (data[0].keys() if data else []))
        table = Table(*names, title=title)
        for row in data:
            table.add_row(*(cell(row.get(name)) for name in names))
        if not data:
            console.print("(none)")
            return
    console.print(table)


def _print_csv(data: Data) -> None:
    import csv

    rows = _rows(data)
    names = list(dict.fromkeys(name for row in rows for name in row))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in names])


def render(
    data: Data,
    output: OutputFormat,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Print ``data``; ``columns`` and ``title`` shape the table only, never the script formats."""
    if output is OutputFormat.table:
        _print_table(data, columns, title)
    elif output is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2, default=str))
    elif output is OutputFormat.jsonl:
        for row in _rows(data):
            typer.echo(json.dumps(row, default=str))
    elif output is OutputFormat.csv:
        _print_csv(data)
    else:
        from hubctl import yamlio

        typer.echo(yamlio.dump(data if isinstance(data, Mapping) else list(data)).rstrip())
