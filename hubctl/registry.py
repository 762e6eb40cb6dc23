"""The pipeline registry: dag_name -> family (params model, tags, builder).

It sits below its users (the generator, specs, params validation): it imports the built-in
families' params models, never their builders. Registering a family imports no Airflow: the
builder is named as "module:function" and loaded only when a DAG is built. Other packages add
families through the `airflow_hub.pipelines` entry-point group (the entry point's value is a
PipelineFamily or a callable returning one); they import what they need from hubctl.families.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hubctl.errors import ValidationError
from hubctl.pipelines.params import (
    AnchorParams,
    CollectionParams,
    HistoricalParams,
    IndicatorParams,
    MonitorParams,
    SchedulerParams,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "airflow_hub.pipelines"


@dataclass(frozen=True)
class PipelineFamily:
    """A kind of DAG: what its params look like, how it is tagged, and what builds it."""

    name: str
    params_model: type[BaseModel]
    builder: str  # "module:function" taking a DagSpec and returning an airflow.sdk.DAG
    provider: str = "internal"
    asset: str = "equities"
    domain: str = "ingestion"
    description: str = ""
    extra_tags: tuple[str, ...] = field(default=())

    def load_builder(self) -> Callable[..., Any]:
        module_name, _, function_name = self.builder.partition(":")
        builder: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
        return builder


BUILT_IN = (
    PipelineFamily(
        name="data_collection_equities",
        params_model=CollectionParams,
        builder="hubctl.pipelines.collection:build",
        provider="yfinance",
        asset="equities",
        domain="ingestion",
        description="Daily OHLCV and metadata for an exchange group's tickers, after market close.",
    ),
    PipelineFamily(
        name="historical_load_equities",
        params_model=HistoricalParams,
        builder="hubctl.pipelines.historical:build",
        provider="yfinance",
        asset="equities",
        domain="backfill",
        description="Backfills an exchange group's history one month per run from a watermark.",
    ),
    PipelineFamily(
        name="calculate_indicators",
        params_model=IndicatorParams,
        builder="hubctl.pipelines.indicators:build",
        provider="internal",
        asset="equities",
        domain="analytics",
        description="SMA, EMA, MACD, RSI and Bollinger bands for securities with new prices.",
    ),
    PipelineFamily(
        name="audit_anchor",
        params_model=AnchorParams,
        builder="hubctl.pipelines.anchor:build",
        provider="internal",
        asset="audit",
        domain="governance",
        description="Signs where the audit chain stands and appends it to the anchor store"
        " outside the database.",
    ),
    PipelineFamily(
        name="hub_scheduler",
        params_model=SchedulerParams,
        builder="hubctl.pipelines.scheduler:build",
        provider="internal",
        asset="configuration",
        domain="governance",
        description="Applies the scheduled changes that are due (hubctl schedule), as the actor"
        " who scheduled each.",
    ),
    PipelineFamily(
        name="hub_monitor",
        params_model=MonitorParams,
        builder="hubctl.pipelines.monitor:build",
        provider="internal",
        asset="monitoring",
        domain="operations",
        description="Evaluates the alert thresholds (failure rate, task duration, data late, source"
        " unreachable), records alerts and sends their notifications.",
    ),
)


BUILT_IN_BY_NAME = {family.name: family for family in BUILT_IN}


@lru_cache(maxsize=1)
def families() -> dict[str, PipelineFamily]:
    """Every family: the built-in ones, then those of installed packages (entry points).

    A built-in name is reserved: a package's family of that name is refused with a warning, so
    installing a package never changes what a built-in job builds (and ``get_family`` can answer
    for a built-in name without reading entry points).
    """
    registry = dict(BUILT_IN_BY_NAME)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        family = loaded() if callable(loaded) and not isinstance(loaded, PipelineFamily) else loaded
        if family.name in BUILT_IN_BY_NAME:
            log.warning("ignoring %s: %r is a built-in pipeline", entry_point.value, family.name)
            continue
        registry[family.name] = family
    return registry


def get_family(dag_name: str) -> PipelineFamily:
    """The family of ``dag_name``; a built-in one without reading entry points: scanning the
    installed packages' metadata costs ~30 ms, and a worker parses a DAG at every task start."""
    if dag_name in BUILT_IN_BY_NAME:
        return BUILT_IN_BY_NAME[dag_name]
    registry = families()
    if dag_name not in registry:
        raise ValidationError(
            f"dag_name: unknown pipeline {dag_name!r}; known: {', '.join(sorted(registry))}"
        )
    return registry[dag_name]


def validate_params(dag_name: str, params: dict[str, Any]) -> BaseModel:
    """Validate a job's params against its family's model; the error names each bad field."""
    try:
        return get_family(dag_name).params_model.model_validate(params)
    except PydanticValidationError as error:
        problems = "; ".join(
            ".".join(["params", *(str(part) for part in problem["loc"])]) + f": {problem['msg']}"
            for problem in error.errors()
        )
        raise ValidationError(problems) from None
