"""hubctl groups: list, show, add, set, enable, disable, remove."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.cli.conftest import Run, audit_rows, snapshot


def group_row(engine: Engine, name: str) -> dict[str, object] | None:
    with engine.connect() as conn:
        query = sa.text("SELECT * FROM hub.exchange_groups WHERE group_name = :name")
        row = conn.execute(query, {"name": name}).mappings().first()
    return dict(row) if row else None


def test_list_and_filter(hub: Run) -> None:
    groups = json.loads(hub("groups", "list", "-o", "json").stdout)
    assert [g["group_name"] for g in groups] == [
        "european_markets",
        "german_markets",
        "lse",
        "us_markets",
    ]
    assert groups[2]["market_open"] == "08:00:00" and groups[3]["exchanges"] == ["NYSE", "NASDAQ"]
    assert hub("groups", "list", "--disabled", "-o", "json").stdout.strip() == "[]"
    assert "London Stock Exchange" in hub("groups", "list").stdout


def test_show_lists_jobs_and_tickers(hub: Run) -> None:
    shown = json.loads(hub("groups", "show", "lse", "-o", "json").stdout)
    assert shown["jobs"] == ["data_collection_equities/lse", "historical_load_equities/lse"]
    assert "AZN.L" in shown["tickers"] and "AAPL" not in shown["tickers"]


def test_add_with_defaults_and_options(hub: Run, default_config: Engine) -> None:
    result = hub(
        "groups",
        "add",
        "tse",
        "--exchange",
        "TSE",
        "--exchange",
        "OSE",
        "--timezone",
        "Asia/Tokyo",
        "--open",
        "09:00",
        "--close",
        "15:00",
        "--priority",
        "4",
        "--actor",
        "bob",
        "-m",
        "Japan",
    )
    assert result.exit_code == 0, result.stderr
    assert "created exchange group tse (version 1)" in result.stdout
    row = group_row(default_config, "tse")
    assert row is not None
    assert (row["display_name"], row["exchanges"], row["priority"]) == ("Tse", ["TSE", "OSE"], 4)
    assert str(row["market_close"]) == "15:00:00" and row["updated_by"] == "bob"
    assert audit_rows(default_config)[-1]["reason"] == "Japan"


def test_set_hours_and_exchanges(hub: Run, default_config: Engine) -> None:
    result = hub("groups", "set", "lse", "market_close=17:00", "exchanges=LSE,AIM")
    assert result.exit_code == 0, result.stderr
    row = group_row(default_config, "lse")
    assert row is not None and row["exchanges"] == ["LSE", "AIM"] and row["version"] == 2
    assert str(row["market_close"]) == "17:00:00"


def test_disable_and_enable_touch_only_the_group(hub: Run, default_config: Engine) -> None:
    before = snapshot(default_config)
    assert hub("groups", "disable", "lse", "-m", "outage").exit_code == 0
    after = snapshot(default_config)
    assert after["dag_configuration"] == before["dag_configuration"]
    assert after["tickers"] == before["tickers"]
    assert len(after["audit_log"]) == len(before["audit_log"]) + 1
    row = group_row(default_config, "lse")
    assert row is not None and row["enabled"] is False
    assert hub("groups", "enable", "lse").exit_code == 0
    row = group_row(default_config, "lse")
    assert row is not None and row["enabled"] is True


def test_remove_refuses_a_group_in_use_and_removes_an_unused_one(
    hub: Run, default_config: Engine
) -> None:
    refused = hub("groups", "remove", "lse")
    assert refused.exit_code == 1 and "data_collection_equities/lse" in refused.stderr
    assert (
        hub("groups", "add", "tse", "--exchange", "TSE", "--timezone", "Asia/Tokyo").exit_code == 0
    )
    result = hub("groups", "remove", "tse", "-m", "not needed")
    assert result.exit_code == 0 and "removed exchange group tse" in result.stdout
    assert group_row(default_config, "tse") is None
    assert audit_rows(default_config)[-1]["action"] == "DELETE"


def test_set_with_expect_version_and_dry_run(hub: Run, default_config: Engine) -> None:
    before = snapshot(default_config)
    assert "dry run" in hub("groups", "set", "lse", "priority=9", "--dry-run").stdout
    assert snapshot(default_config) == before
    assert hub("groups", "set", "lse", "priority=9", "--expect-version", "1").exit_code == 0
    stale = hub("groups", "set", "lse", "priority=2", "--expect-version", "1")
    assert stale.exit_code == 1 and "at version 2" in stale.stderr
