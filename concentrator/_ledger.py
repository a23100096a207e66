"""The completeness ledger: what each reading cycle expected, read and failed.

Lives in the agent's SQLite file next to the meter archive; every table here
is prefixed ``ledger_`` (the archive's are ``archive_``), and the ledger
neither reads nor minds the others.

Invariants (tests/concentrator/test_ledger.py):

* One row per (cycle, meter, item), created ``pending`` when the cycle is
  opened, and moved once to ``read`` (value, read time) or ``failed``
  (reason, attempts). A row never leaves ``read`` or ``failed``: a second
  report of the same item changes nothing and says so (returns False), so a
  read is never duplicated or overwritten.
* Every change is one transaction, committed with ``synchronous=FULL`` in
  WAL mode before the call returns: a ``record_read`` that returned survives
  ``kill -9`` and power loss.
* A cycle closes when nothing of it is pending (in the same transaction as
  its last item), or when ``close_due`` finds its deadline passed; then its
  leftover pending rows become failed with reason ``deadline``.
* After a restart, ``pending()`` hands back the pending rows of open cycles,
  to be submitted to the line schedules again.

M-09 "acquisition failure" (采集失败) is a ``failed`` row; M-10 "meter not
read" (表计未抄见) is what ``render_ledger`` lists per meter.

Times are UTC milliseconds (wall clock, unlike the schedule's monotonic
seconds: they must mean the same after a reboot).
"""

import json
import sqlite3
import threading
import time

from ._errors import ConcentratorError
from ._schedule_events import ItemFailed, ItemRead

SCHEMA_VERSION = 1
CYCLE_KINDS = ("realtime", "daily", "monthly")
PENDING, READ, FAILED = "pending", "read", "failed"

TABLES = (
    """CREATE TABLE IF NOT EXISTS ledger_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        schema_version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_cycles (
        cycle_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('realtime', 'daily', 'monthly')),
        planned_ms INTEGER NOT NULL,
        deadline_ms INTEGER,
        started_ms INTEGER NOT NULL,
        closed_ms INTEGER,
        close_reason TEXT CHECK (close_reason IN ('complete', 'deadline')),
        CHECK ((closed_ms IS NULL) = (close_reason IS NULL))
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_items (
        cycle_id TEXT NOT NULL REFERENCES ledger_cycles (cycle_id),
        meter TEXT NOT NULL,
        item TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'read', 'failed')),
        value TEXT,
        unit TEXT,
        read_ms INTEGER,
        reason TEXT,
        detail TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (cycle_id, meter, item),
        CHECK ((state = 'read') = (read_ms IS NOT NULL)),
        CHECK ((state = 'failed') = (reason IS NOT NULL))
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS ledger_items_pending ON ledger_items (cycle_id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS ledger_cycles_open ON ledger_cycles (planned_ms) WHERE closed_ms IS NULL",
)

# Same reasons as the outbox (edge/outbox/_schema.py): WAL so readers (the
# CLI, the archive) never block the writer; FULL so every commit is synced.
PRAGMAS = (("journal_mode", "wal"), ("synchronous", 2))


class LedgerError(ConcentratorError):
    """The ledger file cannot be used, or a call names a cycle or item it does not hold.

    Attributes:
        path: the database file.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class PendingItem:
    """Work of an open cycle not yet done. Attributes: cycle_id, kind, meter, item, deadline_ms."""

    __slots__ = ("cycle_id", "kind", "meter", "item", "deadline_ms")

    def __init__(self, cycle_id, kind, meter, item, deadline_ms):
        self.cycle_id = cycle_id
        self.kind = kind
        self.meter = meter
        self.item = item
        self.deadline_ms = deadline_ms

    def __repr__(self):
        return "PendingItem(%s %s %s)" % (self.cycle_id, self.meter, self.item)


class CycleSummary:
    """Counts of one cycle.

    Attributes:
        cycle_id, kind, planned_ms, deadline_ms, started_ms, closed_ms,
        close_reason, expected, read, failed, pending.
    """

    __slots__ = ("cycle_id", "kind", "planned_ms", "deadline_ms", "started_ms", "closed_ms", "close_reason",
                 "expected", "read", "failed", "pending")

    def __init__(self, row):
        for name, value in zip(self.__slots__, row):
            setattr(self, name, value)

    @property
    def closed(self):
        return self.closed_ms is not None

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "CycleSummary(%s %s expected=%d read=%d failed=%d pending=%d)" % (
            self.cycle_id, self.kind, self.expected, self.read, self.failed, self.pending)


def _encode_value(value):
    def default(obj):
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"hex": bytes(obj).hex()}
        return str(obj)
    return json.dumps(value, default=default, separators=(",", ":"), sort_keys=True)


