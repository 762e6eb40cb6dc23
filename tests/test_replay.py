"""audit verify replays the log against the live tables: a change without an entry is named."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.db import Database
from hubctl.services import audit

# What a login that owns the tables can do where the event-trigger guard is not installed (a
# managed database migrated by a non-superuser owner): switch the audit off around a write.
NO_GUARD = "DROP EVENT TRIGGER IF EXISTS hub_keep_the_audit_on, hub_keep_the_audit_on_drop"


def unaudited(engine: Engine, table: str, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(NO_GUARD))
        conn.execute(sa.text(f"ALTER TABLE hub.{table} DISABLE TRIGGER ALL"))
        conn.execute(sa.text(statement))
        conn.execute(sa.text(f"ALTER TABLE hub.{table} ENABLE TRIGGER ALL"))


def test_an_untouched_configuration_replays_to_the_live_tables(
    default_config: Engine, database: Database
) -> None:
    with default_config.begin() as conn:  # an audited raw-SQL change is fine
        conn.execute(sa.text("UPDATE hub.exchange_groups SET enabled = false"))
    report = audit.verify(database)
    assert report.ok and report.unaudited == () and report.failure is None


def test_a_market_switched_off_without_an_audit_entry_fails_verify(
    default_config: Engine, database: Database
) -> None:
    """Issue 22 item 10: DISABLE TRIGGER, switch lse off, ENABLE: the chain alone still holds."""
    unaudited(
        default_config,
        "exchange_groups",
        "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'",
    )
    report = audit.verify(database)
    assert report.problem is None and not report.ok  # the chain is intact; the tables are not
    assert report.failure == (
        "exchange_groups lse: enabled is false, the audit log replays true"
        " (changed without an audit entry)"
    )


def test_an_owner_login_that_is_no_superuser_is_caught_too(
    default_config: Engine, database: Database
) -> None:
    """A managed database's owner: no superuser, so no guard was installed; it owns the table."""
    owner = f"test_owner_{uuid.uuid4().hex[:8]}"
    with default_config.begin() as conn:
        conn.execute(sa.text(NO_GUARD))
        conn.execute(sa.text(f"CREATE ROLE {owner}; GRANT USAGE ON SCHEMA hub TO {owner}"))
        conn.execute(sa.text(f"ALTER TABLE hub.exchange_groups OWNER TO {owner}"))
    try:
        with default_config.begin() as conn:
            conn.execute(sa.text(f"SET LOCAL ROLE {owner}"))
            conn.execute(sa.text("ALTER TABLE hub.exchange_groups DISABLE TRIGGER USER"))
            conn.execute(
                sa.text("UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'")
            )
            conn.execute(sa.text("ALTER TABLE hub.exchange_groups ENABLE TRIGGER USER"))
        assert (audit.verify(database).failure or "").startswith(
            "exchange_groups lse: enabled is false, the audit log replays true"
        )
    finally:
        with default_config.begin() as conn:
            conn.execute(sa.text(f"REASSIGN OWNED BY {owner} TO CURRENT_USER"))
            conn.execute(sa.text(f"DROP OWNED BY {owner}; DROP ROLE {owner}"))


def test_rows_added_or_removed_without_an_entry_are_named(
    default_config: Engine, database: Database
) -> None:
    unaudited(default_config, "tickers", "DELETE FROM hub.tickers WHERE ticker = 'HSBA.L'")
    unaudited(
        default_config,
        "dag_configuration",
        "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group, version)"
        " SELECT dag_name, 'ghost', exchange_group, 1 FROM hub.dag_configuration LIMIT 1",
    )
    found = audit.verify(database).unaudited
    assert any(line.startswith("tickers HSBA.L") and "table lacks it" in line for line in found)
    assert any("/ghost: the table holds this row; no audit entry made it" in line for line in found)
    assert len(found) == 2
