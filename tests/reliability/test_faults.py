"""Faults: the database dies mid-apply, a load is killed mid-upsert, the snapshot is corrupt.

Each test causes the fault for real (SIGKILL of the PostgreSQL server or of the loading process,
bytes written over the snapshot) and then checks that nothing was lost and nothing half-written.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import configfile, yamlio
from hubctl.audit import verify_chain
from hubctl.author import Author
from hubctl.services import documents
from hubctl.settings import get_settings
from tests.reliability import upsert_task
from tests.support.cli import hubctl
from tests.support.configuration import CLOSED_PORT_URL, DEFAULT_DAG_IDS
from tests.support.databases import database_of
from tests.support.reliability import CrashServer, Figures, count

pytestmark = pytest.mark.reliability

# A write transaction of someone else's that has written at least one row (it holds an xid).
WRITING = sa.text(
    "SELECT query FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    " AND query ~* '^\\s*(INSERT|UPDATE|DELETE)'"  # writing, not just locking its rows
)


def _state(engine: Engine) -> tuple[str, list[tuple[int, str]]]:
    """The configuration as `hubctl export` writes it, and every audit row's id and hash."""
    exported = configfile.dump_document(documents.export_document(database_of(engine)))
    with engine.connect() as conn:
        query = sa.text("SELECT id, row_hash FROM hub.audit_log ORDER BY id")
        audit = [(row.id, row.row_hash) for row in conn.execute(query)]
    return exported, audit


def _big_change(tickers: int, generation: int) -> str:
    """A file that changes every group and job of the defaults and adds ``tickers`` tickers."""
    data = yamlio.load(configfile.defaults_text())
    for group in data["exchange_groups"]:
        group["display_name"] += f" (revision {generation})"
    for job in data["jobs"]:
        job["batch_size"] = 100 + generation
    data["tickers"] += [
        {"ticker": f"K{generation}X{number}", "exchange": "NASDAQ"} for number in range(tickers)
    ]
    return yamlio.dump(data)


