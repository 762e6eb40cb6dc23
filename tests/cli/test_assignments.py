"""KEY=VALUE parsing into typed field changes (no database)."""

from __future__ import annotations

import pytest

from hubctl.cli.assignments import parse_assignments
from hubctl.errors import ValidationError
from hubctl.tables import GROUPS, JOBS


def parse(*items: str, table=JOBS):  # type: ignore[no-untyped-def]
    return parse_assignments(items, table=table)


def test_fields_params_and_nulls() -> None:
    parsed = parse("batch_size=750", "schedule=null", "params.years_back=5", "params.pool=")
    assert parsed.fields == {"batch_size": "750", "schedule": None}
    assert parsed.params == {"years_back": 5, "pool": None}
    edited = parsed.apply_to(
        {"batch_size": 1, "schedule": "@daily", "params": {"pool": "p", "a": 1}}
    )
    assert edited == {"batch_size": "750", "schedule": None, "params": {"a": 1, "years_back": 5}}


def test_list_fields_split_on_commas() -> None:
    assert parse("exchanges=LSE, AIM,", table=GROUPS).fields == {"exchanges": ["LSE", "AIM"]}


def test_whole_params_mapping() -> None:
    assert parse("params={source: yfinance}").fields == {"params": {"source": "yfinance"}}
    with pytest.raises(ValidationError, match="params: expected a mapping"):
        parse("params=5")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("dag_name=x", "unknown key 'dag_name'"),
        ("nokey", "not KEY=VALUE"),
        ("=5", "not KEY=VALUE"),
        ("params.x=1", None),
    ],
)
def test_keys(item: str, message: str | None) -> None:
    if message is None:
        assert parse(item).params == {"x": 1}
        with pytest.raises(ValidationError, match=r"unknown key 'params\.x'"):
            parse(item, table=GROUPS)
        return
    with pytest.raises(ValidationError, match=message):
        parse(item)
