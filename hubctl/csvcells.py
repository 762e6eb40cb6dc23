"""Values as text cells, shared by the CLI's table and CSV output and the Markets page's export.

A CSV text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
`'` (OWASP's rule against spreadsheet formulas); numbers are not text and stay as they are.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def csv_cell(value: Any) -> Any:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value  # a number is not a formula, whatever its sign
    text = (
        json.dumps(value, separators=(",", ":"), default=str)
        if isinstance(value, list | tuple | Mapping)
        else cell(value)
    )
    return f"'{text}" if text.startswith(_FORMULA_START) else text
