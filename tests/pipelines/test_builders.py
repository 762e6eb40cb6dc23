"""The market-data DAGs run for real (dag.test()) against the hub database, with the sample source.

Each DAG comes from a real DagBag parse of the packaged DAG folder (the generator), with the default configuration.
Services are tested in depth in tests/marketdata; these tests check the wiring: the live
configuration drives each run, reports reach XCom, reruns are idempotent, runs trigger indicators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hubctl.marketdata import storage
from hubctl.marketdata.collect import collect_batch
from hubctl.pipelines.tasks import INDICATORS_DAG_ID, SYNTHETIC_TAG
from tests.support.configuration import execute
from tests.support.marketdata import assert_sample_rows, stored_prices

pytestmark = pytest.mark.usefixtures("airflow_metadata_db")

US_TICKERS = ["AAPL", "AMZN", "GOOGL", "JNJ", "JPM", "KO", "MSFT", "NVDA", "WMT", "XOM"]
LSE_TICKERS = ["AZN.L", "BP.L", "GSK.L", "HSBA.L", "SHEL.L", "ULVR.L"]
# The us_markets schedule fires at 17:30 New York time; this is Friday 15 March 2024's run.
FRIDAY_RUN = datetime(2024, 3, 15, 21, 30, tzinfo=UTC)
COLLECTION = "data_collection_equities__us_markets"


def _test(dag: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """Run the DAG in-process; the run and its return values (mapped tasks: lists, by index)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = dag.test(**kwargs)
    assert run.state == "success"
    values: dict[str, Any] = {}
    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        for row in sorted(rows, key=lambda row: row.map_index):
            if row.key != "return_value":
                continue
            value = XComModel.deserialize_value(row)
            if row.map_index >= 0:
                values.setdefault(row.task_id, []).append(value)
            else:
                values[row.task_id] = value
    return run, values


def _mapped(run: Any, task_id: str) -> int:
    return sum(1 for ti in run.get_task_instances() if ti.task_id == task_id and ti.map_index >= 0)


def _set_job(engine: Engine, dag_name: str, job_name: str, assignments: str) -> None:
    execute(
        engine,
        f"UPDATE hub.dag_configuration SET {assignments}"
        " WHERE dag_name = :dag_name AND job_name = :job_name",
        dag_name=dag_name,
        job_name=job_name,
    )


