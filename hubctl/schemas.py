"""The pydantic models of the control tables, derived from their descriptions in hubctl.tables.

A spec is what users write (the description's fields); a record adds what the database keeps
(version, timestamps, who changed it last). Nothing about a field is written here: its type,
default, rules and help come from the description class that each spec inherits.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, model_validator

from hubctl import tables


class _Spec(BaseModel):
    """Strict: unknown fields are refused, assignments validated, cross-field rules applied."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_assignment=True)

    @model_validator(mode="after")
    def _rules(self) -> _Spec:
        check = getattr(self, "check", None)
        if check is not None:
            check()
        return self


class Bookkeeping(BaseModel):
    """What the database maintains on every control row."""

    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str


_RECORD = ConfigDict(extra="ignore", from_attributes=True)


class ExchangeGroupSpec(_Spec, tables.ExchangeGroup):
    pass


class JobSpec(_Spec, tables.Job):
    pass


class TickerSpec(_Spec, tables.Ticker):
    pass


class ExchangeGroupRecord(ExchangeGroupSpec, Bookkeeping):
    model_config = _RECORD


class JobRecord(JobSpec, Bookkeeping):
    model_config = _RECORD


class TickerRecord(TickerSpec, Bookkeeping):
    model_config = _RECORD
