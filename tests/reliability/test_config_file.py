"""A bad configuration file is refused before anything is written, with every problem listed at once.

Problems a file shows by itself (unknown keys, wrong types, duplicate jobs) and problems that need
the database (a job naming a group that neither the file nor the database defines) come in one
message, so an operator fixes the file in one go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.support.cli import Run, snapshot
from tests.support.reliability import Figures

pytestmark = pytest.mark.reliability

JOBS_ONLY = """
jobs:
  - {dag_name: calculate_indicators, job_name: all, colour: red}
  - {dag_name: data_collection_equities, job_name: lse, exchange_group: lse, batch_size: [500]}
  - {dag_name: historical_load_equities, job_name: tse, exchange_group: tse}
  - {dag_name: historical_load_equities, job_name: lse, exchange_group: lse}
  - {dag_name: historical_load_equities, job_name: lse, exchange_group: lse}
shape: square
"""
JOBS_ONLY_PROBLEMS = [
    "unknown key 'shape'",
    "jobs[0].colour: Extra inputs are not permitted",
    "jobs[1].batch_size: Input should be a valid integer",
    "jobs[4]: duplicate job 'historical_load_equities/lse'",
    # the database defines lse, not tse:
    "jobs[2].exchange_group: unknown group 'tse'",
]

GROUPS_AND_JOBS = """
exchange_groups:
  - {group_name: lse, display_name: LSE, exchanges: [LSE], primary_timezone: Europe/London}
  - {group_name: tse, display_name: Tokyo, exchanges: TSE, primary_timezone: Asia/Tokyo}
jobs:
  - {dag_name: data_collection_equities, job_name: lse, exchange_group: lse, priority: high}
  - {dag_name: data_collection_equities, job_name: tse, exchange_group: tse}
  - {dag_name: data_collection_equities, job_name: us, exchange_group: us_markets}
  - {dag_name: data_collection_equities, job_name: us, exchange_group: us_markets}
"""
GROUPS_AND_JOBS_PROBLEMS = [
    "exchange_groups[1].exchanges: Input should be a valid list",
    "jobs[0].priority: Input should be a valid integer",
    "jobs[3]: duplicate job 'data_collection_equities/us'",
    # the file replaces the groups: us_markets is in the database but not in the file
    "jobs[2].exchange_group: unknown group 'us_markets'",
    "jobs[3].exchange_group: unknown group 'us_markets'",
]


@pytest.mark.parametrize(
    ("text", "problems"),
    [(JOBS_ONLY, JOBS_ONLY_PROBLEMS), (GROUPS_AND_JOBS, GROUPS_AND_JOBS_PROBLEMS)],
    ids=["groups from the database", "groups from the file"],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_every_problem_of_a_file_is_listed_at_once_and_nothing_is_written(
    run: Run,
    default_config: Engine,
    tmp_path: Path,
    figures: Figures,
    text: str,
    problems: list[str],
    command: str,
) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    before = snapshot(default_config)
    result = run(command, "-f", str(path), *(["--yes"] if command == "apply" else []))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {path}: {len(problems)} problem(s): ")
    assert result.stderr.count("\n") == 1
    for problem in problems:
        assert problem in result.stderr, (problem, result.stderr)
    assert result.stdout == ""
    assert snapshot(default_config) == before
    figures.add("bad files refused with every problem listed")


def test_a_tse_job_is_valid_once_the_file_defines_tse(
    run: Run, default_config: Engine, tmp_path: Path
) -> None:
    """The unknown-group problem above is the database's answer, not a parse artefact."""
    path = tmp_path / "hub.yaml"
    text = GROUPS_AND_JOBS.replace("exchanges: TSE", "exchanges: [TSE], calendar: XTKS").replace(
        "priority: high", "priority: 9"
    )
    path.write_text(
        text.replace("us_markets}", "tse}").replace("job_name: us,", "job_name: us2,", 1)
    )
    assert run("plan", "-f", str(path)).exit_code == 0
