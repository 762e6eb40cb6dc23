"""Reading the audit log: filters, the newest entry of a row, group names in history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import models
from hubctl.author import Author
from hubctl.db import Connection
from hubctl.repository import audit as audit_rows
from hubctl.services import config, groups
from hubctl.services.rows import FieldChanges
from tests.support.configuration import add_tse_group
from tests.support.databases import database_of


def entries(
    conn: Connection,
    *,
    group_exchanges: Sequence[str] = (),
    limit: int | None = None,
    **filters: Any,
) -> list[dict[str, Any]]:
    """The stream of matching entries (newest first), as a list."""
    return list(
        audit_rows.stream_entries(
            conn, filters=filters, group_exchanges=group_exchanges, limit=limit
        )
    )


def test_filters(default_config: Engine) -> None:
    database = database_of(default_config)
    config.set_job(
        database,
        dag_name="data_collection_equities",
        job_name="lse",
        changes=FieldChanges({"batch_size": 10}),
        author=Author("zoe"),
    )
    with database.connect() as conn:
        assert len(entries(conn)) == 45
        [newest] = entries(conn, actor="zoe")
        assert newest["table_name"] == "dag_configuration" and newest["id"] == 45
        assert len(entries(conn, table="exchange_groups")) == 4
        assert len(entries(conn, dag_name="data_collection_equities")) == 5
        lse = entries(conn, group="lse", group_exchanges=["LSE"])
        assert len(lse) == 1 + 3 + 6  # group, two job inserts and one update, six tickers
        future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert entries(conn, since=future) == []
        assert [e["id"] for e in entries(conn, limit=2)] == [45, 44]


def test_a_group_page_is_its_newest_entries_below_the_keyset(default_config: Engine) -> None:
    """The group filter reads each of its parts on its own and merges them: a page is still the
    newest ``limit`` of all of them, each once (a job update matches old and new group alike)."""
    database = database_of(default_config)
    for size in (11, 12, 13):
        config.set_job(
            database,
            dag_name="data_collection_equities",
            job_name="lse",
            changes=FieldChanges({"batch_size": size}),
            author=Author("zoe"),
        )
    with database.connect() as conn:
        about = [e["id"] for e in entries(conn, group="lse", group_exchanges=["LSE"])]
        # the group, its two job inserts, three updates, six tickers
        assert len(about) == len(set(about)) == 1 + 2 + 3 + 6
        assert about == sorted(about, reverse=True)
        page = entries(conn, group="lse", group_exchanges=["LSE"], limit=4)
        assert [e["id"] for e in page] == about[:4]
        below = entries(conn, group="lse", group_exchanges=["LSE"], limit=4, before_id=about[3])
        assert [e["id"] for e in below] == about[4:8]
        by_zoe = entries(conn, group="lse", group_exchanges=["LSE"], actor="zoe", limit=2)
        assert [e["id"] for e in by_zoe] == about[:2]


def test_latest_entry_of_a_row(default_config: Engine) -> None:
    key = {"dag_name": "calculate_indicators", "job_name": "all"}
    database = database_of(default_config)
    with database.connect() as conn:
        first = audit_rows.latest_entry(conn, table="dag_configuration", key=key)
    config.set_job(database, changes=FieldChanges({"priority": 6}), author=Author("t"), **key)
    with database.connect() as conn:
        later = audit_rows.latest_entry(conn, table="dag_configuration", key=key)
        assert first is not None and later == {"id": 45, "action": "UPDATE"}
        assert first["id"] < later["id"]
        entry = audit_rows.get_entry(conn, entry_id=later["id"])
        assert entry is not None and entry["changed_fields"] == {"priority": {"old": 5, "new": 6}}
        assert audit_rows.get_entry(conn, entry_id=10_000) is None


def test_a_truncate_counts_as_the_latest_change_of_every_row(default_config: Engine) -> None:
    with default_config.begin() as conn:
        conn.execute(sa.text("TRUNCATE hub.tickers"))
    with default_config.connect() as conn:
        newest = conn.scalar(sa.text("SELECT max(id) FROM hub.audit_log"))
    with database_of(default_config).connect() as conn:
        found = audit_rows.latest_entry(conn, table="tickers", key={"ticker": "AAPL"})
    assert found == {"id": newest, "action": "TRUNCATE"}


def test_removed_groups_stay_in_history(default_config: Engine) -> None:
    database = database_of(default_config)
    add_tse_group(database)
    groups.remove_group(database, group_name="tse", author=Author("t"))
    with database.connect() as conn:
        assert "tse" in audit_rows.audited_group_names(conn)


def test_the_audit_columns_match_the_model() -> None:
    assert list(audit_rows.AUDIT_COLUMNS) == list(models.AuditLog.__table__.c.keys())
