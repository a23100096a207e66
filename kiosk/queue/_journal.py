"""The queue's journal on SQLite: the one place of truth the engine is rebuilt from.

Why the kiosk's own table and not the outbox: the outbox deletes a record as
soon as the hall acknowledges it, and counter openings and pauses are state
but no record; the queue must come back whole after a restart whether or not
the hall has been reachable. So every accepted action is one journal row
(action, arguments with ``now_ms``, and the records it produced); the engine
is deterministic, so replaying the day's rows rebuilds it exactly, and the
replay checks that each row gives the records it stored.

Guarantees (tests/kiosk/test_queue_journal.py, test_queue_kill.py):

* An action is applied to the engine, then committed (WAL,
  ``synchronous=FULL``) before ``do`` returns; if the commit fails the
  engine is rebuilt from the journal and the error raised, so nothing the
  caller was told about is lost and nothing it was not told about stays.
* ``issued`` holds (day, number) as primary key and (day, key) as unique
  key, in the same transaction: the database itself refuses a number or a
  "take a ticket" key twice.
* Records reach the outbox after the commit, under the producer key
  ``queue:<journal token>:<row>:<i>``; a crash between the two posts them
  again on the next open and the outbox's keys keep them single
  (docs/decisions.md 15). The token is random per journal file, so a new
  file never collides with an old one's keys.
* Replay starts at the day's ``begin_day`` row; earlier days are history.
"""

import json
import sqlite3
import threading
import uuid

from ._engine import ACTIONS, QueueEngine
from ._errors import ActionRefused, JournalError
from ._values import local_day

