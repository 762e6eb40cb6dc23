"""Homes for the `hubctl up` stacks of the tests: copies of one home prepared once per process.

Preparing a home (the embedded PostgreSQL, the hub's migrations and defaults, `airflow db
migrate`) was a third of each stack's start. The template is prepared once, by `hubctl up`'s own
``prepare``, and its server stopped; each stack then starts from a copy, where the hub's migrations
find nothing to do and the stamp `prepare` leaves makes `hubctl up` skip Airflow's migrate.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hubctl.db import stop_embedded_server
from hubctl.stack import client_environment, hubctl_binary

HUBCTL = hubctl_binary()

_PREPARE = """
from hubctl.db import stop_embedded_server
from hubctl.settings import get_settings
from hubctl.stack import Stack, prepare

stack = Stack.from_settings(get_settings())
prepare(stack, print)
stop_embedded_server(stack.home)
"""


def prepare_home(home: Path) -> str:
    """Run `hubctl up`'s ``prepare`` on ``home`` in a process of its own, stop its database, and
    return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", _PREPARE],
        env=client_environment(home),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"preparing a stack's home failed:\n{done.stderr[-3000:]}"
    return done.stdout


@functools.cache
def _template() -> Path:
    home = Path(tempfile.mkdtemp(prefix="hubtpl"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    prepare_home(home)
    return home


def prepared_home(prefix: str) -> Path:
    """A new, short home (the database socket lives in it) holding a copy of the template."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    # cp -a: the embedded server's files belong to its own user when the tests run as root
    subprocess.run(["cp", "-a", f"{_template()}/.", str(home)], check=True)
    return home


def configure_home(home: Path, *commands: tuple[str, ...]) -> None:
    """Run hubctl ``commands`` on a stack's home before `hubctl up` starts it (so Airflow never
    sees the configuration before them), then stop the database they started."""
    for command in commands:
        done = subprocess.run(
            [HUBCTL, *command],
            env=client_environment(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    stop_embedded_server(home)
