"""The PostgreSQL backend of the hall's store, for a ``postgresql://`` URL.

The only module that imports psycopg (the ``postgres`` extra). ``Store`` in
``hall._store`` holds the statements; this runs them. Same tables and columns
as SQLite: the schema is ``hall._store.SCHEMA`` with ``BLOB`` read as
``BYTEA`` and the quarantine id as an identity column.

Several ``hall serve`` instances may share one database (``--shared-group``):

* One transaction per ``write`` (READ COMMITTED). A record insert that meets
  the same key from another instance's open transaction waits for it, then
  does nothing: each record is stored once.
* The marks upsert (``... DO UPDATE ... WHERE excluded.hw > marks.hw``) locks
  the mark row and tests the guard against the newest committed row, so
  ``hw`` only moves forward, whatever order the instances commit in. Every
  instance's ``hw`` is contiguous over what is committed, so the largest one
  is too.
* ``Store.apply`` takes rows in key order (records, then marks), so two
  instances never deadlock on each other.
* Creating the tables is serialised with an advisory lock: two instances
  starting at once would otherwise race in ``CREATE TABLE IF NOT EXISTS``.

What this does not solve is each instance's in-memory marks (``Ingest``):
see docs/hall.md, "PostgreSQL".

A URL's password is never shown: ``name`` and every error use ``safe_url``.
"""

import re

import psycopg

from hall._store import SCHEMA, StoreError

# Any constant: the key of the advisory lock held while the tables are created.
_SCHEMA_LOCK = 0x68616C6C

PG_SCHEMA = [
    statement.replace(" BLOB ", " BYTEA ")
    .replace("id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    for statement in SCHEMA
]


def safe_url(url):
    """``url`` with the password, if any, replaced by ``***``."""
    return re.sub(r"^(postgres(?:ql)?://[^/@:]*:)[^/@]*@", r"\1***@", str(url))


def _scrub(text, url):
    """An error text on one line and without the URL's password, should the driver have quoted it."""
    text = " ".join(str(text).split())
    match = re.match(r"^postgres(?:ql)?://[^/@:]*:([^/@]*)@", url)
    if match and match.group(1):
        text = text.replace(match.group(1), "***")
    return text


class PgBackend:
    """Runs the store's statements on one psycopg connection (autocommit; each write is an
    explicit transaction)."""

    def __init__(self, url, connection):
        self._url = url
        self.name = safe_url(url)
        self.connection = connection

    def _error(self, exc):
        message = _scrub(exc, self._url)
        return StoreError("database %s: %s" % (self.name, message), self.name)

    def close(self):
        self.connection.close()

    def _connected(self):
        # A connection the server dropped (a restart, a network cut) stays broken: the write
        # that met it failed, and the next one starts on a new connection.
        if self.connection.closed:
            self.connection = _connect(self._url)
        return self.connection

    def write(self, statements):
        """Run ``[(sql, params), ...]`` in one transaction and commit (rolled back on any error)."""
        try:
            self._connected()
            with self.connection.transaction():
                with self.connection.cursor() as cursor:
                    for sql, params in statements:
                        cursor.execute(sql.replace("?", "%s"), params)
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def read(self, sql, params=()):
        try:
            with self._connected().cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall()
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def create_tables(self):
        try:
            with self.connection.transaction():
                with self.connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in PG_SCHEMA:
                        cursor.execute(statement)
        except psycopg.Error as exc:
            raise self._error(exc) from exc


def _connect(url, connect_timeout_s=10):
    return psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout_s)


def open_pg_backend(url):
    """Connect to ``url`` and create the tables if missing.

    Raises:
        StoreError: cannot connect or create the tables.
    """
    try:
        connection = _connect(url)
    except psycopg.Error as exc:
        raise StoreError("database %s: %s" % (safe_url(url), _scrub(exc, url)), safe_url(url)) from exc
    backend = PgBackend(url, connection)
    try:
        backend.create_tables()
    except StoreError:
        connection.close()
        raise
    return backend
