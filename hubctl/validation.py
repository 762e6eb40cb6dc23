"""Validation shared by every write: pydantic errors as one line naming each field, params."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hubctl.errors import ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
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
    # deferred: the registry builds the built-in params models (~20 ms); only writes of params
    # need it, not every command that imports this module
    from hubctl.registry import validate_params

    validated = validate_params(dag_name, dict(params))
    return validated.model_dump(mode="json", exclude_unset=True)
