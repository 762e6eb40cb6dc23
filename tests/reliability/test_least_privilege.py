"""Least privilege, as the migrations set it up: exactly the grants each role needs, nothing else.

What each role may *do* is tested in tests/test_roles.py (the reader cannot write, the operator
cannot touch the audit, the auditor cannot change the configuration) and the replica-mode audit in
tests/test_audit.py. Here: the roles' complete privileges, that the role migration runs again
without harm, and that a migrating role that may not create roles gets a notice, not a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import migrations
from tests.support.cli import hubctl
from tests.support.reliability import CrashServer, Figures

pytestmark = pytest.mark.reliability

ROLES = ("hub_reader", "hub_operator", "hub_auditor", "hub_approver", "hub_web")
CONFIG = ("hub.dag_configuration", "hub.exchange_groups", "hub.tickers")
AUDIT = ("hub.audit_chain_head", "hub.audit_log")
# Four-eyes (migrations 0013, 0015): the runtime writes requests, approvals and acknowledgements
# only through the owner's SECURITY DEFINER functions.
REQUESTS = ("hub.break_glass_acks", "hub.change_request_approvals", "hub.change_requests")
DEFINER_FUNCTIONS = (
    "hub.acknowledge_break_glass(text,text)",
    "hub.request_approve(bigint)",
    "hub.request_open(text,jsonb,text)",
    "hub.request_set_state(bigint,text)",
)
MONITORING = (
    "hub.alert_deliveries",
    "hub.alerts",
    "hub.monitor_state",
    "hub.monitored_runs",
    "hub.source_fetches",
)
MARKET = (
    "market.indicators",
    "market.load_progress",
    "market.ohlcv",
    "market.securities",
    "market.security_metadata",
)
EXPECTED = {
    "hub_reader": {"schema:hub:USAGE", *(f"table:{t}:SELECT" for t in CONFIG)},
    "hub_operator": {
        "schema:hub:USAGE",
        "schema:market:USAGE",
        *(f"table:{t}:{p}" for t in CONFIG for p in ("SELECT", "INSERT", "UPDATE", "DELETE")),
        *(f"table:{t}:SELECT" for t in (*AUDIT, *MARKET)),
        "table:public.alembic_version:SELECT",  # hubctl doctor and db current, as the runtime
        *(f"table:{t}:SELECT" for t in (*REQUESTS, "hub.break_glass_uses")),
        *(f"function:{f}:EXECUTE" for f in DEFINER_FUNCTIONS),
        # scheduled changes are cancelled, never deleted
        *(f"table:hub.scheduled_changes:{p}" for p in ("SELECT", "INSERT", "UPDATE")),
        # the listener's position and heartbeat (migration 0014): kept, never deleted
        *(f"table:hub.listener_state:{p}" for p in ("SELECT", "INSERT", "UPDATE")),
        # alerts and what the monitor reads (migration 0017): fetches and runs may be pruned
        *(f"table:{t}:{p}" for t in MONITORING for p in ("SELECT", "INSERT", "UPDATE")),
        *(f"table:{t}:DELETE" for t in ("hub.source_fetches", "hub.monitored_runs")),
        *(f"table:{s}:USAGE" for s in ("hub.alerts_id_seq", "hub.source_fetches_id_seq")),
    },
    "hub_auditor": {
        "schema:hub:USAGE",
        *(
            f"table:{t}:SELECT"
            for t in (
                *AUDIT,
                *REQUESTS,
                "hub.break_glass_uses",
                "hub.scheduled_changes",
                "hub.listener_state",
                *MONITORING,
            )
        ),
    },
    # Membership only: a person's login (hub_approver) or the Markets page's login (hub_web).
    "hub_approver": set(),
    "hub_web": set(),
}

# Every privilege a role holds in this database, wherever it was granted, and every membership.
PRIVILEGES = sa.text("""
SELECT 'table:' || n.nspname || '.' || c.relname || ':' || a.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
 WHERE a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'column:' || c.relname || '.' || att.attname || ':' || a.privilege_type
  FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid, aclexplode(att.attacl) a
 WHERE a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'schema:' || n.nspname || ':' || a.privilege_type
  FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'function:' || p.oid::regprocedure::text || ':' || a.privilege_type
  FROM pg_proc p, aclexplode(p.proacl) a WHERE a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'database:' || d.datname || ':' || a.privilege_type
  FROM pg_database d, aclexplode(d.datacl) a
 WHERE d.datname = current_database() AND a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'default privileges:' || d.defaclobjtype::text
  FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE a.grantee = CAST(:role AS regrole)
