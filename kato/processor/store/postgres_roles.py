"""Isolation by the database, not by trust: each processor logs in as its own PostgreSQL role,
which owns the processor's schema and nothing else.

:func:`provision` makes (or, called again, re-keys) the role ``kato_<processor_id>`` with a
fresh random password and the schema of the same name owned by it, with every privilege on the
schema revoked from ``PUBLIC``; the URL it returns is what the processor gets as
``KATO_POSTGRES_URL``. Another processor's role then gets "permission denied" on any read or
write of that schema (tested), and a processor role can create no schema of its own (PostgreSQL
grants CREATE on a database to no one by default). :func:`drop` ends the role's sessions and
removes the schema, everything in it, and the role: its URL stops working at once.

The password is 32 random bytes in URL-safe base64, the shape of the processor's bearer token
(``container_manager.tokens``). It reaches the server only as a SCRAM-SHA-256 verifier computed
here (libpq's ``PQencryptPasswordConn``), so no statement, server log or ``pg_stat_activity``
row ever holds it; every failure is a StorageError that shows the admin URL's password as
``***``. The admin URL needs a
superuser (what the tests use), or a role with CREATEROLE that may also create schemas for the
roles it makes. Catalogs stay readable by every role, as PostgreSQL has them: a processor can
see that other schemas exist and what their tables are called, never a row.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kato.processor.store.postgres import redact, schema_name, storage_error

__all__ = ["CONNECTION_LIMIT", "drop", "processor_url", "provision"]

#: Sessions one processor role may hold: a processor uses one; the margin covers a restart
#: that opens its store while the old connection is still being closed by the server.
CONNECTION_LIMIT = 4


def provision(
    admin_url: str, processor_id: str, *, connection_limit: int = CONNECTION_LIMIT
) -> str:
    """The processor's own role and schema (made if missing) with a new password; returns the
    processor's URL (the admin URL's host, port, database and options, the role's credential).

    Idempotent apart from the password: calling it again keeps the schema and its data and
    makes the previous URL stop working (new logins only: end old sessions with :func:`drop`).
    """
    name = schema_name(processor_id)
    password = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    role = sql.Identifier(name)
    with _admin(admin_url) as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), name.encode(), b"scram-sha-256"
        ).decode()
        options = sql.SQL(
            "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT {} PASSWORD {}"
        ).format(sql.Literal(connection_limit), sql.Literal(verifier))
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    conn.execute(sql.SQL("ALTER ROLE {} WITH ").format(role) + options)
                else:
                    conn.execute(sql.SQL("CREATE ROLE {} WITH ").format(role) + options)
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(role, role)
                )
                conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(role, role))
                conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(role))
        except psycopg.Error as error:
            raise storage_error(error, admin_url, f"{redact(admin_url)} (provision)") from None
    return processor_url(admin_url, name, password)


def drop(admin_url: str, processor_id: str) -> None:
    """Remove the processor's schema (with all its memory) and its role; its open sessions are
    ended first, so its URL stops working at once. Nothing to drop is not an error."""
    name = schema_name(processor_id)
    role = sql.Identifier(name)
    with _admin(admin_url) as conn:
        try:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(role))
                return
            # No new logins from here on (committed before the sessions are ended).
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(role))
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            with conn.transaction():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(role))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
                conn.execute(sql.SQL("DROP ROLE {}").format(role))
        except psycopg.Error as error:
            raise storage_error(error, admin_url, f"{redact(admin_url)} (drop)") from None


def processor_url(admin_url: str, user: str, password: str) -> str:
    """``admin_url`` with ``user`` and ``password`` in place of the admin's: a URL for a URL,
    a ``key=value`` string for one."""
    if "://" not in admin_url:
        params = conninfo_to_dict(admin_url)
        params.update(user=user, password=password)
        return make_conninfo("", **params)
    parts = urlsplit(admin_url)
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(
        item for item in parts.query.split("&")
        if item and not item.startswith(("user=", "password="))
    )
    # The role (kato_ + a processor id) and the password (URL-safe base64) need no quoting.
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}", query=query))


def _admin(admin_url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise storage_error(error, admin_url, redact(admin_url)) from None
