"""The listener keeps its position and heartbeat in hub.listener_state, and a position it cannot
trust (none, or ahead of the audit head) costs one re-parse of every unit, never a lost change.

Real PostgreSQL; Airflow's API is tests/support/airflow_stand_in.py, which records what was asked for.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hubctl.listener import CHANNEL, SETTLE_SECONDS, Listener
from hubctl.settings import Settings
from hubctl.shards import all_shards, shard_folder, shard_of_group, write_shard_files
from tests.support.airflow_stand_in import AirflowStandIn, airflow_stand_in

UNITS = 3


def head_id(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT coalesce(last_id, 0) FROM hub.audit_chain_head")
            ).scalar_one()
        )


def stored(engine: sa.Engine, name: str = "default") -> sa.RowMapping | None:
    with engine.connect() as conn:
        query = sa.text(
            "SELECT last_audit_id, heartbeat_at, started_at, host, pid"
            " FROM hub.listener_state WHERE name = :name"
        )
        return conn.execute(query, {"name": name}).mappings().one_or_none()


def disable_lse(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'")
        )


def settings_for(db_url: str, home: Path, units: int) -> Settings:
    settings = Settings(database_url=db_url, home=home, dag_shards=units)
    if units > 1:
        write_shard_files(shard_folder(settings), units)
    return settings


@pytest.fixture
def units(tmp_path: Path) -> Iterator[AirflowStandIn]:
    """Airflow serving a DAG from each of the UNITS parse units."""
    with airflow_stand_in([shard.file_name for shard in all_shards(UNITS)]) as stand_in:
        yield stand_in


def serve_once(listener: Listener, *, start: bool = True) -> None:
    """What one wake-up of `hubctl listen` does, on its own connection."""
    with listener.database.listening(CHANNEL) as conn:
        if start:
            listener.start(conn)
        listener.catch_up(conn)


def test_a_first_start_re_parses_every_unit_once_then_only_what_changes(
    default_config: sa.Engine,
    db_url: str,
    tmp_path: Path,
    units: AirflowStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No row (a first start, or a row removed): starting at the newest entry would lose what was
    committed while no listener ran, so every unit is asked for once."""
    listener = Listener(settings_for(db_url, tmp_path, UNITS), units.api())
    with caplog.at_level(logging.WARNING, "hubctl.listener"):
        serve_once(listener)
    assert "has no stored position" in caplog.text
    assert sorted(units.parse_requests) == sorted(units.files)
    assert stored(default_config)["last_audit_id"] == head_id(default_config)

    lse_unit = all_shards(UNITS)[shard_of_group("lse", UNITS)].file_name
    units.requests.clear()
    with listener.database.listening(CHANNEL) as conn:
        listener.catch_up(conn)  # nothing new
        time.sleep(SETTLE_SECONDS)
        listener.settle()  # no second request after re-parsing everything
        assert units.parse_requests == []
        disable_lse(default_config)
        listener.catch_up(conn)
        assert units.parse_requests == [lse_unit]
        time.sleep(SETTLE_SECONDS)
        listener.settle()  # a change just after the unit's previous parse: asked once more
    assert units.parse_requests == [lse_unit, lse_unit]
    assert stored(default_config)["last_audit_id"] == head_id(default_config)


