"""The hub database is unreachable (20 s), or silent (45 s), while a real dag-processor parses.

The dag-processor parses hubctl/dags/hub_dags.py every ~2 s (min_file_process_interval=2) with Airflow's
own metadata in SQLite, and marks a DAG stale within seconds of its file no longer producing it
(stale_dag_threshold=1, parsing_cleanup_interval=1, as `hubctl up` and compose set them): a DAG
lost during the outage would show. The set of live DAGs must not change while the database is
down, parsing must go on, and once the database is back the processor reads it again by itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hubctl import configfile
from hubctl.author import Author
from hubctl.paths import DAGS_FOLDER
from hubctl.services import documents
from tests.support.configuration import DEFAULT_DAG_IDS
from tests.support.databases import database_of
from tests.support.reliability import CrashServer, Figures
from tests.support.silent_endpoint import silent_endpoint

# Not in the stacks' xdist group: one dag-processor, and 85 s that are mostly the outages' own
# waits, run beside a stack on the other worker instead of after all of them.
pytestmark = pytest.mark.reliability

# 20 times stale_dag_threshold and parsing_cleanup_interval (1 s each), so a DAG lost during the
# outage would be marked stale many times over; ~10 parses at min_file_process_interval (2 s), each
# refused at once. 60 s proved nothing more and cost 40 s on the critical path of `make test`.
OUTAGE_SECONDS = 20
NEW_DAG = "calculate_indicators__after_outage"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _environment(airflow_home: Path, hub_url: str, hub_home: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "AIRFLOW"))}
    return {
        **inherited,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "1",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "1",
        "HUB_DATABASE_URL": hub_url,
        "HUB_HOME": str(hub_home),
    }


@pytest.fixture(scope="module")
def migrated_metadata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Airflow's SQLite metadata, migrated once: each test's dag-processor starts from a copy."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = _environment(home, "postgresql://127.0.0.1:1/unused", home / "hub-home")
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return home / "airflow.db"


@pytest.fixture
def dag_processor(tmp_path: Path, migrated_metadata: Path) -> Iterator[Callable[[str], Path]]:
    """dag_processor(hub_url) starts `airflow dag-processor`; returns Airflow's SQLite database."""
    started: list[subprocess.Popen[bytes]] = []

    def start(hub_url: str) -> Path:
        home = tmp_path / "airflow"
        env = _environment(home, hub_url, tmp_path / "hub-home")
        home.mkdir()
        shutil.copyfile(migrated_metadata, home / "airflow.db")
        log = (tmp_path / "dag-processor.log").open("wb")
        started.append(
            subprocess.Popen(
                [AIRFLOW, "dag-processor"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        return home / "airflow.db"

    yield start
    for process in started:  # the processor and the parsing processes it forked
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _live_dags(metadata: Path) -> tuple[frozenset[str], int, str | None]:
    """(ids of the DAGs that are not stale, import errors, the latest parse time)."""
    with sqlite3.connect(metadata, timeout=30) as conn:
        live = frozenset(r[0] for r in conn.execute("SELECT dag_id FROM dag WHERE NOT is_stale"))
        errors = conn.execute("SELECT count(*) FROM import_error").fetchone()[0]
        parsed = conn.execute("SELECT max(last_parsed_time) FROM dag").fetchone()[0]
    conn.close()
    return live, errors, parsed


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"timed out waiting for {what}"
        time.sleep(0.5)
    return time.monotonic() - started


def test_a_database_outage_never_changes_the_dags_and_heals_by_itself(
    crash_server: CrashServer,
    dag_processor: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    url = crash_server.migrated_database("hub_outage")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    documents.apply_document(
        database_of(engine), configfile.load_defaults(), author=Author("t", reason=None)
    )
    metadata = dag_processor(url)
    _wait_for(lambda: _live_dags(metadata)[0] == DEFAULT_DAG_IDS, 120, "the 12 DAGs")
    snapshot = tmp_path / "hub-home" / "snapshot.json"
    assert snapshot.exists()

    crash_server.stop()
    outage_started = time.monotonic()
    parse_times = set()
    while time.monotonic() - outage_started < OUTAGE_SECONDS:
        live, errors, parsed = _live_dags(metadata)
        assert live == DEFAULT_DAG_IDS, (
            f"the DAGs changed during the outage: {live ^ DEFAULT_DAG_IDS}"
        )
        assert errors == 0
        parse_times.add(parsed)
        time.sleep(0.5)
    log = next((tmp_path / "airflow" / "logs").rglob("hub_dags.py.log")).read_text()
    fallbacks = log.count("building 12 DAG(s) from the last-known-good snapshot")
    assert len(parse_times) >= OUTAGE_SECONDS // 6 and fallbacks >= OUTAGE_SECONDS // 6

    # Read before the server is back: a parse during a slow start would rightly rewrite it.
    snapshot_age_before = time.time() - snapshot.stat().st_mtime
    crash_server.start()
    assert snapshot_age_before > OUTAGE_SECONDS - 5  # untouched while the database was away
    with engine.begin() as conn:  # a change made right after: only a database read shows it
        conn.execute(
            sa.text(
                "INSERT INTO hub.dag_configuration (dag_name, job_name)"
                " VALUES ('calculate_indicators', 'after_outage')"
            )
        )
    recovery = _wait_for(
        lambda: _live_dags(metadata)[0] == DEFAULT_DAG_IDS | {NEW_DAG},
        60,
        "the processor to read the database again",
    )
    assert time.time() - snapshot.stat().st_mtime < 10  # the database is the source again
    engine.dispose()
    figures.fault_survived(f"database unreachable for {OUTAGE_SECONDS} s under a dag-processor")
    figures.add("parses from the snapshot during the outage", fallbacks)
    figures.add("seconds to read the database again after the outage", round(recovery))


SILENCE_SECONDS = 45


def test_a_database_that_accepts_the_login_and_goes_silent_never_changes_the_dags(
    crash_server: CrashServer,
    dag_processor: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    """PgBouncer in front of a hung server: logins succeed, queries never return.

    Each parse gives up after the default client deadline (statement timeout 5 s + grace 5 s),
    well inside dagbag_import_timeout (30 s), and builds the DAGs from the snapshot.
    """
    url = crash_server.migrated_database("hub_silent")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    documents.apply_document(
        database_of(engine), configfile.load_defaults(), author=Author("t", reason=None)
    )
    with silent_endpoint(url) as endpoint:
        endpoint.silent = False
        metadata = dag_processor(endpoint.url)
        _wait_for(lambda: _live_dags(metadata)[0] == DEFAULT_DAG_IDS, 120, "the 9 DAGs")
        endpoint.silent = True
        silence_started, logins = time.monotonic(), endpoint.logins
        while time.monotonic() - silence_started < SILENCE_SECONDS:
            live, errors, _ = _live_dags(metadata)
            assert live == DEFAULT_DAG_IDS, f"the DAGs changed: {live ^ DEFAULT_DAG_IDS}"
            assert errors == 0
            time.sleep(0.5)
        log = next((tmp_path / "airflow" / "logs").rglob("hub_dags.py.log")).read_text()
        fallbacks = log.count("no answer from the database at 127.0.0.1")
        # Parsing went on, each parse bounded (a cycle is ~10 s of waiting plus the interval).
        assert endpoint.logins - logins >= 2 and fallbacks >= 2
        endpoint.silent = False
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO hub.dag_configuration (dag_name, job_name)"
                    " VALUES ('calculate_indicators', 'after_outage')"
                )
            )
        recovery = _wait_for(
            lambda: _live_dags(metadata)[0] == DEFAULT_DAG_IDS | {NEW_DAG},
            60,
            "the processor to read the database again",
        )
    engine.dispose()
    figures.fault_survived(
        f"database silent after the login for {SILENCE_SECONDS} s under a dag-processor"
    )
    figures.add("parses from the snapshot while the database was silent", fallbacks)
    figures.add("seconds to read the database again after the silence", round(recovery))