def _kill_when_writing(
    server: CrashServer, url: str, killed: list[str], stop: threading.Event
) -> None:
    """Poll pg_stat_activity; SIGKILL the server as soon as another transaction has written."""
    watcher = sa.create_engine(url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    conn = watcher.connect()
    try:
        while not stop.is_set():
            statement = conn.execute(WRITING).scalar()
            if statement is not None:
                server.kill()
                killed.append(statement)
                return
            time.sleep(0.001)
    finally:
        conn.invalidate()  # its server may be gone: drop the connection without a goodbye
        watcher.dispose()


def test_database_killed_mid_apply_leaves_the_configuration_and_the_audit_as_they_were(
    crash_server: CrashServer, point_hub_at: Callable[[str], Path], tmp_path: Path, figures: Figures
) -> None:
    url = crash_server.migrated_database("hub_apply")
    point_hub_at(url)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    documents.apply_document(
        database_of(engine), configfile.load_defaults(), author=Author("t", reason="defaults")
    )

    for generation, tickers in enumerate((3000, 12000, 48000), start=1):
        before = _state(engine)
        path = tmp_path / f"change-{generation}.yaml"
        path.write_text(_big_change(tickers, generation))
        killed: list[str] = []
        stop = threading.Event()
        killer = threading.Thread(target=_kill_when_writing, args=(crash_server, url, killed, stop))
        killer.start()
        result = hubctl("apply", "-f", str(path), "--yes", "-m", "big change")
        stop.set()
        killer.join()
        if killed:
            break
        assert result.exit_code == 0, result.output  # the apply won the race: try a bigger one
    else:
        pytest.fail("the apply always finished before the server could be killed")

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: database unreachable"), result.stderr
    assert "Traceback" not in result.output
    # The transaction holds an xid: it has written. Between two statements pg_stat_activity shows
    # the last one, which may be the SELECT ... FOR UPDATE that locked the next row to write.
    assert killed[0].startswith(("INSERT", "UPDATE", "DELETE")) or killed[0].endswith(
        "FOR UPDATE"
    ), killed

    crash_server.start()  # crash recovery replays the WAL
    after = _state(engine)
    assert after == before
    with database_of(engine).connect() as conn:
        assert verify_chain(conn).ok
    figures.fault_survived("database SIGKILLed mid-apply")
    figures.rows_lost(len(set(before[1]) - set(after[1])))

    # The same apply, once the database is back, goes through whole.
    assert hubctl("apply", "-f", str(path), "--yes", "-m", "big change").exit_code == 0
    assert documents.plan_document(database_of(engine), configfile.read_document(path)).empty
    engine.dispose()


def _task_backends(conn: sa.Connection, *, running: str = "") -> int:
    """The task's backends (those running a statement LIKE ``running``, if given)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
    if running:
        query += " AND state = 'active' AND query LIKE :running"
    binds = {"name": upsert_task.APPLICATION_NAME, "running": running}
    return int(conn.execute(sa.text(query), binds).scalar_one())


TASK = [sys.executable, upsert_task.__file__]


def _run_task(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TASK, url],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stored_prices(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.ticker, o.trade_date, o.open, o.high, o.low, o.close, o.adj_close, o.volume,"
                " o.source FROM market.ohlcv o JOIN market.securities s USING (security_id)"
                " ORDER BY s.ticker, o.trade_date"
            )
        ).all()
    return pd.DataFrame(
        rows, columns=["ticker", "trade_date", *upsert_task.frame("R0000").columns[1:], "source"]
    )


def _clean_load() -> pd.DataFrame:
    frames = {ticker: upsert_task.frame(ticker) for ticker in upsert_task.tickers()}
    stacked = pd.concat(frames, names=["ticker", None]).reset_index(level=0)
    stacked["trade_date"] = stacked["trade_date"].dt.date
    stacked["source"] = upsert_task.SOURCE
    return stacked.reset_index(drop=True)


@pytest.mark.parametrize(
    ("phase", "statement"),
    [("COPY", "COPY %"), ("INSERT … ON CONFLICT", "%INSERT INTO market.ohlcv%")],
    ids=["copy", "insert"],
)
def test_a_load_killed_mid_upsert_and_retried_leaves_no_duplicate_and_no_partial_row(
    engine: Engine, phase: str, statement: str, figures: Figures
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    task = _run_task(url)
    assert task.stdout is not None
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        assert task.stdout.readline().strip() == "committed 1"
        while _task_backends(watcher, running=statement) == 0:
            assert task.poll() is None, "the task finished before it could be killed"
            time.sleep(0.001)
        task.kill()  # SIGKILL, mid-statement: as a worker's OOM kill or a lost node would
        task.wait()
        task.stdout.close()
        while _task_backends(watcher) > 0:  # the server rolls the open transaction back
            time.sleep(0.05)

    per_security = upsert_task.DAYS
    with engine.connect() as conn:
        counts = (
            conn.execute(sa.text("SELECT count(*) FROM market.ohlcv GROUP BY security_id"))
            .scalars()
            .all()
        )
        securities = conn.execute(sa.text("SELECT count(*) FROM market.securities")).scalar()
    committed = len(upsert_task.chunks()[0])
    assert set(counts) == {per_security}, "a security's prices were half-written"
    assert len(counts) == securities < upsert_task.SECURITIES  # the killed chunk left nothing
    assert len(counts) % committed == 0

    retry = subprocess.run([*TASK, url], capture_output=True, text=True)
    assert retry.returncode == 0, retry.stderr
    stored = _stored_prices(engine)
    expected = _clean_load()
    assert count(engine, "SELECT count(DISTINCT (security_id, trade_date)) FROM market.ohlcv") == (
        len(stored)
    )
    assert len(stored) == len(expected) == upsert_task.SECURITIES * per_security
    pd.testing.assert_frame_equal(stored, expected[stored.columns], check_dtype=False)
    assert not stored.isna().any().any()
    figures.fault_survived(f"load SIGKILLed during the {phase} of an upsert")
    figures.rows_lost(len(expected) - len(stored))


# ----------------------------------------------------------------------------------------------
# The snapshot, corrupt or truncated
# ----------------------------------------------------------------------------------------------

CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: bytes(range(256)) * 4,
    "empty": lambda good: b"",
    "not a snapshot": lambda good: b'{"format": 99, "specs": "none"}',
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_snapshot_is_ignored_with_one_log_line_and_never_hides_a_dag(
    parse: Callable[[], Any],
    corruption: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    figures: Figures,
) -> None:
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS  # writes a good snapshot
    path = get_settings().resolved_snapshot_path
    good = path.read_bytes()
    path.write_bytes(CORRUPTIONS[corruption](good))
    caplog.set_level(logging.INFO, logger="hubctl")

    bag = parse()  # the database is up: it is used, and the snapshot is rewritten from it
    assert bag.import_errors == {} and set(bag.dag_ids) == DEFAULT_DAG_IDS
    [line] = [r for r in caplog.records if "configuration snapshot" in r.getMessage()]
    assert line.levelno == logging.ERROR and str(path) in line.getMessage()
    assert "replacing it with the configuration just read from the database" in line.getMessage()
    assert path.read_bytes() == good

    path.write_bytes(CORRUPTIONS[corruption](good))
    caplog.clear()
    monkeypatch.setenv("HUB_DATABASE_URL", CLOSED_PORT_URL)
    bag = parse()  # the database is down as well: one clear import error, no half-built DAGs
    assert bag.dag_ids == []
    [(file, error)] = bag.import_errors.items()
    assert file.endswith("hub_dags.py")
    assert "configuration database is unreachable" in error and "no usable snapshot" in error
    [ignored] = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert str(path) in ignored
    figures.fault_survived(f"snapshot {corruption}")
