"""The one output option and the one renderer every read command uses.

`table` is for people (rich); `json`, `csv` and `yaml` are for scripts and keep the library's
field names. Rows are dicts; a single object renders as a field/value table (or one CSV row).

Stored text is hostile until shown otherwise, and each format defends the reader it is for:

* table: every cell is a rich `Text` (never markup, so `[/]` or `[link=...]` is shown as typed),
  and control characters are shown escaped (`\x1b`, `\n`), so no stored byte drives the terminal;
* csv: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
  `'` (OWASP's rule against spreadsheet formulas); numbers are not text and stay as they are;
* json and yaml: the text exactly as stored.
"""

from __future__ import annotations

import csv
import enum
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from hubctl.csvcells import cell, csv_cell
from hubctl.text import visible


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
_WIDE = 1000  # when stdout is not a terminal, do not wrap tables at 80 columns


def echo(line: str, *, err: bool = False) -> None:
    """Print one line that may carry stored text (change reports, plans, errors)."""
    typer.echo(visible(line), err=err)


def _rows(data: Data) -> list[Mapping[str, Any]]:
    return [data] if isinstance(data, Mapping) else list(data)


def _print_table(data: Data, columns: Sequence[str] | None, title: str | None) -> None:
    # deferred: rich's console and table cost ~50 ms; only table output needs them
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    def shown(value: Any) -> Text:  # a Text is never parsed as markup, emoji or highlighted
        return Text(visible(cell(value)))

    console = Console(width=None if sys.stdout.isatty() else _WIDE, soft_wrap=False)
    caption = shown(title) if title else None
    if isinstance(data, Mapping):
        table = Table("field", "value", title=caption, show_header=False)
        for name, value in data.items():
            table.add_row(shown(name), shown(value))
    else:
        names = list(columns or (data[0].keys() if data else []))
        table = Table(*(Column(shown(name)) for name in names), title=caption)
        for row in data:
            table.add_row(*(shown(row.get(name)) for name in names))
        if not data:
            console.print("(none)")
            return
    console.print(table)


def _print_csv(data: Data) -> None:

    rows = _rows(data)
    names = list(dict.fromkeys(name for row in rows for name in row))
    # RFC 4180's CRLF: the csv module quotes a field holding any character of the terminator,
    # and with "\n" alone a stored carriage return went out unquoted and split the row.
    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_cell(row.get(name)) for name in names])


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
        # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
        from hubctl import yamlio

        typer.echo(yamlio.dump(data if isinstance(data, Mapping) else list(data)).rstrip())
