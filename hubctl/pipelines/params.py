"""The `params` of each built-in pipeline family: Airflow-free, so hubctl validates at write time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hubctl.schemas import SLUG_PATTERN

SourceName = Literal["sample", "yfinance"]
PoolName = Annotated[str, Field(pattern=SLUG_PATTERN, description="Airflow pool for the tasks")]


class PipelineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: PoolName | None = None


class CollectionParams(PipelineParams):
    source: SourceName = "sample"
    lookback_days: Annotated[int, Field(ge=1, le=3650)] = 5
    fail_tickers: list[str] = Field(
        default_factory=list, description="sample source only: tickers it fails on (for drills)"
    )


class HistoricalParams(PipelineParams):
    source: SourceName = "sample"
    years_back: Annotated[int, Field(ge=1, le=50)] = 10
    fail_tickers: list[str] = Field(default_factory=list)


class IndicatorParams(PipelineParams):
    pass
