"""Secrets at run time: an Airflow Connection rendered into the container's env by Jinja."""

from __future__ import annotations


def connection_env(connection_id: str | None) -> dict[str, str]:
    """AIRFLOW_CONN_<ID> as a template: the URI is fetched when the task runs, never stored."""
    if connection_id is None:
        return {}
    return {f"AIRFLOW_CONN_{connection_id.upper()}": f"{{{{ conn.{connection_id}.get_uri() }}}}"}
