"""The `params` of each built-in pipeline family: Airflow-free, so hubctl validates at write time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubctl.tables import SLUG_PATTERN

SourceName = Literal["sample", "yfinance"]
PoolName = Annotated[str, Field(pattern=SLUG_PATTERN, description="Airflow pool for the tasks")]


class PipelineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool: PoolName | None = None


FailTickers = Annotated[
    list[str], Field(description="sample source only: tickers it fails on (for drills)")
]


class MarketDataParams(PipelineParams):
    """Params of a pipeline that reads a price source (``source`` and ``fail_tickers``)."""

    @model_validator(mode="after")
    def _fail_tickers_need_the_sample_source(self) -> MarketDataParams:
        if getattr(self, "fail_tickers", None) and getattr(self, "source", None) != "sample":
            raise ValueError("fail_tickers only applies to source 'sample'")
        return self


class CollectionParams(MarketDataParams):
    source: SourceName = "sample"
    lookback_days: Annotated[int, Field(ge=1, le=3650)] = 5
    fail_tickers: FailTickers = Field(default_factory=list)


class HistoricalParams(MarketDataParams):
    source: SourceName = "sample"
    years_back: Annotated[int, Field(ge=1, le=50)] = 10
    fail_tickers: FailTickers = Field(default_factory=list)


class IndicatorParams(PipelineParams):
    pass


class AnchorParams(PipelineParams):
    pass


class SchedulerParams(PipelineParams):
    pass


class MonitorParams(PipelineParams):
    pass
