"""``memory_limit`` under the Local and Celery executors: an address-space limit on the task process.

Kubernetes enforces a job's memory_limit on its pod; on a worker machine nothing would, and one
runaway task could take every other task down with it. ``MemoryLimit`` is every hub task's
``pre_execute`` hook (``dag_builder.task_defaults``): it caps the task process's address space at
what the process already holds (Python, Airflow, the DAG file) plus the job's memory_limit, and a
``MemoryError`` in the task's callable becomes a failure that names the knob. Child processes a
task starts inherit the cap. Under the KubernetesExecutor the pod's limit applies and the hook
does nothing.
"""

from __future__ import annotations

import functools
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowException

from hubctl.tables import memory_bytes


class MemoryLimitExceeded(AirflowException):
    def __init__(self, quantity: str) -> None:
        super().__init__(
            f"memory_limit ({quantity}) exceeded: the task tried to allocate more memory than"
            " its job allows; raise it with `hubctl config set DAG_NAME JOB_NAME memory_limit=...`"
            " or make the task use less (e.g. a smaller batch_size)"
        )


@dataclass(frozen=True)
class MemoryLimit:
    quantity: str  # the job's memory_limit, e.g. "256Mi"

    def __call__(self, context: Any) -> None:
        if os.environ.get("AIRFLOW_IS_K8S_EXECUTOR_POD"):
            return
        task = context["task"]
        previous = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (self._cap(previous[1]), previous[1]))
        if callable(getattr(task, "execute_callable", None)):
            # Instance attribute: this task object lives only for this try.
            task.execute_callable = self._guarded(task.execute_callable, previous)

    def _cap(self, hard: int) -> int:
        cap = _address_space_in_use() + int(memory_bytes(self.quantity) or 0)
        return cap if hard == resource.RLIM_INFINITY else min(cap, hard)

    def _guarded(self, call: Callable[[], Any], previous: tuple[int, int]) -> Callable[[], Any]:
        @functools.wraps(call)
        def run() -> Any:
            try:
                return call()
            except MemoryError:
                raise MemoryLimitExceeded(self.quantity) from None
            finally:
                # Reporting the result (XCom, state) must not fail for want of memory.
                resource.setrlimit(resource.RLIMIT_AS, previous)

        return run


def _address_space_in_use() -> int:
    """The process's virtual size in bytes (first field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()
