"""A small client for Airflow's REST API: ask for an immediate re-parse, read the DAG list.

Standard library only (urllib): the listener, `hubctl status` and `hubctl doctor` use it, and
hubctl never imports Airflow.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from hubctl.errors import HubError
from hubctl.settings import Settings, get_settings

TIMEOUT_SECONDS = 5.0
# Airflow silently caps a page at [api] maximum_page_limit (100 by default): ask for no more.
PAGE_SIZE = 100


class AirflowApiError(HubError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when Airflow answered


@dataclass(frozen=True)
class AirflowApiConfig:
    url: str
    username: str
    password: str

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AirflowApiConfig | None:
        """HUB_AIRFLOW_API_URL and credentials, else what `hubctl up` wrote under HUB_HOME."""
        settings = settings or get_settings()
        if settings.airflow_api_url:
            return cls(
                settings.airflow_api_url.rstrip("/"),
                settings.airflow_username,
                settings.airflow_password or "",
            )
        stack_file = stack_api_file(settings.resolved_home)
        if stack_file.exists():
            return cls(**json.loads(stack_file.read_text()))
        return None


@dataclass(frozen=True)
class PauseEvent:
    """Who paused a DAG in Airflow (the event log's owner) and when (ISO time)."""

    who: str
    when: str


def stack_api_file(home: Path) -> Path:
    return home / "airflow-api.json"


class AirflowApi:
    def __init__(self, config: AirflowApiConfig) -> None:
        self.config = config
        self._token: str | None = None
        self.requests = 0  # every HTTP request made, the login included (hub_monitor counts them)
        # Threads may share a client (status asks for every group at once): one login, one count.
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AirflowApi | None:
        """A client of the Airflow API the settings name (AirflowApiConfig.from_settings); None
        when none is known."""
        config = AirflowApiConfig.from_settings(settings)
        return cls(config) if config else None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._lock:
            self.requests += 1
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.config.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise AirflowApiError(
                f"Airflow API {method} {path}: HTTP {error.code}", error.code
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AirflowApiError(
                f"Airflow API unreachable at {self.config.url}: {reason}"
            ) from None
        return json.loads(payload) if payload else None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._lock:
            if self._token is None:
                credentials = {"username": self.config.username, "password": self.config.password}
                self._token = self._call("POST", "/auth/token", credentials)["access_token"]
        return self._call(method, path, body)

    def list_all(self, path: str, key: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page by page (offset) until ``total_entries``.

        The server may cap a page below PAGE_SIZE; the next offset is what actually arrived.
        """
        items: list[dict[str, Any]] = []
        while True:
            page_query = {**query, "limit": str(PAGE_SIZE), "offset": str(len(items))}
            page = self.call("GET", f"{path}?{urllib.parse.urlencode(page_query)}")
            items.extend(page[key])
            if not page[key] or len(items) >= int(page["total_entries"]):
                return items

    def dags(
        self, *, include_stale: bool = False, pattern: str | None = None, paused: bool | None = None
    ) -> list[dict[str, Any]]:
        query = {"exclude_stale": str(not include_stale).lower(), "order_by": "dag_id"}
        if pattern:
            query["dag_id_pattern"] = pattern
        if paused is not None:
            query["paused"] = str(paused).lower()
        return self.list_all("/api/v2/dags", "dags", query)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run (state, dates, ``dag_versions`` it ran on, note)."""
        path = f"/api/v2/dags/{_quoted(dag_id)}/dagRuns/{_quoted(run_id)}"
        found: dict[str, Any] = self.call("GET", path)
        return found

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
        """One XCom value of the run's task, as the task stored it (JSON)."""
        path = (
            f"/api/v2/dags/{_quoted(dag_id)}/dagRuns/{_quoted(run_id)}/taskInstances/"
            f"{_quoted(task_id)}/xcomEntries/{_quoted(key)}"
        )
        value = self.call("GET", path)["value"]
        return json.loads(value) if isinstance(value, str) else value

    def last_pause(self, dag_id: str) -> PauseEvent | None:
        """Who paused the DAG and when: the newest pause in Airflow's event log, if any."""
        query = {
            "dag_id": dag_id,
            "included_events": "patch_dag",
            "order_by": "-when",
            "limit": "20",
        }
        found = self.call("GET", "/api/v2/eventLogs?" + urllib.parse.urlencode(query))
        for event in found["event_logs"]:
            extra = json.loads(event.get("extra") or "{}")
            if str(extra.get("is_paused")).lower() == "true":
                return PauseEvent(who=event.get("owner") or "?", when=event["when"])
        return None

    def file_tokens(self) -> dict[str, str]:
        """Each DAG file's name -> its parse token, for every file that produced a DAG.

        Stale DAGs count: Airflow accepts a file's token while any DAG row names the file.
        """
        return {
            Path(dag["fileloc"]).name: str(dag["file_token"])
            for dag in self.dags(include_stale=True)
        }

    def reparse(self, file_token: str) -> None:
        """Ask the dag-processor to parse that file now (it picks it up within about a second).

        HTTP 409 means a request for the file is already pending: its parse has not started, so it
        reads the configuration as it is now, and that is what was wanted.
        """
        try:
            self.call("PUT", f"/api/v2/parseDagFile/{file_token}")
        except AirflowApiError as error:
            if error.status != HTTPStatus.CONFLICT:
                raise


def _quoted(part: str) -> str:
    return urllib.parse.quote(part, safe="")