def wall_ms():
    """The system clock in UTC ms: the default clock of the ledger and the agent."""
    return time.time_ns() // 1000000


class Ledger:
    """The completeness ledger in an SQLite file (shared with the meter archive).

    Args:
        path: the database file; created if missing.
        clock: ``clock() -> UTC ms`` for calls given no time (default: system clock).

    Raises:
        LedgerError: the file cannot be opened, is not SQLite, cannot be put
            in WAL / synchronous=FULL mode, or has a ledger of another layout.
    """

    def __init__(self, path, clock=None):
        self.path = str(path)
        self._clock = clock or wall_ms
        self._lock = threading.Lock()
        self._conn = None
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            for name, want in PRAGMAS:
                got = self._conn.execute("PRAGMA %s = %s" % (name, want)).fetchone()
                got = self._conn.execute("PRAGMA %s" % name).fetchone()[0] if got is None else got[0]
                if str(got).lower() != str(want):
                    raise LedgerError("ledger %s: PRAGMA %s is %r, need %r (is the file on a file system that "
                                      "supports it?)" % (self.path, name, got, want), self.path)
            self._transaction("create the ledger tables", self._create)
        except sqlite3.Error as exc:
            self._close_quietly()
            raise LedgerError("ledger %s: cannot open: %s" % (self.path, exc), self.path) from exc
        except BaseException:
            self._close_quietly()
            raise

    def _create(self, db):
        for sql in TABLES:
            db.execute(sql)
        row = db.execute("SELECT schema_version FROM ledger_meta WHERE id = 1").fetchone()
        if row is None:
            db.execute("INSERT INTO ledger_meta (id, schema_version) VALUES (1, ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise LedgerError("ledger %s has layout version %r, this software reads %d"
                              % (self.path, row[0], SCHEMA_VERSION), self.path)

    # ---- plumbing -------------------------------------------------------------

    def close(self):
        self._close_quietly()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _close_quietly(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _now(self, t_ms):
        return self._clock() if t_ms is None else int(t_ms)

    def _transaction(self, what, body):
        """Run ``body(conn)`` between BEGIN IMMEDIATE and COMMIT under the lock; roll back on error."""
        with self._lock:
            if self._conn is None:
                raise LedgerError("ledger %s is closed" % self.path, self.path)
            db = self._conn
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError("ledger %s: cannot %s: %s" % (self.path, what, exc), self.path) from exc
            try:
                result = body(db)
                db.execute("COMMIT")
                return result
            except BaseException as exc:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass        # rolled back already; the first error is the one to report
                if isinstance(exc, sqlite3.Error):
                    raise LedgerError("ledger %s: cannot %s: %s" % (self.path, what, exc), self.path) from exc
                raise

    def _query(self, sql, params=()):
        with self._lock:
            if self._conn is None:
                raise LedgerError("ledger %s is closed" % self.path, self.path)
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError("ledger %s: cannot read: %s" % (self.path, exc), self.path) from exc

    # ---- writing --------------------------------------------------------------

    def open_cycle(self, cycle_id, kind, planned_ms, expected, deadline_ms=None, started_ms=None):
        """Start a cycle with every (meter, item) it must read, all pending.

        Opening a cycle that exists already is a no-op that returns False
        (a restarted agent plans the same cycle again), provided it is the
        same kind and planned time.

        Args:
            cycle_id: text, unique (e.g. "daily/2024-06-01").
            kind: "realtime", "daily" or "monthly".
            planned_ms: when the cycle was planned to start (UTC ms).
            expected: iterable of (meter, item) text pairs.
            deadline_ms: when leftover items fail as "deadline"; None: never.
            started_ms: default now.

        Returns:
            True if created, False if it was there.

        Raises:
            LedgerError: bad kind, non-text meter or item, duplicate pair,
                or the id exists with another kind or planned time.
        """
        if kind not in CYCLE_KINDS:
            raise LedgerError("cycle %s: kind %r is not one of %s" % (cycle_id, kind, ", ".join(CYCLE_KINDS)),
                              self.path)
        if not isinstance(cycle_id, str) or not cycle_id:
            raise LedgerError("cycle id must be non-empty text, got %r" % (cycle_id,), self.path)
        pairs = []
        seen = set()
        for pair in expected:
            meter, item = pair
            if not isinstance(meter, str) or not isinstance(item, str):
                raise LedgerError("cycle %s: meter and item must be text, got %r" % (cycle_id, pair), self.path)
            if (meter, item) in seen:
                raise LedgerError("cycle %s: meter %s item %s is listed twice" % (cycle_id, meter, item),
                                  self.path)
            seen.add((meter, item))
            pairs.append((meter, item))
        now = self._now(started_ms)

        def body(db):
            row = db.execute("SELECT kind, planned_ms FROM ledger_cycles WHERE cycle_id = ?", (cycle_id,)).fetchone()
            if row is not None:
                if tuple(row) != (kind, planned_ms):
                    raise LedgerError("cycle %s exists as %s planned at %d, not %s planned at %d"
                                      % (cycle_id, row[0], row[1], kind, planned_ms), self.path)
                return False
            db.execute("INSERT INTO ledger_cycles (cycle_id, kind, planned_ms, deadline_ms, started_ms) "
                       "VALUES (?, ?, ?, ?, ?)", (cycle_id, kind, int(planned_ms), deadline_ms, now))
            db.executemany("INSERT INTO ledger_items (cycle_id, meter, item, state, updated_ms) "
                           "VALUES (?, ?, ?, 'pending', ?)", [(cycle_id, m, i, now) for m, i in pairs])
            if not pairs:
                self._close(db, cycle_id, now, "complete")
            return True
        return self._transaction("open cycle %s" % cycle_id, body)

    def record_read(self, cycle_id, meter, item, value, unit=None, read_ms=None, attempts=1):
        """Store a value for a pending item.

        Returns:
            True if stored; False if the item was no longer pending (read
            already, or failed, e.g. by the cycle's deadline): nothing changes.

        Raises:
            LedgerError: no such cycle, meter or item.
        """
        now = self._now(read_ms)
        encoded = _encode_value(value)

        def body(db):
            cur = db.execute("UPDATE ledger_items SET state = 'read', value = ?, unit = ?, read_ms = ?, "
                             "attempts = ?, updated_ms = ? WHERE cycle_id = ? AND meter = ? AND item = ? "
                             "AND state = 'pending'", (encoded, unit, now, attempts, now, cycle_id, meter, item))
            return self._after_update(db, cur, cycle_id, meter, item, now)
        return self._transaction("record a read of %s %s" % (meter, item), body)

    def record_failed(self, cycle_id, meter, item, reason, detail="", attempts=0, t_ms=None):
        """Mark a pending item failed.

        Returns:
            True if marked; False if it was no longer pending.

        Raises:
            LedgerError: no such cycle, meter or item; empty reason.
        """
        if not reason:
            raise LedgerError("a failure needs a reason (%s %s in %s)" % (meter, item, cycle_id), self.path)
        now = self._now(t_ms)

        def body(db):
            cur = db.execute("UPDATE ledger_items SET state = 'failed', reason = ?, detail = ?, attempts = ?, "
                             "updated_ms = ? WHERE cycle_id = ? AND meter = ? AND item = ? AND state = 'pending'",
                             (reason, detail, attempts, now, cycle_id, meter, item))
            return self._after_update(db, cur, cycle_id, meter, item, now)
        return self._transaction("record a failure of %s %s" % (meter, item), body)

    def record(self, event):
        """Store a schedule event (ItemRead / ItemFailed) whose job tag is a cycle id of this ledger.

        Values of ``Reading`` objects are stored with their unit. Events of
        other kinds, and of jobs whose tag is not text (on-demand requests),
        are not the ledger's business: None.

        Returns:
            True / False as ``record_read`` / ``record_failed``, or None.
        """
        if not isinstance(event, (ItemRead, ItemFailed)) or not isinstance(event.job.tag, str):
            return None
        job = event.job
        if isinstance(event, ItemRead):
            value, unit = event.value, None
            if hasattr(value, "value") and hasattr(value, "unit"):
                value, unit = value.value, value.unit
            return self.record_read(job.tag, job.meter, str(job.item), value, unit, attempts=job.attempts)
        return self.record_failed(job.tag, job.meter, str(job.item), event.reason, event.message, job.attempts)

    def _after_update(self, db, cur, cycle_id, meter, item, now):
        if cur.rowcount == 0:
            row = db.execute("SELECT state FROM ledger_items WHERE cycle_id = ? AND meter = ? AND item = ?",
                             (cycle_id, meter, item)).fetchone()
            if row is None:
                raise LedgerError("cycle %s has no item %s of meter %s" % (cycle_id, item, meter), self.path)
            return False
        left = db.execute("SELECT count(*) FROM ledger_items WHERE cycle_id = ? AND state = 'pending'",
                          (cycle_id,)).fetchone()[0]
        if not left:
            self._close(db, cycle_id, now, "complete")
        return True

    def _close(self, db, cycle_id, now, reason):
        db.execute("UPDATE ledger_cycles SET closed_ms = ?, close_reason = ? WHERE cycle_id = ? AND closed_ms IS NULL",
                   (now, reason, cycle_id))

    def close_due(self, now_ms=None):
        """Close open cycles whose deadline has passed (leftovers fail "deadline") or with nothing pending.

        Returns:
            list of the cycle ids closed.
        """
        now = self._now(now_ms)

        def body(db):
            closed = []
            rows = db.execute("SELECT c.cycle_id, c.deadline_ms, (SELECT count(*) FROM ledger_items i "
                              "WHERE i.cycle_id = c.cycle_id AND i.state = 'pending') FROM ledger_cycles c "
                              "WHERE c.closed_ms IS NULL ORDER BY c.planned_ms, c.cycle_id").fetchall()
            for cycle_id, deadline_ms, pending in rows:
                if pending and deadline_ms is not None and deadline_ms <= now:
                    db.execute("UPDATE ledger_items SET state = 'failed', reason = 'deadline', "
                               "detail = 'not read before the cycle deadline', updated_ms = ? "
                               "WHERE cycle_id = ? AND state = 'pending'", (now, cycle_id))
                    self._close(db, cycle_id, now, "deadline")
                    closed.append(cycle_id)
                elif not pending:
                    self._close(db, cycle_id, now, "complete")
                    closed.append(cycle_id)
            return closed
        return self._transaction("close cycles", body)

    # ---- reading --------------------------------------------------------------

    def pending(self, cycle_id=None):
        """Pending items of open cycles (one cycle, or all), oldest cycle first, as PendingItem."""
        sql = ("SELECT i.cycle_id, c.kind, i.meter, i.item, c.deadline_ms FROM ledger_items i "
               "JOIN ledger_cycles c ON c.cycle_id = i.cycle_id "
               "WHERE i.state = 'pending' AND c.closed_ms IS NULL%s "
               "ORDER BY c.planned_ms, i.cycle_id, i.meter, i.item")
        if cycle_id is None:
            rows = self._query(sql % "")
        else:
            rows = self._query(sql % " AND i.cycle_id = ?", (cycle_id,))
        return [PendingItem(*row) for row in rows]

    def pending_jobs(self, cycle_id=None):
        """The same grouped for ``LineSchedule.submit``: list of (cycle_id, meter, [items], deadline_ms)."""
        out = []
        for p in self.pending(cycle_id):
            if out and out[-1][0] == p.cycle_id and out[-1][1] == p.meter:
                out[-1][2].append(p.item)
            else:
                out.append((p.cycle_id, p.meter, [p.item], p.deadline_ms))
        return out

    _SUMMARY = ("SELECT c.cycle_id, c.kind, c.planned_ms, c.deadline_ms, c.started_ms, c.closed_ms, c.close_reason, "
                "count(i.item), coalesce(sum(i.state = 'read'), 0), coalesce(sum(i.state = 'failed'), 0), "
                "coalesce(sum(i.state = 'pending'), 0) FROM ledger_cycles c "
                "LEFT JOIN ledger_items i ON i.cycle_id = c.cycle_id %s GROUP BY c.cycle_id "
                "ORDER BY c.planned_ms DESC, c.cycle_id DESC %s")

    def cycle(self, cycle_id):
        """The CycleSummary of one cycle, or None."""
        rows = self._query(self._SUMMARY % ("WHERE c.cycle_id = ?", ""), (cycle_id,))
        return CycleSummary(rows[0]) if rows else None

    def summaries(self, limit=20, open_only=False):
        """CycleSummary of the newest ``limit`` cycles (by planned time), newest first."""
        where = "WHERE c.closed_ms IS NULL" if open_only else ""
        return [CycleSummary(r) for r in self._query(self._SUMMARY % (where, "LIMIT ?"), (int(limit),))]

    def items(self, cycle_id, state=None):
        """Rows of one cycle as dicts (meter, item, state, value decoded, unit, read_ms, reason, detail, attempts)."""
        sql = ("SELECT meter, item, state, value, unit, read_ms, reason, detail, attempts FROM ledger_items "
               "WHERE cycle_id = ?%s ORDER BY meter, item")
        params = (cycle_id,) if state is None else (cycle_id, state)
        rows = self._query(sql % ("" if state is None else " AND state = ?"), params)
        keys = ("meter", "item", "state", "value", "unit", "read_ms", "reason", "detail", "attempts")
        out = []
        for row in rows:
            d = dict(zip(keys, row))
            d["value"] = json.loads(d["value"]) if d["value"] is not None else None
            out.append(d)
        return out

    def meter_reasons(self, cycle_id):
        """Per meter with failures in ``cycle_id``: (meter, {reason: count}), sorted by meter."""
        rows = self._query("SELECT meter, reason, count(*) FROM ledger_items WHERE cycle_id = ? AND state = 'failed' "
                           "GROUP BY meter, reason ORDER BY meter, reason", (cycle_id,))
        out = []
        for meter, reason, n in rows:
            if not out or out[-1][0] != meter:
                out.append((meter, {}))
            out[-1][1][reason] = n
        return out


def _utc(t_ms):
    if t_ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_ms / 1000.0))