def _triggered_conf(since: datetime) -> list[dict[str, Any]]:
    """The conf of every calculate_indicators__all run created since ``since``."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == INDICATORS_DAG_ID).all()
        return [run.conf for run in runs if run.run_after >= since]


def test_collection_loads_every_ticker_with_the_live_config_and_reruns_idempotently(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    _set_job(
        configured_hub, "data_collection_equities", "us_markets", "batch_size = 4"
    )  # version 2
    dag = parse().dags[COLLECTION]
    assert SYNTHETIC_TAG in dag.tags and "Synthetic data" in (dag.doc_md or "")
    started = datetime.now(UTC)

    run, values = _test(dag, logical_date=FRIDAY_RUN)

    # lookback_days=5 from Friday the 15th: the bars of Monday the 11th to Friday the 15th
    assert_sample_rows(configured_hub, US_TICKERS, date(2024, 3, 11), date(2024, 3, 15))
    assert values["load_config"]["version"] == 2
    assert _mapped(run, "batches.collect") == 3  # 10 tickers in batches of 4
    report = values["publish.report"]
    assert report["configuration_version"] == 2
    assert (report["tickers"], report["failures"]) == (10, {})
    assert report["stages"]["upsert"] == {"securities": 10, "rows": 50}
    assert report["label"].startswith("SYNTHETIC")
    assert [len(conf["security_ids"]) for conf in _triggered_conf(started)] == [10]
    fetches = _source_fetches(configured_hub)  # one source call per batch, each recorded
    assert fetches == [("us_markets", COLLECTION, run.run_id, True)] * 3

    before = stored_prices(configured_hub)
    _, again = _test(dag, logical_date=FRIDAY_RUN)

    pd.testing.assert_frame_equal(
        stored_prices(configured_hub), before
    )  # values and loaded_at untouched
    assert again["publish.report"]["stages"]["upsert"] == {"securities": 0, "rows": 0}
    assert again["publish.report"]["security_ids"] == []
    assert len(_triggered_conf(started)) == 1  # nothing written, nothing to trigger
    assert len(_source_fetches(configured_hub)) == 3  # everything up to date: no source call


def _source_fetches(engine: Engine) -> list[tuple[str, str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT exchange_group, dag_id, run_id, ok FROM hub.source_fetches ORDER BY id")
        ).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def test_batch_size_from_the_configuration_sets_the_number_of_batches(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    dag = parse().dags[COLLECTION]
    first, _ = _test(dag, logical_date=FRIDAY_RUN)
    assert _mapped(first, "batches.collect") == 1  # 10 tickers, batch_size 500

    _set_job(configured_hub, "data_collection_equities", "us_markets", "batch_size = 3")
    second, values = _test(dag, logical_date=FRIDAY_RUN)  # same DAG object: no re-parse

    assert _mapped(second, "batches.collect") == 4
    labels = [ti.rendered_map_index for ti in second.get_task_instances() if ti.map_index >= 0]
    assert sorted(labels) == ["AAPL…GOOGL (3)", "JNJ…KO (3)", "MSFT…WMT (3)", "XOM…XOM (1)"]
    assert values["load_config"]["batch_size"] == 3


def test_a_failing_ticker_is_reported_and_the_others_load(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    _set_job(
        configured_hub,
        "data_collection_equities",
        "us_markets",
        'params = params || \'{"fail_tickers": ["MSFT"]}\'::jsonb, batch_size = 5',
    )

    _set_job(configured_hub, "calculate_indicators", "all", "enabled = false")  # its DAG is gone

    run, values = _test(parse().dags[COLLECTION], logical_date=FRIDAY_RUN)

    loaded = [ticker for ticker in US_TICKERS if ticker != "MSFT"]
    assert_sample_rows(configured_hub, loaded, date(2024, 3, 11), date(2024, 3, 15))
    report = values["publish.report"]
    assert report["failures"] == {"MSFT": "download: sample source told to fail for MSFT"}
    assert report["stages"]["metadata"]["ok"] == 9
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states.pop("publish.trigger_indicators") == "skipped"
    assert set(states.values()) == {"success"}  # a failed ticker fails no task


def _watermark(engine: Engine) -> date | None:
    with engine.connect() as conn:
        progress = storage.get_load_progress(conn, group_name="lse")
    return None if progress is None else progress.loaded_through


def test_historical_load_steps_month_by_month_skips_existing_rows_and_stops_at_today(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    _set_job(
        configured_hub,
        "historical_load_equities",
        "lse",
        "params = params || '{\"years_back\": 1}'::jsonb",
    )
    dag = parse().dags["historical_load_equities__lse"]
    today = datetime(2024, 3, 15, 2, 0, tzinfo=UTC)  # the 02:00 London run of 15 March 2024

    _, first = _test(dag, logical_date=today)
    assert _watermark(configured_hub) == date(2023, 3, 31)
    assert first["publish.finish_month"]["window"] == {
        "group": "lse", "start": "2023-03-01", "end": "2023-03-31"
    }  # fmt: skip
    assert_sample_rows(configured_hub, LSE_TICKERS, date(2023, 3, 1), date(2023, 3, 31))

    # April's first week of BP.L is already stored (from another source): it is skipped, not rewritten.
    collect_batch(
        configured_hub,
        group="lse",
        tickers=[["BP.L", "LSE"]],
        source_name="sample",
        end_date=date(2023, 4, 7),  # a 6-day lookback: Monday 3rd to Friday 7th
        lookback_days=6,
    )
    execute(
        configured_hub,
        "UPDATE market.ohlcv SET source = 'earlier' WHERE trade_date >= '2023-04-01'",
    )
    _, second = _test(dag, logical_date=today)
    assert _watermark(configured_hub) == date(2023, 4, 30)
    assert second["publish.finish_month"]["stages"]["skip_existing"] == {"rows": 5}
    with configured_hub.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM market.ohlcv WHERE source = 'earlier'"))
        assert kept.scalar_one() == 5

    # Jump to the last month: it loads up to yesterday, and the next run has nothing left to do.
    with configured_hub.begin() as conn:
        storage.advance_load_progress(conn, group_name="lse", loaded_through=date(2024, 2, 29))
    _, last = _test(dag, logical_date=today)
    assert last["publish.finish_month"]["loaded_through"] == "2024-03-14"
    done, after = _test(dag, logical_date=today)
    assert _watermark(configured_hub) == date(2024, 3, 14)
    states = {ti.task_id: ti.state for ti in done.get_task_instances()}
    assert states["prepare.plan_month"] == states["publish.finish_month"] == "skipped"
    assert "publish.finish_month" not in after


def test_indicators_compute_the_triggered_securities_then_every_stale_one(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    report = collect_batch(
        configured_hub,
        group="us_markets",
        tickers=[["AAPL", "NASDAQ"], ["MSFT", "NASDAQ"]],
        source_name="sample",
        end_date=date(2024, 3, 15),
        lookback_days=60,
    )
    first, second = report.security_ids
    dag = parse().dags[INDICATORS_DAG_ID]

    _, triggered = _test(dag, run_conf={"security_ids": [first]})
    _, manual = _test(dag)

    assert triggered["publish.report"]["security_ids"] == [first]
    assert manual["publish.report"]["security_ids"] == [second]
    with configured_hub.connect() as conn:
        counts = dict(
            conn.execute(
                text("SELECT security_id, count(sma_20) FROM market.indicators GROUP BY 1")
            ).all()
        )
    days = int(np.busday_count(date(2024, 1, 15), date(2024, 3, 16)))  # the 60-day lookback
    assert counts == {first: days - 19, second: days - 19}  # sma_20 is NULL for 19 warm-up days


def test_every_registered_family_has_a_builder_and_params_model() -> None:
    from hubctl.registry import families

    for family in families().values():
        assert callable(family.load_builder())
        family.params_model()  # every param has a default: a job needs no params to start


def test_an_installed_package_cannot_replace_a_built_in_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Built-in names are reserved, which lets get_family answer for them without reading the
    installed packages' entry points (a worker's parse of a built-in job skips that scan)."""
    from hubctl.registry import BUILT_IN_BY_NAME, families, get_family

    dist_info = tmp_path / "hijack-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: hijack\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[airflow_hub.pipelines]\nhijack = hijack_family:FAMILY\n"
    )
    (tmp_path / "hijack_family.py").write_text(
        "from hubctl.families import PipelineFamily\n"
        "from hubctl.pipelines.params import CollectionParams\n"
        "FAMILY = PipelineFamily(name='data_collection_equities', params_model=CollectionParams,"
        " builder='hijack_family:build')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    families.cache_clear()
    try:
        built_in = BUILT_IN_BY_NAME["data_collection_equities"]
        assert families()["data_collection_equities"] is built_in
        assert get_family("data_collection_equities") is built_in
        assert "hijack_family:FAMILY" in caplog.text and "is a built-in pipeline" in caplog.text
    finally:
        families.cache_clear()


def test_fail_tickers_are_refused_with_a_real_source() -> None:
    from hubctl.errors import ValidationError
    from hubctl.registry import validate_params

    assert validate_params("data_collection_equities", {"fail_tickers": ["MSFT"]})
    with pytest.raises(ValidationError, match="fail_tickers only applies to source 'sample'"):
        validate_params("historical_load_equities", {"source": "yfinance", "fail_tickers": ["A"]})


def test_audit_anchor_signs_the_chain_head_into_the_store(
    configured_hub: Engine,
    parse: Callable[[], Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The generated job runs the anchor service with the key from the worker's environment."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from hubctl.anchors import AnchorKey
    from hubctl.db import Database
    from hubctl.services import audit
    from hubctl.settings import get_settings

    monkeypatch.setenv("HUB_AUDIT_KEY", "the workers' anchor key, never in the database")
    monkeypatch.setenv("HUB_ANCHOR_PATH", str(tmp_path / "anchors.jsonl"))
    get_settings.cache_clear()
    run, values = _test(parse().dags["audit_anchor__hub"])
    with configured_hub.connect() as conn:
        head = conn.execute(text("SELECT last_id FROM hub.audit_chain_head")).scalar()
    with create_session() as session:
        recorded = session.query(XComModel).filter_by(run_id=run.run_id, key="hub_audit_id").one()
    assert values["anchor"]["last_id"] == values["anchor"]["count"] == head
    assert XComModel.deserialize_value(recorded) == head  # what load_config read for `runs show`
    [line] = (tmp_path / "anchors.jsonl").read_text().splitlines()
    assert json.loads(line) == values["anchor"]
    key = AnchorKey(b"the workers' anchor key, never in the database")
    assert audit.verify_anchored(
        Database(configured_hub.url.render_as_string(hide_password=False)), key=key
    ).ok
    get_settings.cache_clear()
