"""The configuration document: defaults, export, plan and apply against the real database."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import configfile
from hubctl.author import Author
from hubctl.errors import ValidationError
from hubctl.services import documents
from hubctl.tables import JOBS
from tests.support.databases import database_of


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM hub.{table}")) or 0)


def test_defaults_apply_in_one_change_set(default_config: Engine) -> None:
    assert _count(default_config, "exchange_groups") == 4
    assert _count(default_config, "dag_configuration") == 12
    with default_config.connect() as conn:
        change_sets = conn.execute(
            sa.text("SELECT DISTINCT change_set, actor, reason FROM hub.audit_log")
        ).all()
    assert len(change_sets) == 1
    assert change_sets[0][1:] == ("pytest", "default configuration")


def test_second_plan_is_empty(default_config: Engine) -> None:
    plan = documents.plan_document(database_of(default_config), configfile.load_defaults())
    assert plan.empty


def test_parse_reports_every_problem_at_once() -> None:
    data = {
        "jobs": [
            {"dag_name": "calculate_indicators", "job_name": "all"},
            {"dag_name": "nope", "job_name": "x"},
            {"dag_name": "calculate_indicators", "job_name": "all"},
            {"dag_name": "calculate_indicators", "job_name": "y", "cpu_request": "9"},
        ],
        "tickers": "AAPL",
        "colour": "red",
    }
    with pytest.raises(ValidationError) as caught:
        configfile.parse_document(data, source="f.yaml")
    message = str(caught.value)
    assert message.startswith("f.yaml: 5 problem(s):")
    for expected in (
        "unknown key 'colour'",
        "tickers: expected a list",
        "jobs[3]: cpu_request (9)",
        "jobs[1]: dag_name: unknown pipeline 'nope'",
        "jobs[2]: duplicate job",
    ):
        assert expected in message


def test_params_are_normalised_to_the_pipeline_types() -> None:
    document = configfile.parse_document(
        {
            "jobs": [
                {
                    "dag_name": "historical_load_equities",
                    "job_name": "x",
                    "params": {"years_back": "5"},
                }
            ]
        }
    )
    jobs = document.specs(JOBS)
    assert jobs is not None and jobs[0].params == {"years_back": 5}


def test_dump_and_parse_round_trip() -> None:
    defaults = configfile.load_defaults()
    assert configfile.parse_text(configfile.dump_document(defaults)) == defaults


def test_text_with_a_next_line_character_survives_dump_and_parse() -> None:
    """U+0085 is a line break to YAML: written unquoted it would read back as a space."""
    group = {"group_name": "x", "display_name": "a\x85b", "exchanges": ["X"],
             "primary_timezone": "UTC"}  # fmt: skip
    document = configfile.parse_document({"exchange_groups": [group]})
    assert configfile.parse_text(configfile.dump_document(document)) == document


def test_a_document_with_duplicates_is_refused() -> None:
    job = {"dag_name": "calculate_indicators", "job_name": "all"}
    with pytest.raises(ValidationError, match=r"jobs\[1\]: duplicate job"):
        configfile.parse_document({"jobs": [job, job]})


def test_modes(default_config: Engine) -> None:
    text = configfile.defaults_text().replace("priority: 10", "priority: 9")
    text = text.replace("  - {ticker: AAPL, exchange: NASDAQ, groupings: [sp500, nasdaq100]}\n", "")
    text += "  - {ticker: RIO.L, exchange: LSE}\n"
    document = configfile.parse_text(text)
    counts = {
        mode: [
            documents.plan_document(database_of(default_config), document, mode=mode).count(action)
            for action in ("create", "update", "delete")
        ]
        for mode in ("converge", "merge", "add-missing")
    }
    assert counts == {"converge": [1, 1, 1], "merge": [1, 1, 0], "add-missing": [1, 0, 0]}


def test_fingerprint_depends_on_the_row_versions(default_config: Engine) -> None:
    document = configfile.parse_text("jobs: []\n")
    first = documents.plan_document(database_of(default_config), document)
    assert (
        documents.plan_document(database_of(default_config), document).fingerprint
        == first.fingerprint
    )
    with default_config.begin() as conn:
        conn.execute(
            sa.text("UPDATE hub.dag_configuration SET priority = 2 WHERE job_name = 'all'")
        )
    assert (
        documents.plan_document(database_of(default_config), document).fingerprint
        != first.fingerprint
    )


def test_apply_returns_the_change_set_of_its_audit_rows(engine: Engine) -> None:
    result = documents.apply_document(
        database_of(engine),
        configfile.parse_text("tickers: [{ticker: RIO.L, exchange: LSE}]"),
        author=Author("t", reason=None),
    )
    with engine.connect() as conn:
        change_sets = conn.scalars(sa.text("SELECT change_set FROM hub.audit_log")).all()
    assert change_sets == [result.change_set]


def test_an_operator_role_can_plan_and_apply(engine: Engine) -> None:
    """hub_operator's grants are enough for apply (its table locks included) and for revert."""
    from sqlalchemy.engine import make_url

    from hubctl.services import audit, config
    from hubctl.services.rows import FieldChanges

    name = f"test_operator_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN IN ROLE hub_operator"))
    operator = sa.create_engine(make_url(str(engine.url)).set(username=name), poolclass=sa.NullPool)
    try:
        documents.apply_document(
            database_of(operator), configfile.load_defaults(), author=Author("op", reason=None)
        )
        change = config.set_job(
            database_of(operator),
            dag_name="calculate_indicators",
            job_name="all",
            changes=FieldChanges({"priority": 7}),
            author=Author("op"),
        )
        with operator.connect() as conn:
            latest = conn.scalar(sa.text("SELECT max(id) FROM hub.audit_log"))
        audit.revert(database_of(operator), entry_id=int(latest or 0), author=Author("op"))
        assert change.version_after == 2
        assert documents.plan_document(database_of(operator), configfile.load_defaults()).empty
    finally:
        operator.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {name}; DROP ROLE {name}"))