SCHEMA_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        schema_version INTEGER NOT NULL,
        token TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        t_ms INTEGER NOT NULL,
        action TEXT NOT NULL,
        args TEXT NOT NULL,
        records TEXT NOT NULL,
        config TEXT,
        posted INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS journal_unposted ON journal (id) WHERE posted = 0",
    """CREATE TABLE IF NOT EXISTS issued (
        day TEXT NOT NULL,
        number TEXT NOT NULL,
        key TEXT,
        journal_id INTEGER NOT NULL,
        PRIMARY KEY (day, number)
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS issued_key ON issued (day, key) WHERE key IS NOT NULL",
)

# Actions that may turn out to do nothing (nothing waiting; a repeated key):
# those outcomes are not journaled.
_MAYBE_NOOP = ("call_next", "issue")


def _records_json(records):
    return json.dumps([[r.kind, r.body, r.t_ms] for r in records], sort_keys=True, separators=(",", ":"))


class QueueStore:
    """The queue engine kept in a SQLite journal, feeding an outbox.

    Args:
        path: the journal file (created if missing).
        config: the ``QueueConfig``.
        outbox: an ``edge.outbox.Outbox`` to append records to, or None
            (records then wait in the journal; ``unposted()`` counts them).

    Raises:
        JournalError: the file cannot be opened or configured, is another
            kind of database, or its rows do not replay under ``config``
            (e.g. the configuration changed in the middle of a day).
    """

    def __init__(self, path, config, outbox=None):
        self.path = str(path)
        self.config = config
        self.outbox = outbox
        self.post_error = None
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as exc:
            raise JournalError(self.path, "cannot open: %s" % exc) from exc
        try:
            self._setup()
            self.engine = self._replay()
            self._post_pending()
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------ opening

    def _setup(self):
        try:
            for pragma, want in (("journal_mode", "wal"), ("synchronous", 2)):
                self._conn.execute("PRAGMA %s = %s" % (pragma, want))
                got = self._conn.execute("PRAGMA %s" % pragma).fetchone()[0]
                if str(got).lower() != str(want):
                    raise JournalError(self.path, "PRAGMA %s is %r, need %r" % (pragma, got, want))
            names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names and "journal" not in names:
                raise JournalError(self.path, "a SQLite database but not a queue journal (tables %s)"
                                   % ", ".join(sorted(names)))
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql in _TABLES:
                    self._conn.execute(sql)
                row = self._conn.execute("SELECT schema_version, token FROM meta WHERE id = 1").fetchone()
                if row is None:
                    row = (SCHEMA_VERSION, uuid.uuid4().hex)
                    self._conn.execute("INSERT INTO meta (id, schema_version, token) VALUES (1, ?, ?)", row)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(self.path, "cannot set up: %s" % exc) from exc
        if row[0] != SCHEMA_VERSION:
            raise JournalError(self.path, "layout version %r, this software reads %d" % (row[0], SCHEMA_VERSION))
        self.token = row[1]

    def _rows(self):
        try:
            start = self._conn.execute("SELECT max(id) FROM journal WHERE action = 'begin_day'").fetchone()[0]
            if start is None:
                return []
            return self._conn.execute("SELECT id, action, args, records, config FROM journal WHERE id >= ? "
                                      "ORDER BY id", (start,)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self.path, "cannot read: %s" % exc) from exc

    def _replay(self):
        engine = QueueEngine(self.config)
        day_digest = None
        for row_id, action, args, records, digest in self._rows():
            where = "row %d (%s)" % (row_id, action)
            day_digest = digest or day_digest         # begin_day rows carry the config's digest
            changed = "" if day_digest in (None, self.config.digest) else (
                "; the queue configuration changed during the day (journal %s..., now %s...): keep the old one "
                "until the day ends" % (day_digest[:12], self.config.digest[:12]))
            try:
                kwargs = json.loads(args)
                outcome = ACTIONS[action](engine, **kwargs)
            except (KeyError, TypeError, ValueError, ActionRefused) as exc:
                raise JournalError(self.path, "%s does not replay: %s%s" % (where, exc, changed)) from exc
            # The day's first row expired the previous day's tickets, which a
            # fresh engine does not have: only its own effect is replayed.
            if action != "begin_day" and _records_json(outcome.records) != records:
                raise JournalError(self.path, "%s replays to other records than it stored%s" % (where, changed))
        return engine

    # ------------------------------------------------------------ actions

    def do(self, action, now_ms, **kwargs):
        """Apply one engine action, journal it, and post its records.

        A new business day is begun first (and journaled) when ``now_ms``
        is on a later day than the queue.

        Args:
            action: a name of ``ACTIONS`` ("issue", "call_next", "finish", ...).
            now_ms: the time (UTC ms).
            kwargs: the action's other arguments, JSON-serialisable.

        Returns:
            The engine's ``Outcome``.

        Raises:
            ActionRefused: the engine refused (nothing changed).
            JournalError: the journal could not be written (nothing changed).
        """
        if action not in ACTIONS:
            raise ActionRefused(action, action, "action", "unknown action %r (known: %s)"
                                % (action, ", ".join(sorted(ACTIONS))))
        with self._lock:
            engine = self.engine
            if action != "begin_day" and (engine.day is None or local_day(self.config.tz, now_ms) > engine.day):
                self._apply("begin_day", {"now_ms": now_ms})
            outcome = self._apply(action, dict(kwargs, now_ms=now_ms))
            self._post_pending()
            return outcome

    def _apply(self, action, kwargs):
        outcome = ACTIONS[action](self.engine, **kwargs)
        if action in _MAYBE_NOOP and not outcome.records:
            return outcome
        args = json.dumps(kwargs, sort_keys=True, separators=(",", ":"))
        records = _records_json(outcome.records)
        digest = self.config.digest if action == "begin_day" else None
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute("INSERT INTO journal (day, t_ms, action, args, records, config) "
                                         "VALUES (?, ?, ?, ?, ?, ?)",
                                         (self.engine.day, kwargs["now_ms"], action, args, records, digest))
                if action == "issue":
                    t = outcome.ticket
                    self._conn.execute("INSERT INTO issued (day, number, key, journal_id) VALUES (?, ?, ?, ?)",
                                       (t.day, t.number, kwargs.get("key"), cur.lastrowid))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.engine = self._replay()     # back to what the journal holds
            raise JournalError(self.path, "cannot journal %s: %s" % (action, exc)) from exc
        except BaseException:
            self.engine = self._replay()
            raise
        return outcome

    def _post_pending(self):
        if self.outbox is None:
            return
        try:
            rows = self._conn.execute("SELECT id, records FROM journal WHERE posted = 0 ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise JournalError(self.path, "cannot read: %s" % exc) from exc
        for row_id, records in rows:
            items = [(kind, body, t_ms) for kind, body, t_ms in json.loads(records)]
            keys = ["queue:%s:%d:%d" % (self.token, row_id, i) for i in range(len(items))]
            try:
                if items:
                    self.outbox.append_many(items, keys=keys)
            except Exception as exc:     # kept and exposed, retried on the next action (docs/kiosk.md)
                self.post_error = exc
                return
            try:
                self._conn.execute("UPDATE journal SET posted = 1 WHERE id = ?", (row_id,))
            except sqlite3.Error as exc:
                raise JournalError(self.path, "cannot note a posted row: %s" % exc) from exc
        self.post_error = None

    # ------------------------------------------------------------ queries (under the lock)

    def ticket(self, number):
        """The ``TicketView`` of ``number`` today, or None."""
        with self._lock:
            return self.engine.ticket(number)

    def tickets(self):
        """Every ticket of the day, in issue order."""
        with self._lock:
            return self.engine.tickets()

    @property
    def day(self):
        """The engine's business day (``YYYY-MM-DD``), or None before the first action."""
        with self._lock:
            return self.engine.day

    def waiting(self, counter_id=None, now_ms=None):
        """The engine's ``waiting``: tickets in call order, for one counter at ``now_ms`` if given."""
        with self._lock:
            return self.engine.waiting(counter_id, now_ms)

    def counter(self, counter_id):
        """The ``CounterView`` of a counter."""
        with self._lock:
            return self.engine.counter(counter_id)

    def estimate(self, now_ms, business, priority="normal"):
        """The engine's ``estimate`` (see ``QueueEngine.estimate``)."""
        with self._lock:
            return self.engine.estimate(now_ms, business, priority)

    def snapshot(self):
        """The engine's ``snapshot``."""
        with self._lock:
            return self.engine.snapshot()

    def post_pending(self):
        """Post journal rows not yet in the outbox; returns how many rows are still unposted."""
        with self._lock:
            self._post_pending()
            return self.unposted()

    def unposted(self):
        """Rows whose records are not yet in the outbox (all of them without an outbox)."""
        return self._conn.execute("SELECT count(*) FROM journal WHERE posted = 0").fetchone()[0]

    def journal(self, day=None):
        """The journal rows (id, day, t_ms, action, args dict, [(kind, body, t_ms)]), oldest first."""
        sql = "SELECT id, day, t_ms, action, args, records FROM journal"
        rows = self._conn.execute(sql + (" WHERE day = ? ORDER BY id" if day else " ORDER BY id"),
                                  (day,) if day else ()).fetchall()
        return [(i, d, t, a, json.loads(args), [tuple(r) for r in json.loads(recs)]) for i, d, t, a, args, recs
                in rows]

    def close(self):
        """Close the database (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
