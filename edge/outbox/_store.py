"""The outbox on SQLite: a thin adapter that carries out ``OutboxCore``'s decisions.

Guarantees (each tested in tests/edge):

* ``append``/``append_many`` return only after COMMIT with ``synchronous=FULL``
  in WAL mode: the record is signed, stored and durable before anything can
  publish it (``next_to_publish`` reads only committed rows).
* The sequence counter and chain head are in the ``meta`` row, updated in the
  same transaction as the records, so after a crash or power cut the next
  record continues the committed sequence and chains from the last committed
  record's hash; no number is reused.
* A record is deleted only by an ack that covers it, or shed (droppable kinds
  only) to keep the storage bound.
* A new store (the file lost or deleted) takes a new epoch from the identity
  directory (``Identity.claim_epoch``), so ``(epoch, seq)`` stays unique.

In-flight state (what was published and not yet acked) is kept in memory only:
after a restart everything unacked is published again, and the hall drops
duplicates by ``(src, epoch, seq)``.

One ``Outbox`` is shared by the producers and the publisher of a process; a
lock serialises them, and events go to ``on_event`` after the lock is released
(so a handler may append a health record).
"""

import os
import sqlite3
import threading
import time

from protocols.records import GENESIS_PREV, encode_record, record_hash

from .._errors import EdgeError, OutboxError, StoreMismatch
from ..identity import fingerprint
from ._core import OutboxCore
from .._fs import fsync_dir
from ._kinds import storage_class
from ._schema import KEYS_BY_TIME, KEYS_TABLE, PRAGMAS, SCHEMA_VERSION, TABLES
from ._values import DROPPABLE, AckAccepted, Depth, Gap, Limits, Pending


