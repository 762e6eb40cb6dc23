"""hubctl up's supervision: a component that exits is started again, within a budget."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hubctl import configfile
from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import HubError
from hubctl.repository.rows import fetch_value
from hubctl.services import documents
from hubctl.stack import (
    STOP_TIMEOUT_SECONDS,
    Executor,
    Restarts,
    Stack,
    _launch,
    _raise_if_a_component_died,
    airflow_environment,
    loaded_message,
    stop,
    supervise_once,
)
from tests.support.markers import AIRFLOW_PROCESSES
from tests.support.stacks import prepare_home, prepared_home

EXITS = [sys.executable, "-c", "import sys; sys.exit(3)"]
SLEEPS = [sys.executable, "-c", "import time; time.sleep(60)"]


def wait_exited(stack: Stack, name: str) -> None:
    stack.processes[name].wait(timeout=30)


def test_an_exited_component_is_started_again_until_its_budget_is_spent(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, port=0)
    _launch(stack, "scheduler", EXITS, {})
    restarts, said = Restarts(delay=0, budget=2, window=300), []
    first = stack.processes["scheduler"]
    for restart in (1, 2):
        wait_exited(stack, "scheduler")
        supervise_once(stack, restarts, said.append)
        assert len(said) == restart and stack.processes["scheduler"].pid != first.pid
    assert said[0] == "scheduler exited with 3; starting it again (1 of 2 in 300 s)"
    wait_exited(stack, "scheduler")
    with pytest.raises(HubError, match=r"^scheduler exited with 3; see .*scheduler\.log$"):
        supervise_once(stack, restarts, said.append)
    assert len(said) == 2


def test_a_component_waiting_out_its_delay_does_not_stop_the_stack(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, port=0)
    _launch(stack, "dag-processor", EXITS, {})
    wait_exited(stack, "dag-processor")
    restarts, said = Restarts(delay=60), []
    supervise_once(stack, restarts, said.append)  # seen dead: not yet started again, no error
    assert said == [] and "dag-processor" in restarts.exited_at
    with pytest.raises(HubError):  # outside supervision (starting up) an exit is fatal at once
        _raise_if_a_component_died(stack)


def test_workers_are_not_restarted_and_the_others_carry_on(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, port=0, executor=Executor.celery(2, []))
    _launch(stack, "worker-1", EXITS, {})
    _launch(stack, "worker-2", SLEEPS, {})
    _launch(stack, "scheduler", SLEEPS, {})
    wait_exited(stack, "worker-1")
    said: list[str] = []
    restarts = Restarts(delay=0)
    supervise_once(stack, restarts, said.append)
    assert said == ["worker-1 exited with 3; the other workers carry on"]
    stack.processes["worker-2"].kill()
    wait_exited(stack, "worker-2")
    with pytest.raises(HubError, match="every Celery worker exited"):
        supervise_once(stack, restarts, said.append)
    stack.processes["scheduler"].kill()
    wait_exited(stack, "scheduler")


def test_parse_units_make_the_periodic_parse_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HUB_DAG_SHARDS > 1 the listener re-parses what changed: every unit is parsed every
    5 minutes, not every 30 s, unless the operator chose otherwise."""
    name = "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"
    monkeypatch.delenv(name, raising=False)
    (tmp_path / "airflow").mkdir()
    urls = {"hub_url": "postgresql://h", "airflow_url": "postgresql://a"}
    single = airflow_environment(Stack(home=tmp_path, port=0), **urls)
    sharded = Stack(home=tmp_path, port=0, shards=8)
    assert name not in single and airflow_environment(sharded, **urls)[name] == "300"
    monkeypatch.setenv(name, "45")
    assert airflow_environment(sharded, **urls)[name] == "45"


def test_the_first_start_says_how_many_jobs_it_loaded(database: Database) -> None:
    """Issue 22 item 14: `hubctl up` said "10 jobs" whatever the defaults held."""
    applied = documents.apply_document(
        database, configfile.load_defaults(), author=Author("hubctl-up", reason="defaults")
    )
    with database.connect() as conn:
        jobs = fetch_value(conn, "SELECT count(*) FROM hub.dag_configuration")
        groups = fetch_value(conn, "SELECT count(*) FROM hub.exchange_groups")
    assert loaded_message(applied.plan.changes) == (
        f"loaded the default configuration ({groups} exchange groups, {jobs} jobs,"
        " sample data source)"
    )
    assert jobs == 12  # the defaults.yaml header says so too


def test_ctrl_c_stops_up_even_when_started_with_ctrl_c_ignored() -> None:
    """A background process (pytest-xdist's workers, a shell's `&`) starts with SIGINT ignored;
    `hubctl up` must still stop on the Ctrl-C its caller sends, or its stack outlives it."""
    code = (
        "import os, signal, time\n"
        "from hubctl import stack\n"
        "stack.stop_on_interrupts()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "interrupted", result.stderr


# Ignores the first SIGTERM, as Airflow's LocalExecutor does while a task runs; ends on the second.
PATIENT = [
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "seen = []\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0) if seen else seen.append(1))\n"
    "time.sleep(60)\n",
]


def test_stopping_signals_again_a_component_that_waits_for_its_tasks(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, port=0)
    _launch(stack, "scheduler", PATIENT, {})
    process = stack.processes["scheduler"]
    time.sleep(0.5)  # its handler is installed
    started = time.monotonic()
    stop(stack)
    assert process.returncode == 0, "ended by its own handler, on the second SIGTERM"
    assert time.monotonic() - started < STOP_TIMEOUT_SECONDS


def test_the_scheduler_stops_while_the_api_server_still_answers_its_tasks(tmp_path: Path) -> None:
    stack = Stack(home=tmp_path, port=0)
    _launch(stack, "api-server", SLEEPS, {})
    seen = tmp_path / "api-server state when the scheduler was told to stop"
    api_stat = f"/proc/{stack.processes['api-server'].pid}/stat"
    records_the_api_server = (
        "import signal, sys, time\n"
        "def end(*_):\n"
        "    time.sleep(0.5)  # a task finishing, then reporting its end\n"
        f"    open({str(seen)!r}, 'w').write(open({api_stat!r}).read().split()[2])\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, end)\n"
        "time.sleep(60)\n"
    )
    _launch(stack, "scheduler", [sys.executable, "-c", records_the_api_server], {})
    _launch(stack, "redis", SLEEPS, {})
    time.sleep(0.5)  # the handler is installed
    stop(stack)
    assert seen.read_text() in {"S", "R"}, "the api-server was still running, not stopped (Z)"
    assert all(process.poll() is not None for process in stack.processes.values())


@AIRFLOW_PROCESSES
def test_a_home_airflow_already_migrated_is_not_migrated_again() -> None:
    home = prepared_home("hubmig")
    try:
        stamp = home / "airflow" / "metadata-migrated.json"
        assert "migrating Airflow" not in prepare_home(home), "the stamp matches: no migrate"
        stamp.write_text(stamp.read_text().replace('"airflow": "', '"airflow": "0.'))
        assert "migrating Airflow" in prepare_home(home), "another Airflow version's stamp"
    finally:
        shutil.rmtree(home, ignore_errors=True)
