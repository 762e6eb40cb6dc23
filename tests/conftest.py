"""Fixtures: one real PostgreSQL per session (per xdist worker), two migrated templates, a fresh
clone per test.

The server is the embedded pgserver one, or the server at HUB_TEST_DATABASE_URL (a maintenance
database URL of a superuser, e.g. postgresql+psycopg2://postgres@localhost/postgres): the audit
tamper tests need a superuser, as a real attacker would. The embedded server runs without fsync
(tests/support/databases.py says why); a server given by URL is used as it is.

Templates: ``hub_template_<pid>`` is migrated; ``hub_defaults_<pid>`` is a clone of it holding the
shipped configuration. A test that asks for ``default_config`` (directly or through ``hub``,
``configured_hub``, ...) gets a clone of the second, every other database test a clone of the first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _pytest.nodeid import coerce_node_id
from sqlalchemy.engine import URL, Engine, make_url

from hubctl.db import Database
from hubctl.paths import DAGS_FOLDER
from hubctl.settings import get_settings
from tests.support import reliability
from tests.support.cli import Run, hubctl
from tests.support.configuration import apply_defaults
from tests.support.databases import (
    Clones,
    create_database,
    create_migrated_template,
    drop_database,
    scratch_database,
    tune_for_throwaway_data,
    url_of,
)

TEMPLATE = f"hub_template_{os.getpid()}"
DEFAULTS_TEMPLATE = f"hub_defaults_{os.getpid()}"

# Airflow reads its configuration at import: give the whole session its own AIRFLOW_HOME first.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="hub-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ.setdefault("HUBCTL_ACTOR", "pytest")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that runs Airflow's processes (e2e, or marked AIRFLOW_PROCESSES) joins one
    xdist group: under `--dist loadgroup` one worker runs them one after another.

    xdist 3.8 puts the group into the node id by setting ``item._nodeid``, which pytest 9 no
    longer reads (the id lives in ``item._id``), so the group is set here, after xdist's hook.
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("xdist_group"):
            item._id = coerce_node_id(f"{item.nodeid}@airflow")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    reliability.record(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reliability.report_figures(terminalreporter)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[URL]:
    """URL of the server's maintenance database."""
    configured = os.environ.get("HUB_TEST_DATABASE_URL")
    if configured:
        yield make_url(configured)
        return
    import pgserver  # deferred: only without HUB_TEST_DATABASE_URL

    # Unix socket paths are limited to ~100 bytes: keep the data directory short.
    data_dir = Path(tempfile.mkdtemp(prefix="hubpg"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        url = make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
        tune_for_throwaway_data(url)
        yield url
    finally:
        server.cleanup()
        atexit.unregister(server._cleanup)  # done already; at exit pytest's log streams are closed
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: URL) -> Iterator[str]:
    """The migrated template."""
    create_migrated_template(pg_server_url, TEMPLATE)
    yield TEMPLATE
    drop_database(pg_server_url, TEMPLATE)


@pytest.fixture(scope="session")
def defaults_template(pg_server_url: URL, template_database: str) -> Iterator[str]:
    """The migrated template with the shipped default configuration applied."""
    drop_database(pg_server_url, DEFAULTS_TEMPLATE)
    url = create_database(pg_server_url, DEFAULTS_TEMPLATE, template_database)
    apply_defaults(Database(url))
    yield DEFAULTS_TEMPLATE
    drop_database(pg_server_url, DEFAULTS_TEMPLATE)


@pytest.fixture(scope="session")
def clones(pg_server_url: URL, template_database: str, defaults_template: str) -> Iterator[Clones]:
    pool = Clones(pg_server_url)
    yield pool
    pool.close()


@pytest.fixture
def db_url(request: pytest.FixtureRequest, pg_server_url: URL, clones: Clones) -> Iterator[str]:
    """A fresh, migrated database of its own for one test (with the defaults: see above)."""
    wants_defaults = "default_config" in request.fixturenames
    template = request.getfixturevalue(
        "defaults_template" if wants_defaults else "template_database"
    )
    name = clones.take(template)
    yield url_of(pg_server_url, name)
    clones.give_back(name)


@pytest.fixture
def empty_db_url(pg_server_url: URL) -> Iterator[str]:
    """A database with no migrations applied."""
    with scratch_database(pg_server_url, "hub_empty") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def database(db_url: str) -> Database:
    """This test's database as the control plane reaches it (psycopg2)."""
    return Database(db_url)


@pytest.fixture
def hub_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point hubctl's settings (HUB_DATABASE_URL, HUB_HOME) at this test's database."""
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub-home"))
    get_settings.cache_clear()
    yield tmp_path / "hub-home"
    get_settings.cache_clear()


@pytest.fixture
def default_config(engine: Engine) -> Engine:
    """This test's database holding the shipped default configuration (hubctl apply --defaults),
    cloned from the template that has it (``db_url`` picks that template for this fixture)."""
    return engine


@pytest.fixture
def configured_hub(hub_env: Path, default_config: Engine) -> Engine:
    """The default configuration in this test's database, with HUB_* pointing at it."""
    return default_config


@pytest.fixture
def run(hub_env: Path) -> Run:
    """run("config", "list", "-o", "json") -> click Result with .exit_code, .stdout, .stderr."""
    return hubctl


@pytest.fixture
def parse(configured_hub: Engine) -> Callable[[], Any]:
    """Parse the packaged DAG folder with a real DagBag, as the dag-processor does (settings re-read each time)."""
    from airflow.dag_processing.dagbag import DagBag  # deferred: Airflow costs seconds to import

    def run() -> Any:
        get_settings.cache_clear()
        return DagBag(dag_folder=str(DAGS_FOLDER))

    return run


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> reliability.Figures:
    """What this test proved, in numbers (reported at the end of the run)."""
    return reliability.Figures(request.node.user_properties)


@pytest.fixture(scope="session")
def airflow_metadata_db() -> Path:
    """Airflow's own metadata database (SQLite in AIRFLOW_HOME), migrated once: dag.test() needs it."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME
