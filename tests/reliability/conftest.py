"""The reliability suite's fixtures: a PostgreSQL of its own to kill, hubctl pointed at it.

The parts (CrashServer, the figures) are in tests/support/reliability.py; the `figures` fixture
and the hooks that add them up are in tests/conftest.py, where pytest-xdist's controller sees them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubctl.settings import get_settings
from tests.support.reliability import CrashServer


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