def test_the_position_and_heartbeat_are_stored_and_survive_a_restart(
    default_config: sa.Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A single-file install: the one unit is the package's hub_dags.py."""
    settings = settings_for(db_url, tmp_path, 1)
    with airflow_stand_in(["hub_dags.py"]) as airflow:
        serve_once(Listener(settings, airflow.api()))
        first = stored(default_config)
        assert first is not None and first["last_audit_id"] == head_id(default_config)
        assert first["host"] and first["pid"] > 0

        disable_lse(default_config)  # while no listener runs
        airflow.requests.clear()
        caplog.clear()
        restarted = Listener(settings, airflow.api())
        with caplog.at_level(logging.WARNING, "hubctl.listener"):
            serve_once(restarted)
    assert restarted.last_id == head_id(default_config) > first["last_audit_id"]
    assert airflow.parse_requests == ["hub_dags.py"]
    assert caplog.text == ""  # a position it trusts: nothing to report
    second = stored(default_config)
    assert second["last_audit_id"] == head_id(default_config)
    assert second["started_at"] > first["started_at"]
    assert second["heartbeat_at"] > first["heartbeat_at"]


def test_a_position_ahead_of_the_head_is_logged_and_every_unit_re_parsed(
    default_config: sa.Engine,
    db_url: str,
    tmp_path: Path,
    units: AirflowStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A restored or recreated database: the stored position names entries that no longer exist,
    and following from there would ignore every change until the log grew past it."""
    head = head_id(default_config)
    with default_config.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.listener_state (name, last_audit_id, host, pid)"
                " VALUES ('default', :ahead, 'old-host', 1)"
            ),
            {"ahead": head + 1000},
        )
    listener = Listener(settings_for(db_url, tmp_path, UNITS), units.api())
    with caplog.at_level(logging.WARNING, "hubctl.listener"):
        serve_once(listener)
    assert f"stored position {head + 1000} is ahead of the audit head {head}" in caplog.text
    assert sorted(units.parse_requests) == sorted(units.files)
    assert stored(default_config)["last_audit_id"] == head == listener.last_id


def test_a_position_that_moves_ahead_while_running_is_caught_too(
    default_config: sa.Engine,
    db_url: str,
    tmp_path: Path,
    units: AirflowStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database restored under a running listener: it reconnects with its position in memory."""
    listener = Listener(settings_for(db_url, tmp_path, UNITS), units.api())
    serve_once(listener)
    head = head_id(default_config)
    listener.last_id = head + 5  # what it had read before the restore
    units.requests.clear()
    with caplog.at_level(logging.WARNING, "hubctl.listener"):
        serve_once(listener, start=False)
    assert "ahead of the audit head" in caplog.text
    assert sorted(units.parse_requests) == sorted(units.files)
    assert listener.last_id == head


def test_an_already_pending_request_counts_as_asked(
    default_config: sa.Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """HTTP 409: Airflow already holds a request for the file, not yet parsed; the listener moves
    on instead of retrying forever."""
    with airflow_stand_in(["hub_dags.py"], conflict=True) as airflow:
        listener = Listener(settings_for(db_url, tmp_path, 1), airflow.api())
        with caplog.at_level(logging.WARNING, "hubctl.listener"):
            serve_once(listener)
    assert airflow.parse_requests == ["hub_dags.py"]
    assert listener.last_id == head_id(default_config)
    assert "will retry" not in caplog.text


def test_the_runtime_login_keeps_its_row_unaudited(
    default_config: sa.Engine, tmp_path: Path
) -> None:
    """Operational state: a listener connected as a member of hub_operator (the runtime login's
    role) starts and records its position; the audit log does not grow, and only the owner may
    delete a row."""
    login = f"test_listener_{uuid.uuid4().hex[:8]}"
    with default_config.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {login} LOGIN IN ROLE hub_operator"))
    login_url = make_url(str(default_config.url)).set(username=login)
    runtime = sa.create_engine(login_url, poolclass=sa.NullPool)
    before = head_id(default_config)
    try:
        settings = settings_for(login_url.render_as_string(hide_password=False), tmp_path, 1)
        with airflow_stand_in(["hub_dags.py"]) as airflow:
            serve_once(Listener(settings, airflow.api()))
        with (
            pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
            runtime.begin() as conn,
        ):
            conn.execute(sa.text("DELETE FROM hub.listener_state"))
    finally:
        runtime.dispose()
        with default_config.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {login}; DROP ROLE {login}"))
    assert stored(default_config)["last_audit_id"] == before == head_id(default_config)


def test_a_garbage_position_file_from_before_the_table_changes_nothing(
    default_config: sa.Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before migration 0014 the position lived in a file beside the snapshot; an unreadable one
    made the listener start from the newest entry and lose what changed while it was stopped.
    The file is ignored now: the stored row decides, and the change made meanwhile is parsed."""
    settings = settings_for(db_url, tmp_path, 1)
    legacy = settings.resolved_snapshot_path.parent / "listener-position"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    with airflow_stand_in(["hub_dags.py"]) as airflow:
        serve_once(Listener(settings, airflow.api()))
        first = stored(default_config)["last_audit_id"]
        legacy.write_bytes(b"\xff\xfe not a position \x00")
        disable_lse(default_config)  # while no listener runs
        airflow.requests.clear()
        caplog.clear()
        restarted = Listener(settings, airflow.api())
        with caplog.at_level(logging.WARNING, "hubctl.listener"):
            serve_once(restarted)
    assert head_id(default_config) > first
    assert restarted.last_id == head_id(default_config)
    assert airflow.parse_requests == ["hub_dags.py"]
    assert caplog.text == ""
