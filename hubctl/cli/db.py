"""hubctl db: the schema's migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="Migrate the hub database (Alembic owns the schema).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database up to REVISION (default: the newest), as the schema's owner.

    The owner is HUB_MIGRATION_DATABASE_URL's login, else HUB_DATABASE_URL's; on the embedded
    server its superuser, after which the runtime login hub_app gets hub_operator's rights.

    Example: hubctl db upgrade
    """
    # deferred: Alembic and SQLAlchemy (~0.3 s); only the schema commands need them
    from hubctl import migrations
    from hubctl.settings import get_settings

    notices, now_at = migrations.upgrade_hub(get_settings(), revision)
    for notice in notices:
        typer.echo(f"notice: {notice}", err=True)
    typer.echo(f"database at {now_at}")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Migrate the database down to REVISION ('base' removes every hub object).

    Example: hubctl db downgrade base
    """
    # deferred: Alembic and SQLAlchemy (~0.3 s); only the schema commands need them
    from hubctl import migrations
    from hubctl.db import create_engine, resolve_migration_url

    engine = create_engine(resolve_migration_url())
    migrations.downgrade(engine, revision)
    typer.echo(f"database at {migrations.current(engine) or 'base'}")


@app.command()
def current() -> None:
    """Show the revision the database is at, and whether it is the newest.

    Example: hubctl db current
    """
    # deferred: Alembic and SQLAlchemy (~0.3 s); only the schema commands need them
    from hubctl import migrations
    from hubctl.db import create_engine

    revision = migrations.current(create_engine())
    head = migrations.head()
    state = "(head)" if revision == head else f"(head is {head})"
    typer.echo(f"{revision or 'base'} {state}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL under HUB_HOME (it otherwise keeps running between commands).

    Does nothing when HUB_DATABASE_URL points at a server of your own.

    Example: hubctl db stop
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.db import stop_embedded_server
    from hubctl.settings import get_settings

    settings = get_settings()
    if settings.database_url:
        typer.echo("HUB_DATABASE_URL is set: no embedded server to stop")
    elif stop_embedded_server(settings.resolved_home):
        typer.echo(f"stopped the embedded PostgreSQL under {settings.resolved_home}")
    else:
        typer.echo("the embedded PostgreSQL was not running")


@app.command()
def url() -> None:
    """Print the connection URL of the database in use (the embedded one included), for psql.

    The embedded server is started first when it is not running. The URL carries the password of
    HUB_DATABASE_URL when that has one: treat the output as a secret.

    Example: hubctl db url   (and then: psql "$(hubctl db url)")
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.db import libpq_url, resolve_database_url

    typer.echo(libpq_url(resolve_database_url()))


@app.command("add-login")
def add_login(
    name: str = typer.Argument(..., help="The login; for an approver, their Airflow user name."),
    approver: bool = typer.Option(
        False, "--approver", help="A person who may approve requests and break-glass changes."
    ),
    web: bool = typer.Option(
        False,
        "--web",
        help="The Markets page's login (HUB_WEB_DATABASE_URL): vouches for its user.",
    ),
    no_password: bool = typer.Option(
        False, "--no-password", help="Set no password (peer or cert authentication by your DBA)."
    ),
    existing: bool = typer.Option(
        False, "--existing", help="Only grant the roles to a login that exists (IAM, LDAP)."
    ),
) -> None:
    """Create a per-person approver login (or the Markets page's login), as the schema's owner.

    The generated password is printed once and stored nowhere. On the embedded server, approver
    and web logins must then give their password (pg_hba.conf). docs/deploy.md.

    Example: hubctl db add-login alice --approver
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.db import add_hub_login
    from hubctl.settings import get_settings

    if approver == web:
        raise typer.BadParameter("give exactly one of --approver and --web")
    login = add_hub_login(
        get_settings(), name, web=web, password=not no_password, existing=existing
    )
    typer.echo(f"login {login.name}: member of hub_operator and {login.role}")
    if login.password:
        typer.echo(f"password (shown once): {login.password}")
