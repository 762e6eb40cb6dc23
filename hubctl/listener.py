"""`hubctl listen`: every committed change to a control table reaches Airflow in seconds.

Whoever writes (hubctl, the SQL API, raw SQL, the web page), the audit log gets an entry and the
database NOTIFYs ``hub_changes`` on commit (migration 0010). This one process LISTENs, reads the
entries after the last one it handled, maps their exchange groups to the parse units that build
them (hubctl.shards) and asks Airflow to re-parse exactly those files.

The notification is only a wake-up: the audit log is the truth. After a lost connection (a
database restart) the listener reconnects and catches up from the last id it handled, so a
change committed while it was away is not missed. That id is also kept in a file beside the
snapshot, so a restarted listener catches up on what was committed while it was stopped (its very
first start begins at the newest entry). A failed re-parse request (Airflow not up yet, or
unreachable) keeps the entries pending; they are retried on the next wake-up (at most
POLL_SECONDS later).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg2

from hubctl.airflow_api import AirflowApi, AirflowApiConfig, AirflowApiError
from hubctl.db import Connection, Database
from hubctl.repository import audit as audit_rows
from hubctl.settings import Settings
from hubctl.shards import Shard, all_shards, shard_folder, shards_for_groups

log = logging.getLogger("hubctl.listener")

CHANNEL = "hub_changes"
# A wake-up at least this often: retries pending entries and notices a silently dead connection.
POLL_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
# A file with no DAG has no token yet; ask Airflow again at most this often.
TOKEN_REFRESH_SECONDS = 5.0
# Each re-parsed unit is asked for once more this much later. Airflow marks a DAG stale only when
# its last parse is [dag_processor] stale_dag_threshold older than its file's, and skips writing
# a DAG serialised less than [core] min_serialized_dag_update_interval ago (both 1 s under
# `hubctl up`): a change committed within that window of the unit's previous parse would
# otherwise wait for the next periodic parse (30 s).
SETTLE_SECONDS = 2.0


class Listener:
    def __init__(self, settings: Settings, api: AirflowApi | None = None) -> None:
        """Without ``api`` the listener finds Airflow's API from the settings when it needs it
        (under `hubctl up` the API's address is published once Airflow answers)."""
        self.settings = settings
        self._given_api = api
        self._api = api
        self.database = Database.from_settings(settings)
        self.position_file = settings.resolved_snapshot_path.parent / "listener-position"
        self.last_id: int | None = _read_position(self.position_file)
        self._tokens: dict[str, str] = {}
        self._tokens_read_at = float("-inf")
        self._settle_at: dict[Shard, float] = {}

    @property
    def api(self) -> AirflowApi:
        if self._api is None:
            config = AirflowApiConfig.from_settings(self.settings)
            if config is None:
                raise AirflowApiError("Airflow's API is not known yet (HUB_AIRFLOW_API_URL)")
            self._api = AirflowApi(config)
        return self._api

    def run(self, stop: threading.Event | None = None) -> None:
        """Listen until ``stop`` is set; reconnect after every lost connection."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                with self.database.listening(CHANNEL) as conn:
                    self._serve(conn, stop)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                log.warning("hub database connection lost (%s); reconnecting", _first_line(error))
                stop.wait(RECONNECT_SECONDS)

    def _serve(self, conn: Connection, stop: threading.Event) -> None:
        if self.last_id is None:
            head = audit_rows.chain_head(conn)
            self.last_id = int(head["last_id"] or 0) if head else 0
            log.info("listening on %s from the newest audit entry, %d", CHANNEL, self.last_id)
        else:
            log.info("listening on %s; catching up after audit entry %d", CHANNEL, self.last_id)
        while not stop.is_set():
            self.catch_up(conn)
            self.settle()
            select.select([conn], [], [], self._wait_seconds())
            conn.poll()
            conn.notifies.clear()

    def _wait_seconds(self) -> float:
        if not self._settle_at:
            return POLL_SECONDS
        return max(0.0, min(POLL_SECONDS, min(self._settle_at.values()) - time.monotonic()))

    def settle(self) -> None:
        """The second request for each unit re-parsed SETTLE_SECONDS ago (best effort)."""
        now = time.monotonic()
        due = {shard for shard, at in self._settle_at.items() if at <= now}
        if not due:
            return
        for shard in due:
            del self._settle_at[shard]
        try:
            self.reparse(due)
        except AirflowApiError as error:
            log.warning("Airflow not asked to re-parse again: %s", error)

    def catch_up(self, conn: Connection) -> None:
        """Re-parse the units the entries after ``last_id`` affect; advance only on success."""
        entries = audit_rows.affected_groups_after(conn, after_id=self.last_id or 0)
        if not entries:
            return
        shards = self.affected_shards(entry["groups"] for entry in entries)
        try:
            self.reparse(shards)
        except AirflowApiError as error:
            log.warning("Airflow not asked to re-parse (will retry): %s", error)
            # Next time: a fresh login, address and tokens (Airflow may have restarted).
            self._api, self._tokens = self._given_api, {}
            return
        self.last_id = int(entries[-1]["id"])
        _write_position(self.position_file, self.last_id)
        settle_at = time.monotonic() + SETTLE_SECONDS
        self._settle_at.update(dict.fromkeys(shards, settle_at))

    def affected_shards(self, groups_per_entry: Iterable[list[Any] | None]) -> set[Shard]:
        count = self.settings.dag_shards
        shards: set[Shard] = set()
        for groups in groups_per_entry:
            shards |= set(all_shards(count)) if groups is None else shards_for_groups(groups, count)
        return shards

    def reparse(self, shards: Iterable[Shard]) -> None:
        for shard in sorted(shards, key=lambda shard: shard.index):
            if shard.count > 1:
                self._touch(shard)
            token = self._token(shard.file_name)
            if token is not None:
                self.api.reparse(token)
                log.info("asked Airflow to re-parse %s", shard.file_name)
            elif shard.count == 1:
                log.info("%s has no DAG in Airflow yet; its next periodic parse applies the change",
                         shard.file_name)  # fmt: skip

    def _token(self, file_name: str) -> str | None:
        if file_name not in self._tokens and (
            time.monotonic() - self._tokens_read_at > TOKEN_REFRESH_SECONDS
        ):
            self._tokens = self.api.file_tokens()
            self._tokens_read_at = time.monotonic()
        return self._tokens.get(file_name)

    def _touch(self, shard: Shard) -> None:
        """Put a generated unit first in the dag-processor's queue.

        The dag-processor (file_parsing_sort_mode=modified_time, the default) parses the newest
        files first. The API request alone is not enough: a file that never produced a DAG has no
        token, and on a busy dag-processor a requested file loses its place at the front when the
        request's bundle refresh re-sorts the queue by mtime (Airflow 3.3,
        DagFileProcessorManager._resort_file_queue): measured at 5,000 jobs, a re-enabled group
        then waited 77-110 s. The package's own hub_dags.py is never touched.
        """
        path = shard_folder(self.settings) / shard.file_name
        try:
            os.utime(path)
        except OSError as error:
            log.warning("cannot touch %s: %s", path, error)


def _read_position(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _write_position(path: Path, last_id: int) -> None:
    """Best effort: without the file a restarted listener starts at the newest entry."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(str(last_id))
        os.replace(temporary, path)
    except OSError as error:
        log.warning("cannot keep the listener's position in %s: %s", path, error)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def listen(settings: Settings) -> None:
    """Run the listener until SIGTERM or Ctrl-C (`hubctl listen`, started by `hubctl up`)."""
    import signal

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Listener(settings).run(stop)
