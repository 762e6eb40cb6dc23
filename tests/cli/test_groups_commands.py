"""hubctl groups: list, show, add, set, enable, disable, remove."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.support.cli import Run, audit_rows, snapshot
from tests.support.configuration import ADD_TSE


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
        "--calendar",
        "XTKS",
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
    assert row["calendar"] == "XTKS"
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
    assert hub(*ADD_TSE, "--calendar", "XTKS").exit_code == 0
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


def test_the_calendar_is_derived_from_the_exchanges_or_named(
    hub: Run, default_config: Engine
) -> None:
    assert hub("groups", "add", "us_otc", "--exchange", "NYSE", "--timezone", "UTC").exit_code == 0
    assert group_row(default_config, "us_otc")["calendar"] == "XNYS"  # type: ignore[index]
    paris = ("groups", "add", "paris", "--exchange", "EURONEXT", "--timezone", "Europe/Paris")
    assert hub(*paris, "--calendar", "XPAR").exit_code == 0
    assert group_row(default_config, "paris")["calendar"] == "XPAR"  # type: ignore[index]
    assert hub(*ADD_TSE, "--calendar", "weekday").exit_code == 0
    assert group_row(default_config, "tse")["calendar"] == "weekday"  # type: ignore[index]
    assert hub("groups", "set", "lse", "calendar=weekday").exit_code == 0
    assert group_row(default_config, "lse")["calendar"] == "weekday"  # type: ignore[index]
    named = hub("groups", "set", "european_markets", "calendar=XAMS")
    assert named.exit_code == 0, named.stderr
    assert group_row(default_config, "european_markets")["calendar"] == "XAMS"  # type: ignore[index]
    # exchanges that change under a derived calendar take theirs along; a named one stays
    assert hub("groups", "set", "us_otc", "exchanges=LSE").exit_code == 0
    assert group_row(default_config, "us_otc")["calendar"] == "XLON"  # type: ignore[index]
    assert hub("groups", "set", "lse", "exchanges=XETRA").exit_code == 0
    assert group_row(default_config, "lse")["calendar"] == "weekday"  # type: ignore[index]


def test_a_calendar_that_is_ambiguous_or_unknown_is_refused_and_nothing_is_written(
    hub: Run, default_config: Engine
) -> None:
    before = snapshot(default_config)
    euronext = hub("groups", "add", "paris", "--exchange", "EURONEXT", "--timezone", "Europe/Paris")
    assert euronext.exit_code == 1
    assert euronext.stderr.strip() == (
        "Error: calendar: exchanges EURONEXT have no single known calendar; set calendar= to one"
        " of XAMS, XBRU, XLIS, XPAR, or to weekday (Monday to Friday, no holidays)"
    )
    unknown = hub(*ADD_TSE)
    assert unknown.exit_code == 1 and "calendar=" in unknown.stderr and "weekday" in unknown.stderr
    mixed = hub("groups", "set", "lse", "exchanges=LSE,NYSE")  # XLON followed LSE: now none
    assert mixed.exit_code == 1 and "no single known calendar" in mixed.stderr
    made_up = hub("groups", "set", "lse", "calendar=XXXX")
    assert made_up.stderr.strip() == (
        "Error: calendar: 'XXXX' is not a calendar exchange_calendars knows (e.g. XNYS, XLON,"
        " XETR, XPAR) nor 'weekday'"
    )
    broken = hub("groups", "set", "lse", "calendar=ASEX")  # listed, but the library fails on it
    assert broken.stderr.startswith("Error: calendar: exchange_calendars cannot build ASEX: ")
    malformed = hub("groups", "set", "lse", "calendar=24/7")
    assert malformed.exit_code == 1 and malformed.stderr.startswith("Error: calendar: String")
    assert snapshot(default_config) == before
