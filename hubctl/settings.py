"""The one settings class. Every knob of the tool is an environment variable prefixed ``HUB_``.

A frozen dataclass read from the environment rather than a pydantic-settings model: importing
pydantic-settings (and the asyncio it pulls in) cost every command 25 ms of start-up.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Any

from hubctl.errors import ValidationError

ENV_PREFIX = "HUB_"
# Entry files are named hub_dags_<i>_of_<N>.py with three digits.
MAX_DAG_SHARDS = 999
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the hub database (postgresql+psycopg2://...). Unset: an embedded
    # PostgreSQL under home.
    database_url: str | None = None
    # URL `hubctl db upgrade/downgrade` migrate with: a login that owns the schema, so that the
    # runtime's (HUB_DATABASE_URL) need not. Unset: database_url; for the embedded server, its
    # superuser (the runtime then connects as hub_app, a member of hub_operator).
    migration_database_url: str | None = None
    # URL the generator reads with (a role that can only SELECT the configuration).
    # Unset: database_url.
    reader_database_url: str | None = None
    # URL the Markets page writes with: a login in hub_web (`hubctl db add-login NAME --web`),
    # which vouches for the signed-in Airflow user so that approvals there count. Unset:
    # database_url (the page works, but its approvals are refused).
    web_database_url: str | None = None
    # Where the embedded database lives.
    home: Path = Path(".hub")
    # Last-known-good configuration snapshot. Unset: home/snapshot.json.
    snapshot_path: Path | None = None
    # How long to wait for the login (libpq connect_timeout).
    connect_timeout_seconds: int = 3
    # How long one statement waits for a lock another session holds before it gives up and names
    # the holder (PostgreSQL lock_timeout; 0: forever).
    lock_timeout_ms: int = 3000
    # How long one statement of hubctl or of the generator's parse may run (PostgreSQL
    # statement_timeout; 0: unbounded).
    statement_timeout_ms: int = 5000
    # The same for migrations and the market-data pipelines, whose bulk statements run longer.
    bulk_statement_timeout_ms: int = 900_000
    # How long past the statement timeout the client waits for any answer before it hangs up: a
    # server (or a pooler in front of it) that accepted the login and went silent.
    answer_grace_seconds: int = 5
    # Airflow's API (e.g. http://127.0.0.1:8080): the listener asks it to re-parse what a change
    # affects; status and doctor read it. Unset: the local stack's, when `hubctl up` runs.
    airflow_api_url: str | None = None
    # The listener's row in hub.listener_state (its position and heartbeat): one name per
    # `hubctl listen` process.
    listener_name: str = "default"
    airflow_username: str = "admin"
    airflow_password: str | None = None
    # Port of the local stack's api-server.
    airflow_port: int = 8080
    # Port `hubctl metrics` serves on unless given --port (`hubctl up` runs it on 127.0.0.1).
    metrics_port: int = 9464
    # The generator raises after building the good DAGs.
    strict: bool = False
    # The key that signs audit anchors (text), or a file holding it. Never sent to the database:
    # an anchor signed with it is what a database superuser cannot forge.
    audit_key: str | None = None
    audit_key_file: Path | None = None
    # The append-only anchor store (JSON Lines): a file, or a directory to hold
    # audit-anchors.jsonl. Unset: home/audit-anchors.jsonl.
    anchor_path: Path | None = None
    # Parse units: 1 is the single file dags/hub_dags.py; N > 1 makes `hubctl up` point Airflow
    # at N thin entry files under home/dags, each building the groups hashed onto it
    # (docs/generator.md).
    dag_shards: int = 1
    # The Airflow Connection (an smtp one) hub_monitor sends alert notifications through, and
    # their recipients (comma-separated). Unset recipients: alerts are recorded, none is sent.
    alert_connection: str = "hub_alerts"
    alert_to: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.dag_shards <= MAX_DAG_SHARDS:
            raise ValidationError(
                f"{ENV_PREFIX}DAG_SHARDS: expected 1 to {MAX_DAG_SHARDS}, got {self.dag_shards}"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``HUB_<FIELD>`` variables (``os.environ`` by default); unset: the default."""
        environ = os.environ if environ is None else environ
        types = typing.get_type_hints(cls)
        values = {
            field.name: _parsed(f"{ENV_PREFIX}{field.name.upper()}", raw, types[field.name])
            for field in dataclasses.fields(cls)
            if (raw := environ.get(f"{ENV_PREFIX}{field.name.upper()}")) is not None
        }
        return cls(**values)

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_snapshot_path(self) -> Path:
        return (self.snapshot_path or self.resolved_home / "snapshot.json").expanduser()

    @property
    def resolved_anchor_path(self) -> Path:
        return (self.anchor_path or self.resolved_home).expanduser()


def _boolean(raw: str) -> bool:
    if raw.lower() not in _TRUE | _FALSE:
        raise ValueError("expected true or false")
    return raw.lower() in _TRUE


_PARSERS: dict[Any, tuple[Callable[[str], Any], str]] = {
    str: (str, "text"),
    Path: (Path, "a path"),
    int: (int, "a whole number"),
    bool: (_boolean, "true or false"),
}


def _parsed(variable: str, raw: str, annotation: Any) -> Any:
    """``raw`` as the field's type; an empty value unsets an optional field."""
    optional = isinstance(annotation, UnionType) and NoneType in typing.get_args(annotation)
    if optional:
        if not raw:
            return None
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not NoneType)
    parse, expected = _PARSERS[annotation]
    try:
        return parse(raw.strip() if annotation in (int, bool) else raw)
    except ValueError:
        raise ValidationError(f"{variable}: expected {expected}, got {raw!r}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment()
