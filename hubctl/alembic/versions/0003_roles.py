"""Least-privilege roles: hub_reader (the generator), hub_operator (hubctl writes), hub_auditor.

The roles are cluster-wide NOLOGIN group roles: grant them to login roles
(`GRANT hub_reader TO airflow_generator`). They are created only when missing, and skipped with
a notice when the migrating role may not create roles (a managed database's limited owner); the
grants in this database are made whenever the role exists. Downgrade revokes this database's
grants but leaves the roles: other hub databases in the same cluster may still use them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CONFIG_TABLES = "hub.exchange_groups, hub.dag_configuration, hub.tickers"
AUDIT_TABLES = "hub.audit_log, hub.audit_chain_head"
MARKET_TABLES = (
    "market.securities, market.ohlcv, market.security_metadata, market.indicators,"
    " market.load_progress"
)

GRANTS = {
    "hub_reader": ["GRANT USAGE ON SCHEMA hub TO hub_reader", f"GRANT SELECT ON {CONFIG_TABLES} TO hub_reader"],
    "hub_operator": [
        "GRANT USAGE ON SCHEMA hub, market TO hub_operator",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {CONFIG_TABLES} TO hub_operator",
        f"GRANT SELECT ON {AUDIT_TABLES} TO hub_operator",
        f"GRANT SELECT ON {MARKET_TABLES} TO hub_operator",
    ],
    "hub_auditor": [
        "GRANT USAGE ON SCHEMA hub TO hub_auditor",
        f"GRANT SELECT ON {AUDIT_TABLES} TO hub_auditor",
    ],
}  # fmt: skip


def create_role(role: str) -> str:
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    BEGIN
      CREATE ROLE {role} NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'not allowed to create role {role}: skipped';
    END;
  END IF;
END
$$;
"""


def when_role_exists(role: str, statements: list[str]) -> str:
    body = "\n".join(f"    EXECUTE '{statement}';" for statement in statements)
    return f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
{body}
  END IF;
END
$$;
"""


def upgrade() -> None:
    for role, statements in GRANTS.items():
        op.execute(create_role(role))
        op.execute(when_role_exists(role, statements))


def downgrade() -> None:
    for role in GRANTS:
        op.execute(
            when_role_exists(
                role,
                [
                    f"REVOKE ALL ON ALL TABLES IN SCHEMA hub FROM {role}",
                    f"REVOKE ALL ON ALL TABLES IN SCHEMA market FROM {role}",
                    f"REVOKE ALL ON SCHEMA hub, market FROM {role}",
                ],
            )
        )
