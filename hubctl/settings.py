"""The one settings class. Every knob of the tool is an environment variable prefixed ``HUB_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the hub database. Unset: an embedded PostgreSQL under home.",
    )
    reader_database_url: str | None = Field(
        default=None,
        description="URL the generator reads with (a role that can only SELECT the configuration). "
        "Unset: database_url.",
    )
    home: Path = Field(default=Path(".hub"), description="Where the embedded database lives.")
    snapshot_path: Path | None = Field(
        default=None,
        description="Last-known-good configuration snapshot. Unset: home/snapshot.json.",
    )
    connect_timeout_seconds: int = 3
    statement_timeout_ms: int = 5000
    airflow_api_url: str | None = Field(
        default=None,
        description="Airflow's API (e.g. http://127.0.0.1:8080): hubctl asks it to re-parse after "
        "every change. Unset: the local stack's, when `hubctl up` runs.",
    )
    airflow_reparse: bool = Field(
        default=True,
        description="Ask Airflow to re-parse after each change (when its API is known).",
    )
    airflow_username: str = "admin"
    airflow_password: str | None = None
    airflow_port: int = Field(default=8080, description="Port of the local stack's api-server.")
    strict: bool = Field(
        default=False, description="Generator raises after building the good DAGs."
    )

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_snapshot_path(self) -> Path:
        return (self.snapshot_path or self.resolved_home / "snapshot.json").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
