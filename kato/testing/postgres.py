"""A real PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temporary
directory, never the package's system service or its data.

The cluster listens on 127.0.0.1 at a free port, its unix socket sits in the same temporary
directory (so it never meets ``/var/run/postgresql``), and every login takes a password
(``scram-sha-256``, local socket included): a role's credential means something, which the
isolation tests rely on. As root the server runs as the ``postgres`` user (PostgreSQL refuses
to run as root); as anyone else, as that user. Settings are the packaged defaults, fsync on,
so what a benchmark measures is a durable commit. ``stop()`` shuts it down (fast mode) and
removes the directory.

Binaries: ``initdb`` and ``pg_ctl`` on ``PATH``, else Debian's ``/usr/lib/postgresql/<major>/bin``
(scripts/ensure-postgres.sh installs PostgreSQL 15 there).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kato.web.launcher import free_port
from kato.web.wait import wait_until

__all__ = ["PostgresServer", "find_binaries"]

_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_TOOLS = ("initdb", "pg_ctl")
SUPERUSER = "postgres"


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then the highest Debian
    major), or None when there is no PostgreSQL server here."""
    on_path = [shutil.which(tool) for tool in _TOOLS]
    if all(on_path):
        # Debian links them into PATH from its versioned directory; use that directory.
        return Path(os.path.realpath(str(on_path[0]))).parent
    majors = sorted(
        (path for path in _DEBIAN_ROOT.glob("*/bin") if path.parent.name.isdigit()),
        key=lambda path: int(path.parent.name),
        reverse=True,
    )
    for directory in majors:
        if all((directory / tool).is_file() for tool in _TOOLS):
            return directory
    return None


class PostgresServer:
    """One throw-away cluster; the superuser ``postgres`` logs in with :attr:`password`."""

    def __init__(self, binaries: Path, *, start_timeout: float = 60.0) -> None:
        self.binaries = binaries
        self.start_timeout = start_timeout
        self.port = free_port()
        self.password = secrets.token_urlsafe(24)
        self.directory = Path(tempfile.mkdtemp(prefix="kato-postgres-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self._run_as = _server_user()
        self._running = False

    @property
    def socket_dir(self) -> Path:
        return self.directory

    def url(self, database: str = "postgres", *, user: str = SUPERUSER,
            password: str | None = None) -> str:
        """A TCP URL on loopback (the superuser's by default)."""
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        return self.url()

    def start(self) -> Self:
        """initdb, then pg_ctl start; returns once the superuser can log in. A server that
        does not get there is stopped, and the error quotes the end of its log."""
        try:
            self._initdb()
            options = " ".join(
                f"-c {name}={value}"
                for name, value in {
                    "listen_addresses": "127.0.0.1",
                    "port": self.port,
                    "unix_socket_directories": self.socket_dir,
                    "max_connections": 100,
                }.items()
            )
            self._pg_ctl("start", "-W", "-l", str(self.log_path), "-o", options)
            self._running = True
            wait_until(
                f"PostgreSQL on 127.0.0.1:{self.port} accepting logins",
                self._accepts_logins,
                timeout=self.start_timeout,
            )
        except BaseException as error:
            tail = self.log_tail()
            self.stop()
            if isinstance(error, Exception):
                raise RuntimeError(f"PostgreSQL did not start: {error}\n{tail}") from error
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended), then the directory goes. Idempotent."""
        if self._running:
            self._running = False
            self._pg_ctl("stop", "-m", "fast")
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def create_database(self, name: str) -> str:
        """A new empty database; returns the superuser's URL on it."""
        self.admin(f'CREATE DATABASE "{_identifier(name)}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any session still on it (a test that failed half-way)."""
        self.admin(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')

    def admin(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement.encode())
            return cursor.fetchall() if cursor.description is not None else []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _initdb(self) -> None:
        password_file = self.directory / "superuser-password"
        password_file.write_text(self.password)
        password_file.chmod(0o600)
        if self._run_as is not None:
            for path in (self.directory, password_file):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        self._tool(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={password_file}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync",
        )
        password_file.unlink()

    def _pg_ctl(self, *args: str) -> None:
        self._tool("pg_ctl", "-D", str(self.data), *args)

    def _tool(self, name: str, *args: str) -> None:
        user = self._run_as.pw_name if self._run_as is not None else None
        done = subprocess.run(
            [str(self.binaries / name), *args], user=user, cwd=self.directory,
            capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name} {args[:1]} exited {done.returncode}: {done.stderr[-1500:]}")

    def _accepts_logins(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.admin_url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True


def _server_user() -> pwd.struct_passwd | None:
    """``postgres`` when we are root (initdb refuses root), None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise RuntimeError(
            "running as root needs a 'postgres' user to run the server as "
            "(Debian's postgresql package creates it)"
        ) from None


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"not a plain database name: {name!r}")
    return name