def render_ledger(ledger, limit=10, cycle_id=None, reasons=True):
    """The ledger as a text table: one row per cycle, then its meters with failures.

    Args:
        ledger: a Ledger.
        limit: newest cycles to show.
        cycle_id: show only this cycle.
        reasons: list the failing meters under each cycle.

    Returns:
        text (no trailing newline); "no reading cycles" when empty.

    Raises:
        LedgerError: ``cycle_id`` is not in the ledger.
    """
    if cycle_id is not None:
        one = ledger.cycle(cycle_id)
        if one is None:
            raise LedgerError("ledger %s has no cycle %s" % (ledger.path, cycle_id), ledger.path)
        cycles = [one]
    else:
        cycles = ledger.summaries(limit)
    if not cycles:
        return "no reading cycles"
    width = max(len("cycle"), max(len(c.cycle_id) for c in cycles))
    head = "%-*s  %-8s  %-19s  %-30s  %8s  %6s  %6s  %7s  %s" % (
        width, "cycle", "kind", "planned (UTC)", "closed (UTC)", "expected", "read", "failed", "pending", "complete")
    lines = [head]
    for c in cycles:
        share = "%.1f%%" % (100.0 * c.read / c.expected) if c.expected else "-"
        closed = _utc(c.closed_ms) if c.closed else "open"
        if c.close_reason == "deadline":
            closed += " (deadline)"
        lines.append("%-*s  %-8s  %-19s  %-30s  %8d  %6d  %6d  %7d  %s" % (
            width, c.cycle_id, c.kind, _utc(c.planned_ms), closed, c.expected, c.read, c.failed, c.pending, share))
        if reasons:
            for meter, counts in ledger.meter_reasons(c.cycle_id):
                text = ", ".join("%s %d" % (r, n) for r, n in sorted(counts.items()))
                lines.append("  %-12s  failed: %s" % (meter, text))
    return "\n".join(lines)


__all__ = ["Ledger", "LedgerError", "PendingItem", "CycleSummary", "render_ledger", "CYCLE_KINDS", "SCHEMA_VERSION"]
