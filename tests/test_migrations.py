"""Alembic owns the schema: it goes up and down cleanly, and the models describe what it builds."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hubctl import migrations
from hubctl.models import Base

# Every object a migration could leave behind, outside PostgreSQL's own schemas.
CATALOG_QUERY = sa.text("""
SELECT 'schema:' || nspname FROM pg_namespace
 WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')
UNION ALL
SELECT 'relation:' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'function:' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'trigger:' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'type:' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
ORDER BY 1
""")


def catalog(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(CATALOG_QUERY).scalars())


def test_upgrade_downgrade_upgrade_leaves_no_trace(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url, poolclass=sa.NullPool)
    before = catalog(engine)

    migrations.upgrade(engine)
    migrated = catalog(engine)
    assert migrations.current(engine) == migrations.head()
    assert {"schema:hub", "schema:market", "relation:hub.audit_log"} <= migrated

    migrations.downgrade(engine, "base")
    assert migrations.current(engine) is None
    leftovers = catalog(engine) - before
    # Alembic's own bookkeeping table (and its row type) is all that may remain.
    assert leftovers <= {
        "relation:public.alembic_version",
        "relation:public.alembic_version_pkc",
        "type:public.alembic_version",
        "type:public._alembic_version",
    }

    migrations.upgrade(engine)
    assert catalog(engine) == migrated


def test_models_match_migrations(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, _: (
                    type_ != "schema" or name in {"hub", "market"}
                ),
                "compare_type": True,
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_every_knob_has_a_database_default(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('a_dag', 'a_job')"
            )
        )
        row = conn.execute(sa.text("SELECT * FROM hub.dag_configuration")).mappings().one()
    assert (row["cpu_request"], row["cpu_limit"], row["memory_request"], row["memory_limit"]) == (
        "500m", "2000m", "1Gi", "2Gi",
    )  # fmt: skip
    assert (row["batch_size"], row["timeout_seconds"], row["max_retries"]) == (500, 3600, 3)
    assert (row["retry_delay_minutes"], row["priority"], row["enabled"]) == (5, 5, True)
    assert row["version"] == 1


def test_0011_gives_groups_their_calendar_and_collection_jobs_the_session_close(
    empty_db_url: str,
) -> None:
    """Existing rows: the exchanges' calendar (else weekday), and a collection job's weekday cron
    after the close becomes the same delay after each session's close; and back on downgrade."""
    engine = sa.create_engine(empty_db_url, poolclass=sa.NullPool)
    migrations.upgrade(engine, "0010")
    groups = [("us_markets", "{NYSE,NASDAQ}", "16:00"), ("lse", "{LSE}", "16:30"),
              ("paris", "{EURONEXT}", "17:30"), ("mixed", "{LSE,XETRA}", "17:30")]  # fmt: skip
    jobs = [("data_collection_equities", "us_markets", "30 17 * * 1-5"),
            ("data_collection_equities", "lse", "30 16 * * 1-5"),
            ("data_collection_equities", "paris", "0 9 * * 1-5"),  # before the close: kept
            ("historical_load_equities", "lse", "0 17 * * 1-5")]  # fmt: skip
    with engine.begin() as conn:
        for name, exchanges, close in groups:
            conn.execute(
                sa.text(
                    "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges,"
                    " primary_timezone, market_close) VALUES (:n, :n, CAST(:e AS text[]), 'UTC', :c)"
                ),
                {"n": name, "e": exchanges, "c": close},
            )
        for dag_name, group, schedule in jobs:
            conn.execute(
                sa.text(
                    "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group,"
                    " schedule) VALUES (:d, :g, :g, :s)"
                ),
                {"d": dag_name, "g": group, "s": schedule},
            )

    def read(query: str) -> dict[str, str]:
        with engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(sa.text(query))}

    schedules = "SELECT dag_name || '/' || job_name, schedule FROM hub.dag_configuration"
    migrations.upgrade(engine, "0011")
    assert read("SELECT group_name, calendar FROM hub.exchange_groups") == {
        "us_markets": "XNYS", "lse": "XLON", "paris": "weekday", "mixed": "weekday"
    }  # fmt: skip
    assert read(schedules) == {
        "data_collection_equities/us_markets": "@after_close+90m",
        "data_collection_equities/lse": "@after_close",
        "data_collection_equities/paris": "0 9 * * 1-5",
        "historical_load_equities/lse": "0 17 * * 1-5",
    }
    migrations.downgrade(engine, "0010")
    assert read(schedules) == {f"{d}/{g}": s for d, g, s in jobs}


def test_0017_gives_existing_rows_the_seeds_thresholds_and_no_silences(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url, poolclass=sa.NullPool)
    migrations.upgrade(engine, "0016")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges,"
                " primary_timezone) VALUES ('lse', 'LSE', ARRAY['LSE'], 'Europe/London');"
                " INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group)"
                " VALUES ('d', 'j', 'lse')"
            )
        )
    migrations.upgrade(engine)
    with engine.connect() as conn:
        group = conn.execute(
            sa.text(
                "SELECT data_late_minutes, unreachable_fetches, silences FROM hub.exchange_groups"
            )
        ).one()
        job = conn.execute(
            sa.text(
                "SELECT failure_rate_percent, failure_rate_runs, task_minutes, silences"
                " FROM hub.dag_configuration"
            )
        ).one()
    assert tuple(group) == (60, 3, {}) and tuple(job) == (5, 20, 30, {})
    migrations.downgrade(engine, "0016")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM hub.dag_configuration")).scalar() == 1
