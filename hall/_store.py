"""The hall's database: devices, records, marks and quarantine.

Invariants:

* A record is stored once under ``(src, epoch, seq)`` (the primary key);
  ``apply`` inserts with ON CONFLICT DO NOTHING, so a replay after a crash
  changes nothing.
* ``marks`` (per source and epoch: ``hw``, the highest contiguous seq stored,
  and ``head``, that record's hash) are written in the same transaction as the
  records they describe, so after any crash ``load_marks`` agrees with
  ``records`` and ``Ingest.restore`` can pick up exactly where the last
  commit left off. The marks upsert only ever moves ``hw`` forward.
* A commit returns only once the database has it on disk (SQLite: WAL,
  synchronous=FULL): the adapter publishes acks after ``apply`` returns, and
  an ack is a promise.

``Store`` holds the statements, written once for both databases; a backend
runs them. ``SqliteBackend`` is here; ``hall._store_pg`` has the PostgreSQL
one, chosen by ``open_store`` for a ``postgresql://`` URL. The statements are
kept to what both accept and use ``?`` placeholders (the PostgreSQL backend
turns them into psycopg's ``%s``; no statement holds a literal ``?`` or
``%``). What differs lives in the backends: ``BLOB`` (PostgreSQL:
``BYTEA``), the quarantine id (``INTEGER PRIMARY KEY`` here, ``BIGINT
GENERATED ALWAYS AS IDENTITY`` there), the pragmas. JSON columns are TEXT in
both. ``INSERT ... ON CONFLICT`` needs SQLite 3.24 or later.
"""

import json
import sqlite3
import time

from hall._ingest import Quarantined, Stored

