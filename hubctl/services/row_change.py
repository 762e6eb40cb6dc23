"""One row's change as services report it, captures record it and requests store it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hubctl.tables import CONTROL_TABLES

Action = Literal["create", "update", "delete", "none"]


@dataclass(frozen=True)
class RowChange:
    """One row's change: its values before and after (spec fields, JSON-ready), and versions."""

    table: str
    key: dict[str, Any]
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    version_before: int | None = None
    version_after: int | None = None

    @property
    def label(self) -> str:
        return CONTROL_TABLES[self.table].label(self.key)

    @property
    def noun(self) -> str:
        return CONTROL_TABLES[self.table].noun

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs: {field: (old, new)}."""
        before, after = self.before or {}, self.after or {}
        return {
            name: (before.get(name), after.get(name))
            for name in dict.fromkeys([*before, *after])
            if before.get(name) != after.get(name)
        }
