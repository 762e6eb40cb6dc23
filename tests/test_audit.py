"""The audit lives in the database: every path is recorded, nothing can be rewritten unnoticed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hubctl.audit import ChainReport, verify_chain
from hubctl.author import Author
from hubctl.db import audited_transaction
from hubctl.repository.rows import fetch
from tests.support.audit import tamper
from tests.support.databases import database_of

INSERT_GROUP = sa.text(
    "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone,"
    " calendar) VALUES (:name, 'Group', ARRAY['LSE'], 'Europe/London', 'XLON')"
)
INSERT_JOB = sa.text("INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('dag', :job)")


def verify(engine: sa.Engine) -> ChainReport:
    with database_of(engine).connect() as conn:
        return verify_chain(conn)


def audit_rows(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text("SELECT * FROM hub.audit_log ORDER BY id")).mappings()
    return [dict(row) for row in rows]


def test_actor_reason_and_change_set_come_from_the_transaction_settings(engine: sa.Engine) -> None:
    database = database_of(engine)
    with audited_transaction(
        database, author=Author("alice", reason="new market"), change_set="cs-1"
    ) as conn:
        fetch(conn, INSERT_GROUP.text.replace(":name", "%(name)s"), {"name": "lse"})
    with engine.connect() as conn:
        (entry,) = audit_rows(conn)
        row = conn.execute(sa.text("SELECT * FROM hub.exchange_groups")).mappings().one()
    assert (entry["actor"], entry["reason"], entry["change_set"], entry["via"]) == (
        "alice", "new market", "cs-1", "hubctl",
    )  # fmt: skip
    assert (entry["action"], entry["table_name"], entry["row_key"]) == (
        "INSERT", "exchange_groups", {"group_name": "lse"},
    )  # fmt: skip
    assert entry["changed_fields"]["exchanges"] == {"old": None, "new": ["LSE"]}
    assert entry["db_user"] == "postgres" and entry["txid"] > 0
    assert row["updated_by"] == "alice" and row["version"] == 1


def test_settings_do_not_leak_past_the_transaction(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(sa.text("SELECT set_config('hub.actor', 'alice', true)"))
            conn.execute(INSERT_GROUP, {"name": "lse"})
        with conn.begin():
            conn.execute(INSERT_GROUP, {"name": "us_markets"})
        actors = [row["actor"] for row in audit_rows(conn)]
    assert actors == ["alice", "postgres"]


def test_raw_sql_is_recorded_as_sql_with_the_database_user(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT_GROUP, {"name": "lse"})
        conn.execute(sa.text("UPDATE hub.exchange_groups SET enabled = false"))
        entries = audit_rows(conn)
    assert [(e["action"], e["via"], e["actor"], e["db_user"]) for e in entries] == [
        ("INSERT", "sql", "postgres", "postgres"),
        ("UPDATE", "sql", "postgres", "postgres"),
    ]
    assert entries[1]["changed_fields"] == {"enabled": {"old": True, "new": False}}
    assert entries[0]["reason"] is None and entries[0]["change_set"] is None


def test_update_bumps_version_and_records_only_changed_fields(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "j"})
        conn.execute(
            sa.text("UPDATE hub.dag_configuration SET batch_size = 750, cpu_limit = '3000m'")
        )
        version = conn.execute(sa.text("SELECT version FROM hub.dag_configuration")).scalar()
        last = audit_rows(conn)[-1]
    assert version == 2
    assert last["changed_fields"] == {
        "batch_size": {"old": 500, "new": 750},
        "cpu_limit": {"old": "2000m", "new": "3000m"},
    }
    assert last["old_row"]["batch_size"] == 500 and last["new_row"]["batch_size"] == 750


def test_no_op_update_writes_nothing(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "j"})
        before = conn.execute(
            sa.text("SELECT version, updated_at FROM hub.dag_configuration")
        ).one()
        conn.execute(sa.text("UPDATE hub.dag_configuration SET batch_size = batch_size"))
        conn.execute(
            sa.text("UPDATE hub.dag_configuration SET version = 99, updated_by = 'mallory'")
        )
        after = conn.execute(sa.text("SELECT version, updated_at FROM hub.dag_configuration")).one()
        assert len(audit_rows(conn)) == 1
    assert after == before


def test_delete_and_truncate_are_recorded_with_the_rows_they_removed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for job in ("a", "b", "c"):
            conn.execute(INSERT_JOB, {"job": job})
        conn.execute(sa.text("DELETE FROM hub.dag_configuration WHERE job_name = 'a'"))
        conn.execute(sa.text("TRUNCATE hub.dag_configuration"))
        entries = audit_rows(conn)
    delete, truncate = entries[-2], entries[-1]
    assert delete["action"] == "DELETE" and delete["row_key"] == {
        "dag_name": "dag",
        "job_name": "a",
    }
    assert delete["new_row"] is None and delete["old_row"]["job_name"] == "a"
    assert truncate["action"] == "TRUNCATE"
    assert sorted(row["job_name"] for row in truncate["old_row"]) == ["b", "c"]


def test_replica_mode_does_not_bypass_the_audit(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(INSERT_JOB, {"job": "j"})
        assert len(audit_rows(conn)) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE hub.audit_log SET actor = 'mallory'",
        "DELETE FROM hub.audit_log",
        "TRUNCATE hub.audit_log",
    ],
)
def test_audit_log_is_append_only(engine: sa.Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "j"})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert [e["actor"] for e in audit_rows(conn)] == ["postgres"]


def make_history(engine: sa.Engine, changes: int = 5) -> None:
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "j"})
    for size in range(1, changes):
        with audited_transaction(
            database_of(engine), author=Author("bob", reason=f"step {size}")
        ) as conn:
            fetch(conn, "UPDATE hub.dag_configuration SET batch_size = %(s)s", {"s": size})


def test_untouched_chain_verifies(engine: sa.Engine) -> None:
    make_history(engine)
    report = verify(engine)
    with engine.connect() as conn:
        last_id = conn.execute(sa.text("SELECT max(id) FROM hub.audit_log")).scalar()
    assert report.ok and report.rows_checked == 5 and report.last_id == last_id


@pytest.mark.parametrize(
    ("statement", "broken"),
    [
        ("UPDATE hub.audit_log SET actor = 'mallory' WHERE id = 3", 3),
        ("UPDATE hub.audit_log SET changed_fields = '{}' WHERE id = 2", 2),
        ("UPDATE hub.audit_log SET occurred_at = occurred_at - interval '1 day' WHERE id = 4", 4),
        ("DELETE FROM hub.audit_log WHERE id = 3", 4),
        ("DELETE FROM hub.audit_log WHERE id = 5", 5),
    ],
)
def test_tampering_by_a_superuser_is_detected(
    engine: sa.Engine, statement: str, broken: int
) -> None:
    make_history(engine)
    tamper(engine, statement)
    report = verify(engine)
    assert not report.ok and report.first_broken_id == broken


def test_concurrent_writers_keep_one_chain(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for job in ("a", "b", "c", "d"):
            conn.execute(INSERT_JOB, {"job": job})

    def writer(job: str) -> None:
        for size in range(1, 11):
            with audited_transaction(database_of(engine), author=Author(f"writer-{job}")) as conn:
                fetch(
                    conn,
                    "UPDATE hub.dag_configuration SET batch_size = %(s)s WHERE job_name = %(j)s",
                    {"s": size, "j": job},
                )

    threads = [threading.Thread(target=writer, args=(job,)) for job in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify(engine)
    assert report.ok and report.rows_checked == 4 + 40


def test_via_is_claimed_like_the_actor_and_db_user_is_what_the_database_knows(
    engine: sa.Engine,
) -> None:
    """docs/audit.md: `via` and `actor` are what the session says; `db_user` is its login.

    A psql user who sets hub.via and hub.actor is recorded with those claims, and with the login
    it really used: an auditor reads db_user to know which database role made the change.
    """
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('hub.via', 'hubctl', true)"))
        conn.execute(sa.text("SELECT set_config('hub.actor', 'alice', true)"))
        conn.execute(INSERT_JOB, {"job": "claimed"})
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "plain"})
        claimed, plain = audit_rows(conn)[-2:]
        login = conn.execute(sa.text("SELECT session_user")).scalar()
    assert (claimed["via"], claimed["actor"], claimed["db_user"]) == ("hubctl", "alice", login)
    assert (plain["via"], plain["actor"], plain["db_user"]) == ("sql", login, login)


def test_a_rolled_back_change_leaves_a_gap_in_the_ids_and_the_chain_still_verifies(
    engine: sa.Engine,
) -> None:
    """docs/audit.md: ids are not gap-free; completeness is the chain's, not the ids'."""
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "kept"})
    with engine.connect() as conn:  # writes an entry, then rolls it back: its id is used up
        transaction = conn.begin()
        conn.execute(INSERT_JOB, {"job": "rolled_back"})
        transaction.rollback()
    with engine.begin() as conn:
        conn.execute(INSERT_JOB, {"job": "after"})
        ids = [row["id"] for row in audit_rows(conn)]
    assert len(ids) == 2 and ids[1] > ids[0] + 1  # a gap
    with database_of(engine).connect() as conn:
        report = verify_chain(conn)
    assert report.ok and report.rows_checked == 2
