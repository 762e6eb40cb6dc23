"""memory_limit under the Local and Celery executors: the task process's address space is capped.

A job's DAG comes from a real parse of the DAG folder, its builder swapped for a drill's (two
tasks under ``new_dag``, so with every knob, the memory_limit hook included), and runs with
``dag.test()``: the task that allocates 1 GiB under a 256Mi limit fails with a message naming the
knob, and its sibling in the same run succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import task
from sqlalchemy.engine import Engine

from hubctl import dag_builder
from hubctl.dag_builder import new_dag
from hubctl.specs import DagSpec
from tests.support.configuration import execute

pytestmark = pytest.mark.usefixtures("airflow_metadata_db")

DRILL = "calculate_indicators__all"  # its builder is swapped for the drill's below
GIB = 1 << 30


@task
def allocate_a_gibibyte() -> int:
    return len(bytearray(GIB))


@task
def stay_small() -> int:
    return len(bytearray(32 << 20))


def _drill(spec: DagSpec) -> Any:
    with new_dag(spec) as dag:
        allocate_a_gibibyte()
        stay_small()
    return dag


def test_a_task_over_its_memory_limit_fails_naming_the_knob_and_its_sibling_succeeds(
    configured_hub: Engine,
    parse: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    real_builder = dag_builder.builder_for
    monkeypatch.setattr(
        dag_builder,
        "builder_for",
        lambda name: _drill if name == "calculate_indicators" else real_builder(name),
    )
    execute(
        configured_hub,
        "UPDATE hub.dag_configuration SET memory_request = '128Mi', memory_limit = '256Mi',"
        " max_retries = 0 WHERE dag_name = 'calculate_indicators'",
    )
    run: Any = parse().dags[DRILL].test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"allocate_a_gibibyte": "failed", "stay_small": "success"}
    captured = capfd.readouterr()
    assert "memory_limit (256Mi) exceeded" in caplog.text + captured.out + captured.err
