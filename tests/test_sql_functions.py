"""The seed's SQL interface, kept for SQL users: get_dag_config, get_exchange_groups, update_dag_config."""

from __future__ import annotations

import sqlalchemy as sa

KNOBS = (
    "cpu_request", "cpu_limit", "memory_request", "memory_limit", "batch_size", "timeout_seconds",
    "max_retries", "retry_delay_minutes", "enabled", "priority", "max_active_tasks",
)  # fmt: skip


def test_get_dag_config_returns_the_column_defaults_for_an_unknown_job(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        defaults = (
            conn.execute(sa.text("SELECT * FROM hub.get_dag_config('no_such_dag', 'no_such_job')"))
            .mappings()
            .one()
        )
        conn.execute(
            sa.text("INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('d', 'j')")
        )
        stored = conn.execute(sa.text("SELECT * FROM hub.dag_configuration")).mappings().one()
    assert {knob: defaults[knob] for knob in KNOBS} == {knob: stored[knob] for knob in KNOBS}
    assert defaults["version"] == 0 and defaults["params"] == {}


def test_get_dag_config_returns_the_stored_row(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.dag_configuration (dag_name, job_name, batch_size) VALUES ('d', 'j', 42)"
            )
        )
        config = (
            conn.execute(sa.text("SELECT * FROM hub.get_dag_config('d', 'j')")).mappings().one()
        )
    assert config["batch_size"] == 42 and config["version"] == 1


def test_get_exchange_groups_lists_enabled_groups_by_priority(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for name, priority, enabled in (("lse", 8, True), ("us", 10, True), ("off", 9, False)):
            conn.execute(
                sa.text(
                    "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges,"
                    " primary_timezone, priority, enabled, calendar)"
                    " VALUES (:n, :n, ARRAY['X'], 'UTC', :p, :e, 'weekday')"
                ),
                {"n": name, "p": priority, "e": enabled},
            )
        names = conn.execute(sa.text("SELECT group_name FROM hub.get_exchange_groups()")).scalars()
        assert list(names) == ["us", "lse"]


def test_update_dag_config_creates_then_updates_and_audits_the_named_actor(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        created = conn.execute(
            sa.text("SELECT hub.update_dag_config('calculate_indicators', 'all', p_batch_size => 1500,"
                    " p_updated_by => 'admin')")
        ).scalar()  # fmt: skip
        updated = conn.execute(
            sa.text("SELECT hub.update_dag_config('calculate_indicators', 'all',"
                    " p_timeout_seconds => 4800, p_cpu_limit => '3000m', p_updated_by => 'ops')")
        ).scalar()  # fmt: skip
        conn.execute(sa.text("UPDATE hub.dag_configuration SET priority = 9"))
        row = conn.execute(sa.text("SELECT * FROM hub.dag_configuration")).mappings().one()
        audit = conn.execute(
            sa.text("SELECT action, actor, via, changed_fields FROM hub.audit_log ORDER BY id")
        ).all()
    assert (created, updated) == (1, 2)
    assert (row["batch_size"], row["timeout_seconds"], row["cpu_limit"]) == (1500, 4800, "3000m")
    assert row["memory_limit"] == "2Gi"  # untouched knobs keep their defaults
    assert [(a.action, a.actor, a.via) for a in audit] == [
        ("INSERT", "admin", "sql"),
        ("UPDATE", "ops", "sql"),
        ("UPDATE", "postgres", "sql"),  # the named actor applies to that call only
    ]
    assert audit[1].changed_fields == {
        "timeout_seconds": {"old": 3600, "new": 4800},
        "cpu_limit": {"old": "2000m", "new": "3000m"},
    }
