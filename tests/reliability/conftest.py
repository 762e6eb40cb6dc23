"""The reliability suite: a PostgreSQL of its own to kill, and the figures the suite reports.

Fault tests never touch the session's shared server: `crash_server` is hubctl's own embedded
PostgreSQL (hubctl.db) in a short temporary directory, which a test may stop, SIGKILL and start
again. The figures (faults survived, writers × changes, inputs tried, rows lost, runtimes) are
printed at the end of the run and, with HUB_RELIABILITY_FIGURES=FILE, written there as JSON
(docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import migrations
from hubctl.db import embedded_server_url, stop_embedded_server
from hubctl.settings import get_settings

# hubctl in-process (tests/cli) and the generator's fixtures (a hub with the default configuration,
# a real DagBag parse) serve here too.
from tests.cli.conftest import run  # noqa: F401
from tests.generator.conftest import hub, parse  # noqa: F401

FIGURES: Counter[str] = Counter()
RUNTIMES: dict[str, float] = {}


class Figures:
    """What the suite proved, in numbers: counted by the tests, reported at the end."""

    def add(self, name: str, amount: int = 1) -> None:
        FIGURES[name] += amount

    def fault_survived(self, fault: str) -> None:
        FIGURES["faults survived"] += 1
        FIGURES[f"fault: {fault}"] += 1

    def rows_lost(self, lost: int) -> None:
        FIGURES["rows lost"] += lost


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "reliability" in report.keywords:
        RUNTIMES[report.nodeid.split("::")[-1]] = round(report.duration, 1)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES and not RUNTIMES:
        return
    FIGURES.setdefault("rows lost", 0)
    terminalreporter.section("reliability figures")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")
    for test, seconds in RUNTIMES.items():
        terminalreporter.write_line(f"runtime {test}: {seconds} s")
    target = os.environ.get("HUB_RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(
            json.dumps({"figures": dict(FIGURES), "runtimes_seconds": RUNTIMES}, indent=2) + "\n"
        )


class CrashServer:
    """hubctl's embedded PostgreSQL in a directory of its own, to stop, kill and start again."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pgdata = home.resolve() / "pgdata"

    def start(self) -> str:
        """Start (after a crash: recover) the server; the URL of its `hub` database."""
        return embedded_server_url(self.home)

    def stop(self) -> None:
        stop_embedded_server(self.home)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once: a machine losing power, for the DB."""
        pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            process.kill()
        psutil.wait_procs(processes, timeout=10)

    def migrated_database(self, name: str) -> str:
        """A new database on this server, migrated to head; its URL."""
        server = sa.make_url(self.start())
        admin = sa.create_engine(
            server.set(database="postgres"), poolclass=sa.NullPool, isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        migrations.upgrade(engine)
        engine.dispose()
        return url


@pytest.fixture
def crash_server() -> Iterator[CrashServer]:
    # Unix socket paths are limited to ~100 bytes: keep the data directory short.
    home = Path(tempfile.mkdtemp(prefix="hubrel"))
    server = CrashServer(home)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def point_hub_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """point_hub_at(url): HUB_DATABASE_URL (and a HUB_HOME of this test's) for hubctl's settings."""

    def point(url: str) -> Path:
        monkeypatch.setenv("HUB_DATABASE_URL", url)
        monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub-home"))
        get_settings.cache_clear()
        return tmp_path / "hub-home"

    yield point
    get_settings.cache_clear()


def count(engine: Engine, query: str, **binds: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(query), binds).scalar() or 0)
