"""What a database URL says: psycopg2's keywords for it, and the form psql takes.

A URL is written as SQLAlchemy writes it (``postgresql+psycopg2://...``); this module reads it
without importing SQLAlchemy, for every connection hubctl opens.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from hubctl.errors import ValidationError


def connection_arguments(url: str) -> dict[str, str]:
    """psycopg2.connect's keywords for a SQLAlchemy URL, parsed as SQLAlchemy parses it.

    ``postgresql+psycopg2://user:pass@host:5432/db?sslmode=require`` gives user, password, host,
    port, dbname and each query parameter (e.g. ``host`` for a socket directory).
    """
    scheme, _, _ = url.partition("://")
    if scheme not in ("postgresql", "postgresql+psycopg2"):
        raise ValidationError(
            f"database_url: expected postgresql:// or postgresql+psycopg2://, not {scheme}://"
        )
    parts = urlsplit(url)
    found = {
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "",
        "port": str(parts.port or ""),
        "dbname": unquote(parts.path.lstrip("/")),
    }
    return {name: value for name, value in found.items() if value} | dict(parse_qsl(parts.query))


def libpq_url(url: str) -> str:
    """The URL as psql and libpq take it: `postgresql://`, whatever driver SQLAlchemy names."""
    connection_arguments(url)  # refuses what is not PostgreSQL
    return "postgresql://" + url.partition("://")[2]


def with_login(url: str, user: str, password: str | None = None) -> str:
    """``url`` with its login replaced by ``user`` (and ``password``, else none: libpq then looks
    in PGPASSWORD and ~/.pgpass)."""
    connection_arguments(url)  # refuses what is not PostgreSQL
    parts = urlsplit(url)
    login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))
