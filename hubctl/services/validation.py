"""Validation shared by every write: pydantic errors as one line naming each field, KEY=VALUE."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hubctl.errors import ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
PARAMS = "params"
_SHOWN_INPUT = (str, int, float, bool, type(None))


def _location(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def pydantic_problems(error: PydanticValidationError, *, prefix: str = "") -> list[str]:
    """One 'field: message (got value)' per problem; model-level rules already name their fields."""
    problems = []
    for problem in error.errors():
        where = _location([*([prefix] if prefix else []), *problem["loc"]])
        message = problem["msg"].removeprefix("Value error, ")
        shown = problem.get("input")
        quoted = repr(str(shown)[:60])
        if problem["loc"] and isinstance(shown, _SHOWN_INPUT) and problem["type"] != "missing":
            message += "" if quoted in message else f" (got {quoted})"
        problems.append(f"{where}: {message}" if where else message)
    return problems


def validate_model(model: type[ModelT], data: Mapping[str, Any], *, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as error:
        raise ValidationError("; ".join(pydantic_problems(error, prefix=prefix))) from None


def normalized_params(dag_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params as the pipeline's model reads them (`"5"` -> 5), keeping only the keys given."""
    from hubctl import pipelines  # reads entry points: only when params are written

    validated = pipelines.validate_params(dag_name, dict(params))
    return validated.model_dump(mode="json", exclude_unset=True)


@dataclass(frozen=True)
class Assignments:
    """KEY=VALUE arguments split into row fields and `params.NAME` keys (None = remove the key)."""

    fields: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def apply_to(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """``current`` (a row's spec values) with these assignments made."""
        edited = {**current, **self.fields}
        if self.params:
            merged = {**edited.get(PARAMS, {}), **self.params}
            edited[PARAMS] = {key: value for key, value in merged.items() if value is not None}
        return edited


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    return typing.get_origin(model.model_fields[name].annotation) is list


def _parsed_value(text: str) -> Any:
    """A KEY=VALUE value read as YAML; imported here, so commands that only read skip PyYAML."""
    from hubctl import yamlio

    return yamlio.parse_value(text)


def _field_value(model: type[BaseModel], name: str, text: str) -> Any:
    if name == PARAMS:
        value = _parsed_value(text)
        if not isinstance(value, dict):
            raise ValidationError(
                f"params: expected a mapping such as {{source: sample}} (got {text!r})"
            )
        return value
    if _is_list_field(model, name):
        return [item.strip() for item in text.split(",") if item.strip()]
    return None if text in ("", "null") else text


def parse_assignments(
    items: Sequence[str], *, model: type[BaseModel], settable: Sequence[str]
) -> Assignments:
    """Parse `batch_size=750 params.years_back=5`; unknown keys are refused with the valid ones."""
    parsed = Assignments()
    for item in items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValidationError(f"{item!r} is not KEY=VALUE (e.g. batch_size=750)")
        if key.startswith(f"{PARAMS}.") and PARAMS in settable:
            parsed.params[key.removeprefix(f"{PARAMS}.")] = _parsed_value(text)
        elif key in settable:
            parsed.fields[key] = _field_value(model, key, text)
        else:
            extra = f", {PARAMS}.NAME" if PARAMS in settable else ""
            raise ValidationError(f"unknown key {key!r}; valid keys: {', '.join(settable)}{extra}")
    return parsed
