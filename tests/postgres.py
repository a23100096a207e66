"""A real PostgreSQL server for tests.

``Postgres`` runs ``initdb`` into a fresh directory and ``pg_ctl start`` on a
loopback port the OS chose (TCP only: no Unix socket), with trust
authentication for a superuser ``hall`` and fsync off (a test server, thrown
away after the run). ``database()`` creates a new empty database and returns
its URL, so each test starts clean on the one server.

PostgreSQL refuses to run as root. Run as root, the server runs as an
unprivileged account (``postgres``, else ``nobody``) through ``runuser``; its
directory is then made under the system temporary directory, not pytest's
``tmp_path`` (private to root), and handed to that account.

Nothing here is started by hand: a missing ``initdb`` is a skip (a failure when
CI is set), and ``make test`` installs Debian's ``postgresql``.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from brokers import HOST, free_port

SUPERUSER = "hall"
_RUN_AS = ("postgres", "nobody")


def _unavailable(message):
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def postgres_bin_dir():
    """The directory of ``initdb`` and ``pg_ctl``: PATH first, then Debian's
    /usr/lib/postgresql/VERSION/bin (newest first). Skips (fails under CI) when there is none."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                            key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0,
                            reverse=True):
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return Path(directory)
    _unavailable("PostgreSQL (initdb, pg_ctl) is not installed; `make test` installs it "
                 "(scripts/ensure-system-packages)")


def _account():
    """None when not root (run as ourselves), else an unprivileged account to run the server as."""
    if os.geteuid() != 0:
        return None
    for name in _RUN_AS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return name
    _unavailable("running as root, and no unprivileged account (%s) or no runuser to run "
                 "PostgreSQL as" % ", ".join(_RUN_AS))


class PostgresStartError(RuntimeError):
    pass


class Postgres:
    """One throw-away PostgreSQL server. ``start()``, ``database()``, ``close()``."""

    def __init__(self):
        self.bin_dir = postgres_bin_dir()
        self.account = _account()
        self.port = None
        self._count = 0
        self.directory = Path(tempfile.mkdtemp(prefix="hall-pg-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        if self.account is not None:
            entry = pwd.getpwnam(self.account)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    def _run(self, *args, check=True, timeout_s=60):
        command = [str(self.bin_dir / args[0])] + [str(a) for a in args[1:]]
        if self.account is not None:
            command = ["runuser", "-u", self.account, "--"] + command
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout_s, cwd=str(self.directory))
        if check and result.returncode != 0:
            raise PostgresStartError("%s exited %d: %s%s\n%s" % (args[0], result.returncode, result.stdout,
                                                                 result.stderr, self.log()))
        return result

    def start(self):
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        for _attempt in range(5):
            self.port = free_port()
            options = ("-c listen_addresses=%s -p %d -c unix_socket_directories='' -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off" % (HOST, self.port))
            result = self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-o", options, "-w",
                               "-t", "30", "start", check=False)
            if result.returncode == 0:
                return self
            if "Address already in use" not in self.log():
                break                       # not a port race: no point in trying another port
        raise PostgresStartError("PostgreSQL did not start: %s%s\n%s" % (result.stdout, result.stderr, self.log()))

    def url(self, database="postgres", password=None):
        user = SUPERUSER if password is None else "%s:%s" % (SUPERUSER, password)
        return "postgresql://%s@%s:%d/%s" % (user, HOST, self.port, database)

    def database(self):
        """Create a new empty database; returns its URL."""
        import psycopg

        self._count += 1
        name = "hall_%d" % self._count
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE %s" % name)
        return self.url(name)

    def log(self):
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, PermissionError):
            return ""

    def close(self):
        if self.data.exists() and self.port is not None:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

