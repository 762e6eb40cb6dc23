"""`KEY=VALUE` arguments: the command line's way to write typed field changes.

A list field takes comma-separated values, `null` (or nothing) clears a nullable field,
`params.NAME=VALUE` sets one params key (a YAML value; null removes the key) and `params=` a
whole mapping. Which fields exist, and which are lists, comes from the table's description.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubctl.errors import ValidationError
from hubctl.services.rows import PARAMS, FieldChanges
from hubctl.tables import ControlTable


def _parsed_value(key: str, text: str) -> Any:
    """A value read as YAML; imported here, so commands that only read skip PyYAML."""
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import yamlio

    try:
        return yamlio.parse_value(text)
    except yamlio.ExpansionError as error:
        raise ValidationError(f"{key}: {error.problem}") from None


# What a mapping field's value looks like on the command line.
_MAPPING_EXAMPLES = {PARAMS: "{source: sample}", "silences": "{} (hubctl alerts silence sets one)"}


def _field_value(table: ControlTable, name: str, text: str) -> Any:
    if table.field[name].is_json:
        value = _parsed_value(name, text)
        if not isinstance(value, dict):
            raise ValidationError(
                f"{name}: expected a mapping such as {_MAPPING_EXAMPLES[name]} (got {text!r})"
            )
        return value
    if table.field[name].is_list:
        return [item.strip() for item in text.split(",") if item.strip()]
    return None if text in ("", "null") else text


def parse_assignments(items: Sequence[str], *, table: ControlTable) -> FieldChanges:
    """Parse `batch_size=750 params.years_back=5`; unknown keys are refused with the valid ones."""
    fields: dict[str, Any] = {}
    params: dict[str, Any] = {}
    settable = table.settable_fields
    for item in items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValidationError(f"{item!r} is not KEY=VALUE (e.g. batch_size=750)")
        if key.startswith(f"{PARAMS}.") and PARAMS in settable:
            params[key.removeprefix(f"{PARAMS}.")] = _parsed_value(key, text)
        elif key in settable:
            fields[key] = _field_value(table, key, text)
        else:
            extra = f", {PARAMS}.NAME" if PARAMS in settable else ""
            raise ValidationError(f"unknown key {key!r}; valid keys: {', '.join(settable)}{extra}")
    return FieldChanges(fields, params)
