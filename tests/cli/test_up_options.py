"""`hubctl up` options that fail before anything starts, and how workers get their queues."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hubctl.errors import HubError
from hubctl.stack import REDIS_MISSING, Executor, Stack
from tests.support.stacks import HUBCTL


def _up(tmp_path: Path, *arguments: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_HOME": str(tmp_path / "home"), "PATH": path}
    env.pop("HUB_DATABASE_URL", None)
    return subprocess.run(
        [HUBCTL, "up", *arguments], env=env, capture_output=True, text=True, timeout=60
    )


def test_celery_without_redis_server_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    done = _up(tmp_path, "--executor", "celery", path=str(tmp_path))  # no redis-server there
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"Error: {REDIS_MISSING}"
    assert not (tmp_path / "home" / "pgdata").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--worker-queues", "default"], "Error: --worker-queues needs --executor celery"),
        (
            ["--executor", "celery", "--worker-queues", "default,EU"],
            "Error: --worker-queues: 'EU' is not a queue name (lowercase slug)",
        ),
        (
            [
                "--executor",
                "celery",
                "--workers",
                "1",
                "--worker-queues",
                "a",
                "--worker-queues",
                "b",
            ],
            "Error: 2 queue list(s) for 1 worker(s): give at most one each",
        ),
    ],
)
def test_bad_worker_options_are_one_line(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    done = _up(tmp_path, *arguments, path=os.environ["PATH"])
    assert (done.returncode, done.stderr.strip()) == (1, message)
    assert not (tmp_path / "home").exists()


def test_workers_without_a_queue_list_serve_the_default_queue() -> None:
    executor = Executor.celery(3, [("default", "eu_workers")])
    assert Stack(Path("/x"), 1, executor=executor).workers == {
        "worker-1": ("default", "eu_workers"),
        "worker-2": ("default",),
        "worker-3": ("default",),
    }
    assert Stack(Path("/x"), 1).workers == {}
    with pytest.raises(HubError):
        Executor.celery(0, [])
