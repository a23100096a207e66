"""The rating prompts on SQLite, so a restart neither loses a pending prompt nor allows a second rating.

One row per ticket asked, primary key (day, number): the database itself
refuses a second prompt, and so a second rating, for one ticket. A row is
pending while ``outcome`` is null; the ``RatingDesk`` is rebuilt on open from
every ticket asked and the pending rows. Each action runs on the desk,
then its rows are committed (WAL, ``synchronous=FULL``) in one transaction;
if the commit fails the desk is rebuilt from the file and the error raised.

Records reach the outbox after the commit under the producer key
``rating:<day>:<number>`` (docs/decisions.md 15): a crash between the two
posts them again on the next open and the outbox keeps them single. The
bodies are version 2 (``outcome``), so "not rated" reaches the hall too.
"""

import json
import sqlite3
import threading

from ._desk import BODY_VERSION, Prompt, RatingDesk
from ._errors import RatingStoreError

_TABLE = """CREATE TABLE IF NOT EXISTS prompts (
    day TEXT NOT NULL,
    number TEXT NOT NULL,
    counter TEXT NOT NULL,
    staff TEXT,
    business TEXT,
    asked_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    level INTEGER,
    outcome TEXT,
    ended_ms INTEGER,
    body TEXT,
    posted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, number)
)"""


class RatingStore:
    """The rating desk kept in SQLite, feeding an outbox.

    Args:
        path: the SQLite file (created if missing).
        config: a ``RatingConfig``.
        outbox: an ``edge.outbox.Outbox`` or None (records wait; ``unposted()`` counts them).

    Raises:
        RatingStoreError: the file cannot be opened, or is another kind of database.
    """

    def __init__(self, path, config, outbox=None):
        self.path = str(path)
        self.config = config
        self.outbox = outbox
        self.post_error = None
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._conn.execute("PRAGMA journal_mode = wal")
            self._conn.execute("PRAGMA synchronous = 2")
            names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if names and "prompts" not in names:
                raise RatingStoreError(self.path, "a SQLite database but not a rating journal (tables %s)"
                                       % ", ".join(sorted(names)))
            self._conn.execute(_TABLE)
        except sqlite3.Error as exc:
            self._close_quietly()
            raise RatingStoreError(self.path, "cannot open: %s" % exc) from exc
        except RatingStoreError:
            self._close_quietly()
            raise
        self.desk = self._load()
        self._post_pending()

    def _close_quietly(self):
        try:
            self._conn.close()
        except (sqlite3.Error, AttributeError):
            pass

    def _load(self):
        desk = RatingDesk(self.config)
        try:
            rows = self._conn.execute("SELECT day, number, counter, staff, business, asked_ms, deadline_ms, level, "
                                      "outcome FROM prompts").fetchall()
        except sqlite3.Error as exc:
            raise RatingStoreError(self.path, "cannot read: %s" % exc) from exc
        pending = [Prompt(r[1], r[0], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows if r[8] is None]
        desk.restore([(r[0], r[1]) for r in rows], pending)
        return desk

    # ------------------------------------------------------------ actions

    def ask(self, now_ms, number, day, counter, staff=None, business=None):
        """``RatingDesk.ask``, committed. Returns its records."""
        return self._do("ask", now_ms, (number, day, counter, staff, business))

    def ask_after(self, now_ms, call_body):
        """``RatingDesk.ask_after`` (a queue ``finish`` call body), committed. Returns its records."""
        return self._do("ask_after", now_ms, (call_body,))

    def press(self, now_ms, counter, level):
        """``RatingDesk.press``, committed. Returns ``(records, needs_reason)``."""
        return self._do("press", now_ms, (counter, level))

    def give_reason(self, now_ms, counter, reason):
        """``RatingDesk.give_reason``, committed. Returns its records."""
        return self._do("give_reason", now_ms, (counter, reason))

    def expire(self, now_ms):
        """``RatingDesk.expire``, committed: prompts past their time end "timeout". Returns the records."""
        return self._do("expire", now_ms, ())

    def _do(self, action, now_ms, args):
        """Run a desk action, commit what changed, then post.

        Raises:
            RatingRefused: from the desk (nothing changed).
            RatingStoreError: the commit failed (the desk is rebuilt from the file).
        """
        with self._lock:
            before = dict(self.desk.prompts())
            result = getattr(self.desk, action)(now_ms, *args)
            records = result[0] if action == "press" else result
            try:
                self._commit(before, records)
            except sqlite3.Error as exc:
                self.desk = self._load()
                raise RatingStoreError(self.path, "cannot write %s: %s" % (action, exc)) from exc
            self._post_pending()
            return result

    def _commit(self, before, records):
        after = self.desk.prompts()
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for r in records:
                b = r.body
                c.execute("UPDATE prompts SET outcome = ?, level = ?, ended_ms = ?, body = ? WHERE day = ? AND "
                          "number = ? AND outcome IS NULL",
                          (b["outcome"], b["level"], r.t_ms, json.dumps(b, sort_keys=True), b["day"], b["number"]))
            for counter, p in after.items():
                old = before.get(counter)
                if old is None or (old.day, old.number) != (p.day, p.number):
                    # The primary key makes the database refuse a ticket asked twice.
                    c.execute("INSERT INTO prompts (day, number, counter, staff, business, asked_ms, deadline_ms, "
                              "level) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (p.day, p.number, p.counter, p.staff, p.business, p.asked_ms, p.deadline_ms, p.level))
                elif old != p:
                    c.execute("UPDATE prompts SET level = ?, deadline_ms = ? WHERE day = ? AND number = ?",
                              (p.level, p.deadline_ms, p.day, p.number))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ outbox

    def _post_pending(self):
        if self.outbox is None:
            return
        try:
            rows = self._conn.execute("SELECT day, number, ended_ms, body FROM prompts WHERE body IS NOT NULL AND "
                                      "posted = 0 ORDER BY ended_ms, day, number").fetchall()
        except sqlite3.Error as exc:
            self.post_error = RatingStoreError(self.path, "cannot read records to post: %s" % exc)
            return
        items, keys, done = [], [], []
        for day, number, t_ms, text in rows:
            items.append(("rating", json.loads(text), t_ms, None, BODY_VERSION))
            keys.append("rating:%s:%s" % (day, number))
            done.append((day, number))
        if items:
            try:
                self.outbox.append_many(items, keys=keys)
            except Exception as exc:     # kept and exposed, retried on the next action (as the queue does)
                self.post_error = exc
                return
            try:
                with self._conn:
                    self._conn.executemany("UPDATE prompts SET posted = 1 WHERE day = ? AND number = ?", done)
            except sqlite3.Error as exc:
                self.post_error = RatingStoreError(self.path, "cannot mark records posted: %s" % exc)
                return
        self.post_error = None

    def post_pending(self):
        """Post records not yet in the outbox. Returns ``post_error`` (None when all went)."""
        with self._lock:
            self._post_pending()
            return self.post_error

    def unposted(self):
        """Records ended but not yet in the outbox."""
        return self._conn.execute("SELECT count(*) FROM prompts WHERE body IS NOT NULL AND posted = 0").fetchone()[0]

    def records(self, day=None):
        """The ended prompts' bodies (version 2), oldest first; those of ``day`` only when given."""
        sql = "SELECT body FROM prompts WHERE body IS NOT NULL"
        rows = self._conn.execute(sql + (" AND day = ?" if day else "") + " ORDER BY ended_ms, day, number",
                                  (day,) if day else ()).fetchall()
        return [json.loads(r[0]) for r in rows]

    def close(self):
        self._close_quietly()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
