"""`hubctl listen`: every committed change to a control table reaches Airflow in seconds.

Whoever writes (hubctl, the SQL API, raw SQL, the web page), the audit log gets an entry and the
database NOTIFYs ``hub_changes`` on commit (migration 0010). This one process LISTENs, reads the
entries after the last one it handled, maps their exchange groups to the parse units that build
them (hubctl.shards) and asks Airflow to re-parse exactly those files. It is the only way hubctl
tells Airflow about a change, whatever the number of parse units.

The notification is only a wake-up: the audit log is the truth. After a lost connection (a
database restart) the listener reconnects and catches up from the last id it handled, so a
change committed while it was away is not missed. That id and a heartbeat are kept in its row of
hub.listener_state (migration 0014), so a restarted listener catches up on what was committed
while it was stopped, and `hubctl doctor` can tell from anywhere whether changes reach Airflow.
A position it cannot trust (no row, or one ahead of the audit head: a restored or recreated
database) is logged, and every unit is re-parsed once before it follows the head. A failed
re-parse request (Airflow not up yet, or unreachable) keeps the entries pending; they are
retried on the next wake-up (at most POLL_SECONDS later).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg2

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import Connection, Database
from hubctl.repository import audit as audit_rows
from hubctl.repository import listener as state_rows
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
# How often the listener records that it is alive (hub.listener_state.heartbeat_at); `hubctl
# doctor` warns after three periods without one (hubctl.services.health).
HEARTBEAT_SECONDS = 10.0
_HOST = socket.gethostname()


class Listener:
    def __init__(self, settings: Settings, api: AirflowApi | None = None) -> None:
        """Without ``api`` the listener finds Airflow's API from the settings when it needs it
        (under `hubctl up` the API's address is published once Airflow answers)."""
        self.settings = settings
        self._given_api = api
        self._api = api
        self.database = Database.from_settings(settings)
        self.name = settings.listener_name
        # The last audit entry passed on to Airflow; None: every unit is to be re-parsed first.
        self.last_id: int | None = None
        self._started = False
        self._beaten_at = float("-inf")
        self._tokens: dict[str, str] = {}
        self._tokens_read_at = float("-inf")
        self._settle_at: dict[Shard, float] = {}

    @property
    def api(self) -> AirflowApi:
        if self._api is None:
            self._api = AirflowApi.from_settings(self.settings)
            if self._api is None:
                raise AirflowApiError("Airflow's API is not known yet (HUB_AIRFLOW_API_URL)")
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
        if not self._started:
            self.start(conn)
        if self.last_id is not None:
            log.info("listening on %s; catching up after audit entry %d", CHANNEL, self.last_id)
        while not stop.is_set():
            self.catch_up(conn)
            self.settle()
            self.heartbeat(conn)
            select.select([conn], [], [], self._wait_seconds())
            conn.poll()
            conn.notifies.clear()

    def start(self, conn: Connection) -> None:
        """Take up the stored position; without one, every unit is re-parsed once (catch_up)."""
        self.last_id = state_rows.start(conn, name=self.name, host=_HOST, pid=os.getpid())
        self._started, self._beaten_at = True, time.monotonic()
        if self.last_id is None:
            log.warning(
                "listener %r has no stored position (first start, or its row in"
                " hub.listener_state is gone): re-parsing every unit once, then following the"
                " audit log",
                self.name,
            )

    def heartbeat(self, conn: Connection, *, force: bool = False) -> None:
        """Record the position and that this listener is alive, at most every HEARTBEAT_SECONDS."""
        if not force and time.monotonic() - self._beaten_at < HEARTBEAT_SECONDS:
            return
        state_rows.beat(
            conn, name=self.name, host=_HOST, pid=os.getpid(), last_audit_id=self.last_id
        )
        self._beaten_at = time.monotonic()

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
        """Re-parse what the entries after ``last_id`` affect (every unit, without a position to
        trust); advance, and record the position, only on success."""
        pending = self.pending(conn)
        if pending is None:
            return
        shards, reached = pending
        everything = self.last_id is None
        try:
            self.reparse(shards)
        except AirflowApiError as error:
            log.warning("Airflow not asked to re-parse (will retry): %s", error)
            # Next time: a fresh login, address and tokens (Airflow may have restarted).
            self._api, self._tokens = self._given_api, {}
            return
        self.last_id = reached
        self.heartbeat(conn, force=True)
        if not everything:  # a lost position: no change is known to have just missed a parse
            settle_at = time.monotonic() + SETTLE_SECONDS
            self._settle_at.update(dict.fromkeys(shards, settle_at))

    def pending(self, conn: Connection) -> tuple[set[Shard], int] | None:
        """The units to re-parse and the audit id that reaches; None when nothing is new."""
        head = _head_id(conn)
        if self.last_id is not None and self.last_id > head:
            log.warning(
                "listener %r: stored position %d is ahead of the audit head %d (a restored or"
                " recreated database?): re-parsing every unit once, then following from %d",
                self.name, self.last_id, head, head,
            )  # fmt: skip
            self.last_id = None
        if self.last_id is None:
            return set(all_shards(self.settings.dag_shards)), head
        entries = audit_rows.affected_groups_after(conn, after_id=self.last_id)
        if not entries:
            return None
        return self.affected_shards(entry["groups"] for entry in entries), int(entries[-1]["id"])

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


def _head_id(conn: Connection) -> int:
    head = audit_rows.chain_head(conn)
    return int(head["last_id"] or 0) if head else 0


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def listen(settings: Settings) -> None:
    """Run the listener until SIGTERM or Ctrl-C (`hubctl listen`, started by `hubctl up`)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Listener(settings).run(stop)