UNION ALL
SELECT 'member of:' || m.roleid::regrole::text FROM pg_auth_members m
 WHERE m.member = CAST(:role AS regrole)
UNION ALL
SELECT 'attribute:' || attribute FROM pg_roles r, LATERAL (VALUES
  ('superuser', r.rolsuper), ('createrole', r.rolcreaterole), ('createdb', r.rolcreatedb),
  ('login', r.rolcanlogin), ('replication', r.rolreplication), ('bypassrls', r.rolbypassrls)
) AS v(attribute, held) WHERE r.rolname = :role AND held
""")
# The group roles (the embedded server's runtime login hub_app is a LOGIN role).
HUB_ROLES = sa.text(
    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'hub\\_%' AND NOT rolcanlogin ORDER BY 1"
)
NO_GUARD = "notice: not a superuser: the event trigger that keeps the audit triggers on was not"


def privileges(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        return {role: set(conn.execute(PRIVILEGES, {"role": role}).scalars()) for role in ROLES}


def test_each_role_holds_exactly_its_grants_and_nothing_else(engine: Engine) -> None:
    assert privileges(engine) == EXPECTED


def test_the_role_migration_runs_again_without_harm(engine: Engine) -> None:
    migrations.downgrade(engine, "0002")
    assert privileges(engine) == {role: set() for role in ROLES}  # the roles stay; grants go
    assert migrations.upgrade(engine) == []  # the roles exist: created by nobody, no notice
    assert migrations.upgrade(engine) == []  # at head: nothing to do
    assert privileges(engine) == EXPECTED


def test_a_migrating_role_that_may_not_create_roles_gets_a_notice_not_a_failure(
    crash_server: CrashServer, point_hub_at: Callable[[str], Path], figures: Figures
) -> None:
    """A managed database's owner without CREATEROLE, on a server where the roles do not exist."""
    server = sa.make_url(crash_server.start())
    admin = sa.create_engine(
        server.set(database="postgres"), poolclass=sa.NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE ROLE app_owner LOGIN NOCREATEROLE"))
        conn.execute(sa.text("CREATE DATABASE hub_managed OWNER app_owner"))
    owner_url = server.set(database="hub_managed", username="app_owner")
    point_hub_at(owner_url.render_as_string(hide_password=False))

    result = hubctl("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"database at {migrations.head()}")
    for role in ROLES:
        assert f"notice: not allowed to create role {role}: skipped" in result.stderr
    assert NO_GUARD in result.stderr
    with admin.connect() as conn:
        assert conn.execute(HUB_ROLES).scalars().all() == []

    # Once an administrator created the roles (here: by migrating another database as
    # superuser), the owner's migration grants them in its database.
    crash_server.migrated_database("hub_admin")
    with admin.connect() as conn:
        assert conn.execute(HUB_ROLES).scalars().all() == sorted(ROLES)
    assert hubctl("db", "downgrade", "0002").exit_code == 0
    again = hubctl("db", "upgrade")
    assert again.exit_code == 0 and "not allowed to create role" not in again.stderr
    assert NO_GUARD in again.stderr  # only a superuser can create the event trigger
    owner = sa.create_engine(owner_url, poolclass=sa.NullPool)
    assert privileges(owner) == EXPECTED
    owner.dispose()
    admin.dispose()
    figures.add("role set-ups checked (superuser, re-run, owner without CREATEROLE)", 3)
