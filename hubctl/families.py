"""What a pipeline family of another package imports from hubctl: this module and nothing else.

- ``PipelineFamily``: the family, registered through the ``airflow_hub.pipelines`` entry point;
- ``PipelineParams``: the base of its ``params`` model (pydantic; validated at write time);
- ``cpu_millicores``: a job's CPU knob ('500m', '2') as millicores;
- ``DagSpec``: what its builder gets (one enabled job, its group and knobs);
- ``new_dag``: the DAG a builder fills, with the hub's schedule, defaults, tags and limits;
- ``load_config``, ``hub_engine``: the job's live configuration and the hub database, for tasks.

hubctl reads the entry points on every write of params, so a family's registration must stay
cheap: the last four are loaded on first use (they import the specs, Airflow or SQLAlchemy).
docs/pipelines.md "Write your own family" shows a whole family.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hubctl.pipelines.params import PipelineParams
from hubctl.registry import PipelineFamily
from hubctl.tables import cpu_millicores

if TYPE_CHECKING:
    from hubctl.dag_builder import new_dag
    from hubctl.pipelines.runtime import hub_engine, load_config
    from hubctl.specs import DagSpec

__all__ = [
    "DagSpec",
    "PipelineFamily",
    "PipelineParams",
    "cpu_millicores",
    "hub_engine",
    "load_config",
    "new_dag",
]

# name -> the module that defines it, imported when the name is first read (PEP 562).
_ON_FIRST_USE = {
    "DagSpec": "hubctl.specs",
    "new_dag": "hubctl.dag_builder",
    "load_config": "hubctl.pipelines.runtime",
    "hub_engine": "hubctl.pipelines.runtime",
}


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # deferred: Airflow (new_dag, load_config) costs about a second, the specs ~50 ms; a family's
    # registration, read by hubctl's writes, needs neither
    return getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
