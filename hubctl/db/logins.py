"""Per-person database logins: who may approve change requests (docs/deploy.md).

Four-eyes counts an approval only from a login that proves a person (migration 0015): a member of
hub_approver is the person its login name says; a member of hub_web (the Markets page's login)
vouches for its signed-in Airflow user. An approver login's name must equal that person's Airflow
user name, so the page and the CLI agree on who someone is.

The embedded server trusts every local connection (pgserver's initdb), so a login name alone
would prove nothing there: members of those roles must give a password (``require_passwords``).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from hubctl.db.bounded import Limits, open_connection
from hubctl.db.connection import resolve_migration_url
from hubctl.db.urls import with_login
from hubctl.errors import ValidationError
from hubctl.settings import Settings

APPROVER_ROLE = "hub_approver"
WEB_ROLE = "hub_web"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Prepended to the embedded server's pg_hba.conf: the first matching line wins, so these come
# before pgserver's `trust` lines.
HBA_LINES = (
    f"local all +{APPROVER_ROLE} scram-sha-256",
    f"local all +{WEB_ROLE} scram-sha-256",
    f"host all +{APPROVER_ROLE} all scram-sha-256",
    f"host all +{WEB_ROLE} all scram-sha-256",
)


@dataclass(frozen=True)
class NewLogin:
    name: str
    role: str
    # The generated password, shown once and stored nowhere; None when none was set.
    password: str | None


def check_name(name: str, *, web: bool) -> None:
    if not _NAME.match(name) or name == "postgres" or (name.startswith("hub_") and not web):
        raise ValidationError(
            f"name: {name!r} must be lower-case letters, digits and _ (starting with a letter),"
            " not postgres nor hub_* (hub_* only with --web); for an approver, the person's"
            " Airflow user name"
        )


def add_hub_login(
    settings: Settings, name: str, *, web: bool, password: bool = True, existing: bool = False
) -> NewLogin:
    """`hubctl db add-login`: ``add_login`` as the schema's owner (HUB_MIGRATION_DATABASE_URL,
    else HUB_DATABASE_URL, else the embedded superuser, whose server then asks for passwords)."""
    owner_url = resolve_migration_url(settings)
    if not (settings.database_url or settings.migration_database_url):
        require_passwords(settings.resolved_home / "pgdata", owner_url)
    return add_login(owner_url, name, web=web, password=password, existing=existing)


def add_login(
    owner_url: str, name: str, *, web: bool, password: bool = True, existing: bool = False
) -> NewLogin:
    """Create login ``name`` in hub_operator and hub_approver (or hub_web), as the schema's owner.

    ``existing``: only grant the roles (logins managed elsewhere: IAM, LDAP, certificates);
    ``password=False``: a login without a password, for peer or cert authentication.
    """
    check_name(name, web=web)
    role = WEB_ROLE if web else APPROVER_ROLE
    secret = secrets.token_urlsafe(24) if password and not existing else None
    statement = sql.SQL(
        "GRANT hub_operator, {role} TO {name}"
        if existing
        else (
            "CREATE ROLE {name} LOGIN PASSWORD {password} IN ROLE hub_operator, {role}"
            if secret
            else "CREATE ROLE {name} LOGIN IN ROLE hub_operator, {role}"
        )
    ).format(name=sql.Identifier(name), role=sql.Identifier(role), password=sql.Literal(secret))
    conn = open_connection(owner_url, Limits())
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SET LOCAL password_encryption = 'scram-sha-256'")
            cursor.execute(statement)
    finally:
        conn.close()
    return NewLogin(name, role, secret)


def require_passwords(pgdata: Path, owner_url: str) -> bool:
    """Make the embedded server ask approver and web logins for their password (idempotent);
    True if pg_hba.conf changed (and the server reloaded it)."""
    hba = pgdata / "pg_hba.conf"
    current = hba.read_text()
    missing = [line for line in HBA_LINES if line not in current.splitlines()]
    if not missing:
        return False
    hba.write_text("\n".join(missing) + "\n" + current)
    conn = open_connection(owner_url, Limits())
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()
    return True


# The Markets page's login on the embedded server (`hubctl up`); its password lives in HUB_HOME.
EMBEDDED_WEB_LOGIN = "hub_web_page"


def embedded_web_url(home: Path, owner_url: str, runtime_url: str) -> str:
    """The URL the local stack's Markets page writes with: EMBEDDED_WEB_LOGIN (hub_web), created
    once, with a password kept in ``home``/web-login (0600) beside the data it guards."""
    require_passwords(home / "pgdata", owner_url)
    secret_file = home / "web-login"
    if not secret_file.exists():
        password = secrets.token_urlsafe(24)
        _set_web_login(owner_url, password)
        descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password)
    return with_login(runtime_url, EMBEDDED_WEB_LOGIN, secret_file.read_text().strip())


def _set_web_login(owner_url: str, password: str) -> None:
    name = sql.Identifier(EMBEDDED_WEB_LOGIN)
    conn = open_connection(owner_url, Limits())
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (EMBEDDED_WEB_LOGIN,))
            verb = "ALTER ROLE {name}" if cursor.fetchone() else "CREATE ROLE {name} LOGIN"
            cursor.execute("SET LOCAL password_encryption = 'scram-sha-256'")
            cursor.execute(
                sql.SQL(verb + " PASSWORD {password}").format(
                    name=name, password=sql.Literal(password)
                )
            )
            cursor.execute(sql.SQL("GRANT hub_operator, hub_web TO {name}").format(name=name))
    finally:
        conn.close()