def connect_sqlite3(path):
    """The default connection factory: the stdlib driver in autocommit mode (we issue BEGIN/COMMIT)."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)


connect_sqlite3.errors = (sqlite3.Error,)


# No claim about the system clock's quality: "none" is what a device says
# until its clock tracker (edge.clock) knows better; the device runtime
# passes that tracker's clock instead.
_NO_CLAIM = {"src": "none", "err_ms": None}


def system_clock():
    """(t_ms, tq) from the system clock, claiming nothing about its quality."""
    return int(time.time() * 1000), dict(_NO_CLAIM)


class Outbox:
    """The device's store of signed records until the hall has them.

    Args:
        path: the SQLite file. Created (with a new epoch) if missing or empty.
        identity: an ``edge.identity.Identity`` (signing key, device id, epochs).
        limits: a ``Limits`` (bound, alarm, in-flight window); default unbounded.
        connect: the connection factory, ``connect(path) -> connection``; its
            ``errors`` attribute is the tuple of the driver's exception classes
            and its optional ``sync_dir(directory)`` makes a new file's name
            durable (default: the stdlib sqlite3 driver and ``os.fsync`` of
            the directory). Tests pass one that runs on a fault-injecting VFS.
        clock: ``clock() -> (t_ms, tq)`` for records appended without a time.
        on_event: called with each core event (``AlarmRaised``,
            ``AlarmCleared``, ``RecordsShed``), outside the lock.

    Raises:
        OutboxError: the file cannot be opened, is not a store, or cannot be
            put in WAL / synchronous=FULL mode.
        StoreMismatch: the store belongs to another device or key.
    """

    def __init__(self, path, identity, limits=None, connect=None, clock=None, on_event=None):
        self.path = path
        self.identity = identity
        self.limits = limits or Limits()
        self._connect = connect or connect_sqlite3
        self._errors = tuple(getattr(self._connect, "errors", (sqlite3.Error,)))
        self._clock = clock or system_clock
        self._on_event = on_event
        self._lock = threading.Lock()
        self._conn = None
        self._key = identity.signing_key
        self._src = identity.device_id
        self._public_key = identity.public_key_raw
        self._created = False
        try:
            self._conn = self._run("open the database", self._connect, path)
            self._configure()
            self.core = self._load()
            if self._created:
                self._sync_dir()
        except BaseException:
            self._close_quietly()
            raise
        self._emit(self.core.check_alarm())

    # -------------------------------------------------------------- plumbing

    def _db_error(self, what, exc):
        return OutboxError("outbox %s: cannot %s: %s" % (self.path, what, exc))

    def _run(self, what, fn, *args):
        """Call ``fn``, translating driver errors to OutboxError."""
        try:
            return fn(*args)
        except self._errors as exc:
            raise self._db_error(what, exc) from exc

    def _execute(self, sql, params=()):
        return self._conn.execute(sql, params)

    def _one(self, sql, params=()):
        return self._conn.execute(sql, params).fetchone()

    def _transaction(self, what, body):
        """Run ``body()`` between BEGIN IMMEDIATE and COMMIT; roll back on any error."""
        try:
            self._execute("BEGIN IMMEDIATE")
        except self._errors as exc:
            raise self._db_error(what, exc) from exc
        try:
            result = body()
            self._execute("COMMIT")
            return result
        except BaseException as exc:
            try:
                self._execute("ROLLBACK")
            except Exception:   # the driver may have rolled back already; the first error is the one to report
                pass
            if isinstance(exc, self._errors):
                raise self._db_error(what, exc) from exc
            raise

    def _configure(self):
        def apply():
            for name, want in PRAGMAS:
                got = self._one("PRAGMA %s = %s" % (name, want))
                got = self._one("PRAGMA %s" % name)[0] if got is None else got[0]
                if str(got).lower() != str(want):
                    raise OutboxError("outbox %s: PRAGMA %s is %r, need %r (is the file on a file system "
                                      "that supports it?)" % (self.path, name, got, want))
        self._run("configure the connection", apply)

    def _load(self):
        def body():
            exists = self._one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'")[0]
            row = self._one("SELECT schema_version, device_id, public_key, epoch, last_seq, last_hash, acked_seq "
                            "FROM meta WHERE id = 1") if exists else None
            if row is None:
                return self._create(exists)
            self._execute(KEYS_TABLE)           # stores made before producer keys existed
            self._execute(KEYS_BY_TIME)
            return row
        row = self._transaction("open the store", body)
        version, device_id, public_key, epoch, last_seq, last_hash, acked_seq = row
        if version != SCHEMA_VERSION:
            raise StoreMismatch("outbox %s has layout version %r, this software reads %d; use the software that "
                                "made it, or move the file away" % (self.path, version, SCHEMA_VERSION),
                                self.path, "schema_version", SCHEMA_VERSION, version)
        if device_id != self._src:
            raise StoreMismatch("outbox %s belongs to device_id %r, this device is %r; move the file away or use "
                                "the right data directory" % (self.path, device_id, self._src),
                                self.path, "device_id", self._src, device_id)
        if bytes(public_key) != self._public_key:
            raise StoreMismatch("outbox %s was made with key %s, this device's key is %s (a new key needs a new "
                                "store: move the file away once the hall has everything in it)"
                                % (self.path, fingerprint(bytes(public_key)), fingerprint(self._public_key)),
                                self.path, "public_key", self._public_key, bytes(public_key))
        self.identity.note_epoch(epoch)
        depth, oldest, newest = self._run("read the store", self._scan)
        if (newest or 0) > last_seq or (oldest is not None and oldest <= acked_seq):
            raise OutboxError("outbox %s is inconsistent: records %s..%s outside acked %d..last %d"
                              % (self.path, oldest, newest, acked_seq, last_seq))
        return OutboxCore(self.limits, epoch, last_seq, bytes(last_hash), acked_seq, depth)

    def _create(self, meta_exists):
        # A store without its meta row is one whose creation never committed:
        # nothing in it was ever returned to a producer, so it starts afresh.
        if not meta_exists:
            others = [r[0] for r in self._execute("SELECT name FROM sqlite_master").fetchall()]
            if others:
                raise StoreMismatch("%s is a SQLite database but not an outbox (it has %s); use another file"
                                    % (self.path, ", ".join(sorted(others)[:5])), self.path, "tables", "meta",
                                    others)
            for sql in TABLES:
                self._execute(sql)
        else:
            self._execute("DELETE FROM records")
        self._created = True
        try:
            epoch = self.identity.claim_epoch()
        except EdgeError as exc:
            raise OutboxError("outbox %s: cannot claim a new epoch: %s" % (self.path, exc)) from exc
        row = (SCHEMA_VERSION, self._src, self._public_key, epoch, 0, GENESIS_PREV, 0)
        self._execute("INSERT INTO meta (id, schema_version, device_id, public_key, epoch, last_seq, last_hash, "
                      "acked_seq) VALUES (1, ?, ?, ?, ?, ?, ?, ?)", row)
        return row

    def _sync_dir(self):
        # The new file's name must be durable before any record in it is
        # reported stored: SQLite syncs the directory for the logs it
        # creates, not for the main database file.
        directory = os.path.dirname(os.path.abspath(self.path))
        sync_dir = getattr(self._connect, "sync_dir", fsync_dir)
        try:
            sync_dir(directory)
        except self._errors + (OSError,) as exc:
            raise self._db_error("sync directory %s" % directory, exc) from exc

    def _scan(self):
        count, nbytes, drop_count, drop_bytes, oldest, newest = self._one(
            "SELECT count(*), coalesce(sum(nbytes), 0), coalesce(sum(droppable), 0), "
            "coalesce(sum(CASE WHEN droppable THEN nbytes ELSE 0 END), 0), min(seq), max(seq) FROM records")
        return Depth(count, nbytes, drop_count, drop_bytes), oldest, newest

    def _emit(self, events):
        if self._on_event is not None:
            for event in events:
                self._on_event(event)

    def _close_quietly(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:   # closing after a failed open: the open error is the one to report
                pass
            self._conn = None

    # ------------------------------------------------------------------ API

    @property
    def epoch(self):
        return self.core.epoch

    @property
    def last_seq(self):
        return self.core.last_seq

    @property
    def alarm(self):
        """True while the store is above ``Limits.alarm_at`` of its bound (until below ``alarm_clear_at``)."""
        return self.core.alarm

    def append(self, kind, body, t_ms=None, tq=None, v=1):
        """Sign, store and commit one record; return its sequence number.

        Args:
            kind: the record kind (``reading``, ``health``, ...).
            body: its body, checked against the kind's schema of version ``v``.
            t_ms, tq: the record's time and clock quality; default ``clock()``.
            v: the body's schema version (``anomaly`` and ``lineloss`` have a 2).

        Returns:
            The record's ``seq``, once the record is durable.

        Raises:
            RecordError: the body does not follow its kind's schema (nothing stored).
            OutboxFull: the bound is reached and nothing droppable is left.
            OutboxError: the database cannot be written (nothing stored).
        """
        return self.append_many([(kind, body, t_ms, tq, v)])[0]

    def append_many(self, items, keys=None):
        """Sign, store and commit several records in one transaction: all or none.

        Args:
            items: (kind, body[, t_ms[, tq[, v]]]) tuples; t_ms and tq default to
                ``clock()``, the body version v to 1.
            keys: None, or one producer key (text up to 200 characters, or None)
                per item. An item whose key was committed before, in this call
                or an earlier one, is not appended again: its earlier seq is
                returned. A producer that notes elsewhere what it appended
                (a reading cycle's ledger) appends first under a key, then
                notes; after a crash between the two it appends again and
                gets no duplicate. Keys are kept ``Limits.key_retention_s``.

        Returns:
            Their sequence numbers, in the order given: consecutive new ones,
            and for a known key the seq it was committed under.

        Raises:
            As ``append``, for the whole batch.
        """
        items = [self._normalise(item) for item in items]
        if keys is not None:
            keys = list(keys)
            if len(keys) != len(items):
                raise ValueError("keys must match items one to one: %d keys for %d items" % (len(keys), len(items)))
            for key in keys:
                if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 200):
                    raise ValueError("a producer key is text of 1 to 200 characters or None, got %r" % (key,))
        if not items:
            return []
        with self._lock:
            self._check_open()
            if keys is not None and any(k is not None for k in keys):
                seqs, events = self._append_keyed(items, keys)
            else:
                seqs, events = self._append_locked(items)
        self._emit(events)
        return seqs

    def _append_keyed(self, items, keys):
        known = {}
        for key in set(k for k in keys if k is not None):
            row = self._run("read producer keys", self._one, "SELECT seq FROM record_keys WHERE key = ?", (key,))
            if row is not None:
                known[key] = row[0]
        fresh, fresh_keys, slots = [], [], []
        for item, key in zip(items, keys):
            if key is not None and key in known:
                slots.append(("known", key))
            elif key is not None and key in fresh_keys:
                slots.append(("new", fresh_keys.index(key)))
            else:
                slots.append(("new", len(fresh)))
                fresh.append(item)
                fresh_keys.append(key)
        seqs, events = self._append_locked(fresh, fresh_keys) if fresh else ([], [])
        return [known[ref] if how == "known" else seqs[ref] for how, ref in slots], events

    def _append_locked(self, items, keys=None):
        """Append under the lock; returns (seqs, events). The caller emits the events unlocked."""
        core = self.core
        epoch = core.epoch
        seq = core.last_seq + 1
        prev = core.last_hash
        rows = []
        classes = []
        for kind, body, t_ms, tq, v in items:
            data = encode_record(self._key, src=self._src, epoch=epoch, seq=seq, prev=prev, t_ms=t_ms, tq=tq,
                                 kind=kind, body=body, v=v)
            prev = record_hash(data)
            klass = storage_class(kind)
            classes.append(klass)
            rows.append((seq, kind, 1 if klass == DROPPABLE else 0, t_ms, len(data), data))
            seq += 1
        admission = core.admit([(r[1], c, r[4]) for r, c in zip(rows, classes)])

        def body():
            shed = []
            if admission.must_shed:
                candidates = self._execute("SELECT seq, nbytes FROM records WHERE droppable = 1 ORDER BY seq")
                shed = core.choose_shed(admission, candidates)
                for s, _n in shed:
                    self._execute("DELETE FROM records WHERE seq = ?", (s,))
            for row in rows:
                self._execute("INSERT INTO records (seq, kind, droppable, t_ms, nbytes, data) "
                              "VALUES (?, ?, ?, ?, ?, ?)", row)
            self._execute("UPDATE meta SET last_seq = ?, last_hash = ? WHERE id = 1", (rows[-1][0], prev))
            if keys is not None:
                now_ms = self._clock()[0]
                for row, key in zip(rows, keys):
                    if key is not None:
                        self._execute("INSERT INTO record_keys (key, seq, t_ms) VALUES (?, ?, ?)",
                                      (key, row[0], now_ms))
                self._execute("DELETE FROM record_keys WHERE t_ms < ?",
                              (now_ms - int(self.limits.key_retention_s * 1000),))
            return shed

        shed = self._transaction("append %d record%s" % (len(rows), "" if len(rows) == 1 else "s"), body)
        events = core.appended(admission, prev, shed)
        return [r[0] for r in rows], events

    def _normalise(self, item):
        if not isinstance(item, (tuple, list)) or not 2 <= len(item) <= 5:
            raise TypeError("an outbox item is (kind, body[, t_ms[, tq[, v]]]), got %r" % (item,))
        kind, body, t_ms, tq, v = (tuple(item) + (None, None, 1)[len(item) - 2:])
        if t_ms is None or tq is None:
            now_ms, now_tq = self._clock()
            t_ms = now_ms if t_ms is None else t_ms
            tq = now_tq if tq is None else tq
        return kind, body, t_ms, tq, v

    def next_to_publish(self, limit=100):
        """The next items to publish, oldest first: re-opened records, then new ones within the window.

        Does not change anything; call ``mark_published`` for each item handed
        to the broker, in order.

        Args:
            limit: the most sequence numbers to return (a ``Gap`` counts its span).

        Returns:
            A list of ``Pending`` and ``Gap`` (for shed numbers).
        """
        with self._lock:
            self._check_open()
            epoch = self.core.epoch
            items = []
            for lo, hi in self.core.publish_plan(limit):
                rows = self._run("read records", lambda: self._execute(
                    "SELECT seq, kind, t_ms, data FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq",
                    (lo, hi)).fetchall())
                expect = lo
                for seq, kind, t_ms, data in rows:
                    if seq > expect:
                        items.append(Gap(epoch, expect, seq - 1))
                    items.append(Pending(epoch, seq, kind, t_ms, bytes(data)))
                    expect = seq + 1
                if expect <= hi:
                    items.append(Gap(epoch, expect, hi))
            return items

    def mark_published(self, item):
        """Note that ``item`` (a ``Pending``, a ``Gap`` or a seq) was handed to the broker.

        Returns:
            True if it moved the drain on; False for an item that is no longer
            next (from before a reconnect or an ack).
        """
        lo, hi = (item, item) if isinstance(item, int) else (item.from_seq, item.to_seq)
        with self._lock:
            return self.core.published(lo, hi)

    def ack(self, epoch, seq):
        """Apply the hall's ack: delete every record of ``epoch`` through ``seq``.

        Returns:
            ``AckAccepted`` or ``Ignored`` (another epoch, stale, duplicate, beyond the head).

        Raises:
            OutboxError: the delete could not be committed (nothing deleted).
        """
        with self._lock:
            self._check_open()
            decision = self.core.ack(epoch, seq)
            if not isinstance(decision, AckAccepted):
                return decision

            def body():
                count, nbytes, drop_count, drop_bytes = self._one(
                    "SELECT count(*), coalesce(sum(nbytes), 0), coalesce(sum(droppable), 0), "
                    "coalesce(sum(CASE WHEN droppable THEN nbytes ELSE 0 END), 0) FROM records WHERE seq <= ?",
                    (seq,))
                self._execute("DELETE FROM records WHERE seq <= ?", (seq,))
                self._execute("UPDATE meta SET acked_seq = ? WHERE id = 1", (seq,))
                return Depth(count, nbytes, drop_count, drop_bytes)

            freed = self._transaction("delete acked records", body)
            events = self.core.acked(seq, freed)
        self._emit(events)
        return decision

    def resend(self, epoch, from_seq, to_seq):
        """Re-open ``from_seq .. to_seq`` of ``epoch`` for publishing (the hall's resend request).

        Returns:
            ``ResendAccepted`` (clamped to unacked records) or ``Ignored``.
        """
        with self._lock:
            return self.core.resend(epoch, from_seq, to_seq)

    def on_reconnect(self):
        """Re-open every unacked record: the next ``next_to_publish`` starts at the oldest."""
        with self._lock:
            self.core.reconnected()

    def apply_control(self, control):
        """Apply a verified control message from the hall (``protocols.records.Control``, kind ack or resend).

        Returns:
            What ``ack`` or ``resend`` returned.

        Raises:
            ValueError: another kind of control message (commands are not the outbox's).
        """
        fields = control.fields
        if control.kind == "ack":
            return self.ack(fields["epoch"], fields["seq"])
        if control.kind == "resend":
            return self.resend(fields["epoch"], fields["from_seq"], fields["to_seq"])
        raise ValueError("the outbox handles ack and resend controls, not %r" % (control.kind,))

    def figures(self):
        """Health figures: depth (records, bytes), in flight, oldest unacked age, counters, alarm."""
        with self._lock:
            self._check_open()
            row = self._run("read records", self._one, "SELECT t_ms FROM records ORDER BY seq LIMIT 1")
            now_ms, _tq = self._clock()
            return self.core.figures(now_ms, row[0] if row else None)

    def records(self, from_seq=1, to_seq=None):
        """The stored (seq, data) pairs in a range, oldest first (for tools and tests)."""
        with self._lock:
            self._check_open()
            hi = self.core.last_seq if to_seq is None else to_seq
            return [(s, bytes(d)) for s, d in self._run("read records", lambda: self._execute(
                "SELECT seq, data FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq", (from_seq, hi)).fetchall())]

    def _check_open(self):
        if self._conn is None:
            raise OutboxError("outbox %s is closed" % self.path)

    def close(self):
        """Close the database (idempotent)."""
        with self._lock:
            self._close_quietly()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "Outbox(%r, epoch=%d, last_seq=%d)" % (self.path, self.core.epoch, self.core.last_seq)


