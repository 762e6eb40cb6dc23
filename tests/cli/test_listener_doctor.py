"""`hubctl doctor` tells, from the database alone, whether changes reach Airflow: a listener's
heartbeat in hub.listener_state, and how far its position trails the audit log."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.services import health
from tests.support.cli import Run

FIX = "start `hubctl listen` beside Airflow"


def listener_row(engine: Engine, *, position: str, heartbeat: str, started: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO hub.listener_state (name, last_audit_id, heartbeat_at, started_at,"
                f" host, pid) VALUES ('default', {position}, {heartbeat}, {started}, 'box', 42)"
            )
        )


def listener_check(hub: Run) -> tuple[dict[str, object], str]:
    result = hub("doctor", "-o", "json")
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: listener")]
    return checks["listener"], "\n".join(warnings)


def test_no_listener_ever_is_one_warning_naming_the_fix(hub: Run) -> None:
    check, warning = listener_check(hub)
    assert check["ok"] is False
    assert warning.count("\n") == 0 and "no listener has ever run" in warning and FIX in warning


def test_a_listener_without_a_heartbeat_is_a_warning(hub: Run, default_config: Engine) -> None:
    listener_row(
        default_config,
        position="(SELECT last_id FROM hub.audit_chain_head)",
        heartbeat="now() - interval '5 minutes'",
        started="now() - interval '1 hour'",
    )
    check, warning = listener_check(hub)
    assert check["ok"] is False
    assert "no listener heartbeat for 5m" in warning and "'default' on box (pid 42)" in warning
    assert FIX in warning


def test_a_live_listener_lagging_the_audit_log_is_a_warning(
    hub: Run, default_config: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alive (fresh heartbeat) but it has not passed on the entries after its position, for
    longer than the grace period (set to nothing here, instead of waiting a minute)."""
    monkeypatch.setattr(health, "LISTENER_BEHIND_GRACE_SECONDS", 0.0)
    listener_row(
        default_config, position="0", heartbeat="now()", started="now() - interval '1 hour'"
    )
    check, warning = listener_check(hub)
    assert check["ok"] is False
    assert "behind the audit log (at audit entry 0, head" in warning


def test_a_listener_that_just_started_gets_the_grace_period(
    hub: Run, default_config: Engine
) -> None:
    """Entries committed while no listener ran are old, but it only now could pass them on."""
    listener_row(default_config, position="NULL", heartbeat="now()", started="now()")
    check, warning = listener_check(hub)
    assert check["ok"] is True and warning == ""


def test_a_healthy_listener_is_silent(hub: Run, default_config: Engine) -> None:
    listener_row(
        default_config,
        position="(SELECT last_id FROM hub.audit_chain_head)",
        heartbeat="now() - interval '3 seconds'",
        started="now() - interval '1 hour'",
    )
    check, warning = listener_check(hub)
    assert check["ok"] is True and warning == ""
    assert "'default' on box (pid 42): heartbeat 3s ago, at audit entry" in str(check["detail"])
