"""Load and concurrency: many writers on the same rows lose nothing; parses never see half a change.

The writers call the library functions the CLI calls (hubctl.services.config.set_job, and
hubctl.configfile.apply_document for change sets), each change in its own audited transaction,
from 20 threads against one database.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from hubctl import configfile
from hubctl.audit import verify_chain
from hubctl.author import Author
from hubctl.db import Limits
from hubctl.errors import ConflictError
from hubctl.services import config, documents, reads
from hubctl.services.rows import FieldChanges
from hubctl.settings import get_settings
from hubctl.tables import JOBS
from tests.support.cli import audit_rows
from tests.support.databases import database_of
from tests.support.reliability import Figures

pytestmark = pytest.mark.reliability

WRITERS, CHANGES = 20, 50
# Three rows shared by all writers: every row is written by every writer.
ROWS = [
    ("data_collection_equities", "lse"),
    ("historical_load_equities", "lse"),
    ("calculate_indicators", "all"),
]


def _concurrently(target: Callable[[int], None], count: int) -> None:
    """target(0), …, target(count - 1), each in a thread of its own; re-raise the first failure."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        for future in [pool.submit(target, number) for number in range(count)]:
            future.result()


@pytest.mark.parametrize("expect_version", [False, True], ids=["plain", "expect-version"])
def test_20_writers_making_50_changes_each_to_the_same_rows_lose_no_update(
    default_config: Engine, hub_env: Path, expect_version: bool, figures: Figures
) -> None:
    engine = default_config
    # What is proved is that no update is lost; the interactive timeouts (3 s lock, 5 s statement)
    # would only turn a slow turn on a loaded 2-core machine into a failed write.
    patient = Limits(lock_ms=60_000, statement_ms=60_000)
    database = dataclasses.replace(database_of(default_config), limits=patient)
    since = audit_rows(engine)[-1]["id"]
    versions_before = {
        row: reads.get_job(database, dag_name=row[0], job_name=row[1])["version"] for row in ROWS
    }
    landed: dict[int, tuple[tuple[str, str], int | None]] = {}  # value -> (row, version expected)
    conflicts: list[int] = []

    def writer(number: int) -> None:
        for change in range(CHANGES):
            row = ROWS[(number + change) % len(ROWS)]
            value = 1 + number * CHANGES + change  # every change writes a value of its own
            expected = None
            if expect_version:
                expected = reads.get_job(database, dag_name=row[0], job_name=row[1])["version"]
            try:
                config.set_job(
                    database,
                    dag_name=row[0],
                    job_name=row[1],
                    changes=FieldChanges({"batch_size": value}),
                    expect_version=expected,
                    author=Author(f"writer-{number}", reason=f"change {change}"),
                )
            except ConflictError:
                conflicts.append(number)
                continue
            landed[value] = (row, expected)

    _concurrently(writer, WRITERS)

    entries = audit_rows(engine, since)
    successes = len(landed)
    assert successes + len(conflicts) == WRITERS * CHANGES
    assert len(entries) == successes  # one audit row per successful change, none for refusals
    if not expect_version:
        assert successes == WRITERS * CHANGES
    with database.connect() as conn:
        assert verify_chain(conn).ok

    by_row: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_row[(entry["row_key"]["dag_name"], entry["row_key"]["job_name"])].append(entry)
    lost = 0
    for row in ROWS:
        history = by_row[row]
        final = reads.get_job(database, dag_name=row[0], job_name=row[1])
        # Each change was made on top of the previous one: versions step by one, and each old
        # value is the value the previous change wrote. Nothing was overwritten unseen.
        versions = [entry["new_row"]["version"] for entry in history]
        assert versions == list(range(versions_before[row] + 1, final["version"] + 1))
        for previous, entry in itertools.pairwise(history):
            assert (
                entry["changed_fields"]["batch_size"]["old"]
                == (previous["changed_fields"]["batch_size"]["new"])
            )
        # The final value is explained by the audit: it is what the last entry wrote.
        assert final["batch_size"] == history[-1]["changed_fields"]["batch_size"]["new"]
        written = [entry["changed_fields"]["batch_size"]["new"] for entry in history]
        lost += len(
            {value for value, (target, _) in landed.items() if target == row} - set(written)
        )
        if expect_version:  # a change landed only on the version its writer had read
            for entry in history:
                assert entry["old_row"]["version"] == landed[entry["new_row"]["batch_size"]][1]
    assert lost == 0
    figures.rows_lost(lost)
    label = "with --expect-version" if expect_version else "without --expect-version"
    figures.add(f"{WRITERS} writers × {CHANGES} changes, {label}: successful changes", successes)
    figures.add(f"{WRITERS} writers × {CHANGES} changes, {label}: conflicts", len(conflicts))


BATCH_SIZE = re.compile(r"^\| batch_size \| (\d+) \|$", re.MULTILINE)


def test_parses_while_writers_apply_change_sets_never_see_half_a_change(
    default_config: Engine, hub_env: Path, figures: Figures
) -> None:
    """Each change set gives all 12 jobs one new batch_size and retries; every parse sees one."""
    from hubctl.dag_builder import generate_dags

    engine, settings = default_config, get_settings()
    defaults = configfile.load_defaults()
    assert defaults.specs(JOBS) is not None
    parses: Counter[str] = Counter()
    seen: set[Any] = set()

    def change_set(number: int) -> configfile.ConfigDocument:
        value = 100 + number
        jobs = [
            job.model_copy(update={"batch_size": value, "max_retries": value % 7})
            for job in defaults.specs(JOBS) or []
        ]
        return configfile.ConfigDocument({JOBS.section: jobs})

    def writer(number: int) -> None:
        for round_ in range(15):
            document = change_set(1 + number * 100 + round_)
            documents.apply_document(
                database_of(engine),
                document,
                author=Author(f"writer-{number}", reason="change set"),
                mode="merge",
            )

    def dag_parser() -> None:  # what dags/hub_dags.py does at every parse
        while not all(future.done() for future in writing) or parses["dags"] < 3:
            dags = generate_dags(settings)
            assert len(dags) == 12
            values = {
                (tuple(BATCH_SIZE.findall(dag.doc_md or "")), dag.tasks[0].retries)
                for dag in dags.values()
            }
            assert len(values) == 1, values
            seen.update(values)
            parses["dags"] += 1

    def snapshot_reader() -> None:  # the file the generator falls back on, read mid-write
        path = settings.resolved_snapshot_path
        while not all(future.done() for future in writing) or parses["snapshot"] < 3:
            try:
                content = path.read_bytes()
            except FileNotFoundError:  # not written yet
                continue
            entries = json.loads(content)["specs"]  # never half a file: written by rename
            assert len(entries) == 12
            assert len({(e["batch_size"], e["max_retries"]) for e in entries}) == 1, entries
            parses["snapshot"] += 1
            time.sleep(0.001)

    documents.apply_document(
        database_of(engine), change_set(0), author=Author("t", reason=None), mode="merge"
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        writing = [pool.submit(writer, number) for number in range(4)]
        reading = [pool.submit(dag_parser), pool.submit(snapshot_reader)]
        for future in [*writing, *reading]:
            future.result()
    assert len(seen) > 1  # the parses did run while the change sets landed
    figures.add("consistent DAG parses during concurrent change sets", parses["dags"])
    figures.add("consistent snapshot reads during concurrent change sets", parses["snapshot"])