DEVICE_KINDS = ("concentrator", "kiosk")
# A quarantined payload is kept up to this size, for the operator to look at; the
# rest is cut (the detail says so). Records are at most 64 KiB, so anything longer
# is not a record anyway.
MAX_QUARANTINE_RAW = 128 * 1024

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        public_key BLOB NOT NULL,
        enrolled_ms BIGINT NOT NULL,
        note TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS records (
        src TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        t_ms BIGINT NOT NULL,
        tq TEXT NOT NULL,
        body TEXT NOT NULL,
        raw BLOB NOT NULL,
        hash BLOB NOT NULL,
        topic TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        PRIMARY KEY (src, epoch, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS marks (
        src TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        hw BIGINT NOT NULL,
        head BLOB NOT NULL,
        PRIMARY KEY (src, epoch)
    )""",
    # SQLite-only: INTEGER PRIMARY KEY is the rowid alias (PostgreSQL: identity column).
    """CREATE TABLE IF NOT EXISTS quarantine (
        id INTEGER PRIMARY KEY,
        received_ms BIGINT NOT NULL,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        src TEXT,
        raw BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS records_received ON records (received_ms)",
    "CREATE INDEX IF NOT EXISTS quarantine_received ON quarantine (received_ms)",
]


class StoreError(Exception):
    """A database operation failed. Attributes: path."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class NotEnrolled(StoreError):
    pass


def _json_default(value):
    # Bodies may hold raw bytes (an unknown DI's value); JSON has no bytes type.
    if isinstance(value, (bytes, bytearray)):
        return {"$hex": bytes(value).hex()}
    raise TypeError("not JSON: %r" % type(value).__name__)


def canonical_json(value):
    """Sorted keys, no spaces, UTF-8 text; bytes as {"$hex": "..."}."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


class Device:
    """An enrolled device. Attributes: id, kind, public_key (32 raw bytes), enrolled_ms, note."""

    def __init__(self, id, kind, public_key, enrolled_ms, note):
        self.id = id
        self.kind = kind
        self.public_key = bytes(public_key)
        self.enrolled_ms = enrolled_ms
        self.note = note


class SqliteBackend:
    """Runs the store's statements on one SQLite file.

    One writer (the ``hall serve`` process); the CLI's read commands may run
    alongside it thanks to WAL.
    """

    def __init__(self, path, connection):
        self.name = str(path)
        self.connection = connection

    def close(self):
        self.connection.close()

    def write(self, statements):
        """Run ``[(sql, params), ...]`` in one transaction and commit."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self.connection.execute(sql, params)
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError("database %s: %s" % (self.name, exc), self.name) from exc

    def read(self, sql, params=()):
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError("database %s: %s" % (self.name, exc), self.name) from exc


class Store:
    """The hall's store on a backend (SQLite or PostgreSQL). Use ``open_store``.

    Attributes:
        path: the SQLite path, or the PostgreSQL URL with any password masked.
    """

    def __init__(self, backend):
        self.path = backend.name
        self._backend = backend
        self._db = backend.connection

    # ---- life ---------------------------------------------------------------

    def close(self):
        self._backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, statements):
        self._backend.write(statements)

    def _read(self, sql, params=()):
        return self._backend.read(sql, params)

    # ---- devices ------------------------------------------------------------

    def enrol(self, device_id, kind, public_key, now_ms, note=None):
        """Enrol (or re-key) a device.

        Args:
            public_key: 32 raw Ed25519 bytes.

        Raises:
            StoreError: kind not concentrator/kiosk, or a device of that id with another kind.
        """
        if kind not in DEVICE_KINDS:
            raise StoreError("device kind %r: expected one of %s" % (kind, ", ".join(DEVICE_KINDS)))
        existing = self.device(device_id)
        if existing is not None and existing.kind != kind:
            raise StoreError("device %s is enrolled as %s; a device cannot change kind (got %s)"
                             % (device_id, existing.kind, kind), self.path)
        if existing is None:
            sql = "INSERT INTO devices (id, kind, public_key, enrolled_ms, note) VALUES (?, ?, ?, ?, ?)"
            params = (device_id, kind, bytes(public_key), now_ms, note)
        else:
            sql = "UPDATE devices SET public_key = ?, enrolled_ms = ?, note = ? WHERE id = ?"
            params = (bytes(public_key), now_ms, note, device_id)
        self._write([(sql, params)])
        return existing is None

    def device(self, device_id):
        rows = self._read("SELECT id, kind, public_key, enrolled_ms, note FROM devices WHERE id = ?",
                          (device_id,))
        return Device(*rows[0]) if rows else None

    def devices(self):
        return [Device(*row) for row in
                self._read("SELECT id, kind, public_key, enrolled_ms, note FROM devices ORDER BY id")]

    # ---- ingest -------------------------------------------------------------

    def apply(self, events, received_ms):
        """Write the ``Stored`` and ``Quarantined`` events of ``Ingest.receive`` and commit.

        Records and their marks go in one transaction; other events are ignored.

        Raises:
            StoreError: nothing was written (the transaction rolled back).
        """
        inserts = []
        quarantined = []
        heads = {}
        for event in events:
            if isinstance(event, Stored):
                r = event.record
                inserts.append(((r.src, r.epoch, r.seq), (
                    "INSERT INTO records (src, epoch, seq, kind, t_ms, tq, body, raw, hash, topic, received_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (src, epoch, seq) DO NOTHING",
                    (r.src, r.epoch, r.seq, r.kind, r.t_ms, canonical_json(r.tq), canonical_json(r.body),
                     bytes(r.raw), r.hash, event.topic, received_ms))))
                # Stored events of a chain arrive in seq order: the last one is the mark.
                heads[(r.src, r.epoch)] = (r.seq, r.hash)
            elif isinstance(event, Quarantined):
                raw = bytes(event.raw or b"")
                detail = event.detail
                if len(raw) > MAX_QUARANTINE_RAW:
                    detail = "%s (payload of %d bytes, first %d kept)" % (detail, len(raw), MAX_QUARANTINE_RAW)
                    raw = raw[:MAX_QUARANTINE_RAW]
                quarantined.append((
                    "INSERT INTO quarantine (received_ms, topic, reason, detail, src, raw) VALUES (?, ?, ?, ?, ?, ?)",
                    (received_ms, event.topic, event.reason, detail, event.src, raw)))
        # Rows are taken in key order, records first, then marks: with several hall serve
        # instances on one PostgreSQL database, two transactions that touch the same keys then
        # wait for each other in one direction only and never deadlock.
        statements = [statement for _key, statement in sorted(inserts, key=lambda item: item[0])]
        for (src, epoch), (hw, head) in sorted(heads.items()):
            statements.append((
                "INSERT INTO marks (src, epoch, hw, head) VALUES (?, ?, ?, ?) ON CONFLICT (src, epoch)"
                " DO UPDATE SET hw = excluded.hw, head = excluded.head WHERE excluded.hw > marks.hw",
                (src, epoch, hw, head)))
        statements += quarantined
        if statements:
            self._write(statements)

    def load_marks(self):
        """[(src, epoch, hw, head), ...] for ``Ingest.restore``."""
        return [(src, epoch, hw, bytes(head)) for src, epoch, hw, head in
                self._read("SELECT src, epoch, hw, head FROM marks ORDER BY src, epoch")]

    def mark(self, src, epoch):
        """(hw, head) of one source and epoch, or None."""
        rows = self._read("SELECT hw, head FROM marks WHERE src = ? AND epoch = ?", (src, epoch))
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    def stored_hash(self, src, epoch, seq):
        """The hash stored under ``(src, epoch, seq)``, or None."""
        rows = self._read("SELECT hash FROM records WHERE src = ? AND epoch = ? AND seq = ?", (src, epoch, seq))
        return bytes(rows[0][0]) if rows else None

    # ---- queries ------------------------------------------------------------

    def records(self, src=None):
        """[(src, epoch, seq, kind, body_json, raw), ...] in key order."""
        sql = "SELECT src, epoch, seq, kind, body, raw FROM records"
        params = ()
        if src is not None:
            sql += " WHERE src = ?"
            params = (src,)
        return [(a, b, c, d, e, bytes(f)) for a, b, c, d, e, f in self._read(sql + " ORDER BY src, epoch, seq", params)]

    def records_since(self, src, since_ms, kinds):
        """[(kind, body_json), ...] of ``src`` received at or after ``since_ms``, of the given
        kinds, oldest first. ``received_ms`` is indexed, so this stays cheap on a big store."""
        kinds = list(kinds)
        if not kinds:
            return []
        sql = ("SELECT kind, body FROM records WHERE src = ? AND received_ms >= ? AND kind IN (%s)"
               " ORDER BY received_ms" % ", ".join("?" * len(kinds)))
        return [(kind, body) for kind, body in self._read(sql, (src, since_ms) + tuple(kinds))]

    def epochs(self, src):
        """Per epoch of ``src``: dicts with epoch, count, first, last (seq), hw, last_seen_ms and gaps
        ([(from, to), ...] of seq missing between the first and last stored)."""
        rows = self._read(
            "SELECT r.epoch, COUNT(*), MIN(r.seq), MAX(r.seq), MAX(r.received_ms), m.hw FROM records r"
            " LEFT JOIN marks m ON m.src = r.src AND m.epoch = r.epoch"
            " WHERE r.src = ? GROUP BY r.epoch, m.hw ORDER BY r.epoch", (src,))
        out = []
        for epoch, count, first, last, seen_ms, hw in rows:
            gaps = []
            if count != last - first + 1:
                expect = first
                for (seq,) in self._read("SELECT seq FROM records WHERE src = ? AND epoch = ? ORDER BY seq",
                                         (src, epoch)):
                    if seq > expect:
                        gaps.append((expect, seq - 1))
                    expect = seq + 1
            out.append({"epoch": epoch, "count": count, "first": first, "last": last, "hw": hw or 0,
                        "last_seen_ms": seen_ms, "gaps": gaps})
        return out

    def find(self, src=None, kinds=(), since_ms=None, limit=None):
        """Stored records, newest first: dicts with src, epoch, seq, kind, t_ms, tq, received_ms, body.

        Args:
            src: one device id, or None for all.
            kinds: record kinds to keep (empty: every kind).
            since_ms: keep records received at or after this UTC ms.
            limit: at most this many.
        """
        where, params = [], []
        if src is not None:
            where.append("src = ?")
            params.append(src)
        kinds = list(kinds)
        if kinds:
            where.append("kind IN (%s)" % ", ".join("?" * len(kinds)))
            params.extend(kinds)
        if since_ms is not None:
            where.append("received_ms >= ?")
            params.append(since_ms)
        sql = "SELECT src, epoch, seq, kind, t_ms, tq, received_ms, body FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_ms DESC, src DESC, epoch DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        keys = ("src", "epoch", "seq", "kind", "t_ms", "tq", "received_ms", "body")
        out = []
        for row in self._read(sql, tuple(params)):
            entry = dict(zip(keys, row))
            entry["body"] = json.loads(entry["body"])
            out.append(entry)
        return out

    def quarantine(self, limit=None):
        """Newest first: dicts with id, received_ms, topic, reason, detail, src, size."""
        sql = "SELECT id, received_ms, topic, reason, detail, src, LENGTH(raw) FROM quarantine ORDER BY id DESC"
        params = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        keys = ("id", "received_ms", "topic", "reason", "detail", "src", "size")
        return [dict(zip(keys, row)) for row in self._read(sql, params)]


def is_url(target):
    """True when ``target`` names a PostgreSQL database rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def open_store(target, create=True):
    """Open (and with ``create``, make) the store: a SQLite file at a path, or PostgreSQL for a
    ``postgresql://`` URL (``hall._store_pg``; the tables are created if missing either way).

    Raises:
        StoreError: the file is missing (not ``create``), or the database is not usable; the
            message never shows a password from the URL.
    """
    if is_url(target):
        from hall._store_pg import open_pg_backend
        return Store(open_pg_backend(str(target)))
    from pathlib import Path
    path = Path(target)
    if not create and not path.exists():
        raise StoreError("no database at %s; `hall enrol` or `hall serve` creates it" % path, path)
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per apply().
        db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            db.execute(statement)
    except sqlite3.Error as exc:
        raise StoreError("database %s: %s" % (path, exc), path) from exc
    return Store(SqliteBackend(path, db))


# The name before the PostgreSQL backend came; the same class.
SqliteStore = Store


def now_ms():
    return int(time.time() * 1000)
