"""No hubctl command, and no parse, waits forever (issue 17, items 1-3).

A server that accepted the login and went silent is bounded by the client's own deadline
(HUB_STATEMENT_TIMEOUT_MS + HUB_ANSWER_GRACE_SECONDS); a lock another session holds is bounded by
HUB_LOCK_TIMEOUT_MS, and the error names the relation and the session that holds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg2
import pytest
from sqlalchemy.engine import Engine

from hubctl.settings import get_settings
from hubctl.specs import load_specs
from tests.support.cli import Run, snapshot
from tests.support.configuration import DEFAULT_DAG_IDS
from tests.support.silent_endpoint import SilentEndpoint, silent_endpoint

DAG, JOB = "data_collection_equities", "us_markets"
# Airflow kills a parse after dagbag_import_timeout (30 s): the bound must sit well inside it.
WELL_INSIDE_THE_IMPORT_TIMEOUT = 15.0


@pytest.fixture
def silent(hub: Run, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentEndpoint]:
    """HUB_DATABASE_URL now points at an endpoint that logs in and then never answers."""
    with silent_endpoint(db_url) as endpoint:
        monkeypatch.setenv("HUB_DATABASE_URL", endpoint.url)
        get_settings.cache_clear()
        yield endpoint
    get_settings.cache_clear()


def _timed(run: Run, *args: str) -> tuple[float, str, int]:
    started = time.monotonic()
    result = run(*args)
    return time.monotonic() - started, result.stderr, result.exit_code


@pytest.mark.parametrize(
    "command",
    [
        ("config", "list"),
        ("config", "get", DAG, JOB),
        ("config", "set", DAG, JOB, "batch_size=640", "-m", "during a hang"),
        ("dags", "list"),
    ],
)
def test_a_command_against_a_silent_server_ends_with_one_clear_line(
    hub: Run,
    silent: SilentEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    monkeypatch.setenv("HUB_STATEMENT_TIMEOUT_MS", "1000")
    monkeypatch.setenv("HUB_ANSWER_GRACE_SECONDS", "1")
    get_settings.cache_clear()
    seconds, stderr, code = _timed(hub, *command)
    assert code == 1
    assert seconds < 2 + 3  # the 2 s deadline, plus start-up
    assert silent.logins >= 1  # the login went through: only the answer never came
    [line] = stderr.strip().splitlines()
    assert line.startswith("Error: ")
    assert f"no answer from the database at 127.0.0.1:{silent.port} within 2 s" in line


def test_the_parse_falls_back_to_the_snapshot_well_inside_the_import_timeout(
    hub: Run, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default bounds: the parse Airflow runs gets the snapshot's DAGs, in time."""
    assert load_specs().source == "database"  # a parse wrote the snapshot
    with silent_endpoint(db_url) as endpoint:
        monkeypatch.setenv("HUB_DATABASE_URL", endpoint.url)
        get_settings.cache_clear()
        started = time.monotonic()
        result = load_specs()
        seconds = time.monotonic() - started
        listed = hub("dags", "list", "-o", "json")
    assert result.source == "snapshot"
    assert {spec.dag_id for spec in result.specs} == DEFAULT_DAG_IDS
    assert seconds < WELL_INSIDE_THE_IMPORT_TIMEOUT
    assert listed.exit_code == 0 and '"source": "snapshot"' in listed.stdout


@pytest.fixture
def other_session(db_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A psql-like session of someone else, left open in a transaction by the test."""
    url = db_url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(url, application_name="someone-elses-psql")
    yield conn
    conn.close()


def _fails_naming(run: Run, args: tuple[str, ...], relation: str, pid: int) -> None:
    seconds, stderr, code = _timed(run, *args)
    assert code == 1, stderr
    assert seconds < 0.5 + 3 + 3  # the lock timeout, the lock probe's own bound, start-up
    [line] = stderr.strip().splitlines()
    assert line.startswith("Error: ") and "waited 500 ms (HUB_LOCK_TIMEOUT_MS)" in line, line
    assert f"for a lock on {relation}" in line, line
    assert f"held by pid {pid} (" in line and "idle in transaction" in line, line


@pytest.mark.parametrize(
    "command",
    [
        ("config", "list"),
        ("config", "get", DAG, JOB),
        ("config", "set", DAG, JOB, "batch_size=640", "-m", "behind a migration"),
    ],
)
def test_a_table_lock_held_elsewhere_names_the_table_and_the_session(
    hub: Run,
    default_config: Engine,
    other_session: psycopg2.extensions.connection,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    """What a migration does: ACCESS EXCLUSIVE on hub.dag_configuration, held for a while."""
    monkeypatch.setenv("HUB_LOCK_TIMEOUT_MS", "500")
    get_settings.cache_clear()
    before = snapshot(default_config)
    with other_session.cursor() as cursor:
        cursor.execute("LOCK TABLE hub.dag_configuration IN ACCESS EXCLUSIVE MODE")
    _fails_naming(hub, command, "hub.dag_configuration", other_session.info.backend_pid)
    other_session.rollback()
    assert snapshot(default_config) == before


def test_an_idle_transaction_holding_the_chain_head_names_itself(
    hub: Run,
    default_config: Engine,
    other_session: psycopg2.extensions.connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any audited change takes the one chain-head row: an open psql transaction stalls writes."""
    monkeypatch.setenv("HUB_LOCK_TIMEOUT_MS", "500")
    get_settings.cache_clear()
    with other_session.cursor() as cursor:  # another job, another table: only the chain is shared
        cursor.execute("UPDATE hub.tickers SET enabled = NOT enabled WHERE ticker = 'AAPL'")
    before = snapshot(default_config)
    command = ("config", "set", DAG, JOB, "batch_size=640", "-m", "behind an open transaction")
    _fails_naming(hub, command, "hub.audit_chain_head", other_session.info.backend_pid)
    other_session.rollback()
    assert snapshot(default_config) == before
    assert hub(*command).exit_code == 0  # and once that session is gone, the write goes through


def test_the_bulk_paths_carry_the_same_bounds(hub: Run, db_url: str) -> None:
    """Alembic and the market-data pipelines (db.create_engine): lock and statement timeouts."""
    import sqlalchemy as sa

    from hubctl.db import create_engine

    engine = create_engine(db_url)
    with engine.connect() as conn:
        shown = [conn.execute(sa.text(f"SHOW {name}")).scalar() for name in
                 ("lock_timeout", "statement_timeout")]  # fmt: skip
    engine.dispose()
    assert shown == ["3s", "15min"]
