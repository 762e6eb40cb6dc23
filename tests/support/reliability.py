"""The reliability suite's parts: a PostgreSQL of its own to kill, and the figures it reports.

Fault tests never touch the session's shared server: `CrashServer` is hubctl's own embedded
PostgreSQL (hubctl.db) in a short temporary directory, which a test may stop, SIGKILL and start
again (tuned as shipped: fsync on). The figures (faults survived, writers × changes, inputs tried,
rows lost, runtimes) travel on each test's report, so they add up under pytest-xdist too; they are
printed at the end of the run and, with HUB_RELIABILITY_FIGURES=FILE, written there as JSON
(docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import migrations
from hubctl.db import embedded_server_url, stop_embedded_server

FIGURE = "reliability figure"
FIGURES: Counter[str] = Counter()
RUNTIMES: dict[str, float] = {}


class Figures:
    """What a test proved, in numbers: kept on its report, added up for the whole run."""

    def __init__(self, user_properties: list[tuple[str, object]]) -> None:
        self._properties = user_properties

    def add(self, name: str, amount: int = 1) -> None:
        self._properties.append((FIGURE, (name, amount)))

    def fault_survived(self, fault: str) -> None:
        self.add("faults survived")
        self.add(f"fault: {fault}")

    def rows_lost(self, lost: int) -> None:
        self.add("rows lost", lost)


def record(report: pytest.TestReport) -> None:
    """Add up one test's figures and runtime (in the process that reports: xdist's controller)."""
    if report.when != "call" or "reliability" not in report.keywords:
        return
    RUNTIMES[report.nodeid.split("::")[-1]] = round(report.duration, 1)
    for key, value in report.user_properties:
        if key == FIGURE:
            name, amount = value  # type: ignore[misc]
            FIGURES[name] += amount


def report_figures(terminalreporter: Any) -> None:
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


def count(engine: Engine, query: str, **binds: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(query), binds).scalar() or 0)
