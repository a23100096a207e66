"""The guidance desk's ledger: why each green-channel or VIP ticket was given (Q-10, Q-11, Q-13).

The desk issues priority tickets only after a guide has checked who
qualifies; the queue's ``ticket`` record says the class and the channel
("desk"), and this ledger (the green-channel ledger of Q-11) keeps the
reason, a note and the staff number, one row per ticket, in SQLite (WAL,
``synchronous=FULL``). The reasons are fixed codes per class, from the
groups Q-10 names; "other" needs a note.
"""

import sqlite3
import threading

from ._errors import BadRequest, WebError

# Class -> reason codes a guide may give (Q-10 groups; Q-12 early supply; Q-13 VIP and large customers).
REASONS = {
    "green": ("disabled", "lone_elderly", "ill", "pregnant", "left_behind_child", "empty_nest", "laid_off",
              "emergency_supply", "key_project", "early_supply", "other"),
    "vip": ("vip_customer", "large_customer", "other"),
}
MAX_NOTE = 200

_TABLE = """CREATE TABLE IF NOT EXISTS desk_tickets (
    day TEXT NOT NULL,
    number TEXT NOT NULL,
    priority TEXT NOT NULL,
    business TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    staff TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    PRIMARY KEY (day, number)
)"""


class LedgerError(WebError):
    """The desk ledger cannot be opened or written (attribute ``path``)."""

    def __init__(self, path, message):
        super().__init__("desk ledger %s: %s" % (path, message))
        self.path = path


def check_reason(priority, reason, note):
    """Check a desk request's reason before anything is issued.

    Returns:
        The note, stripped, or None.

    Raises:
        BadRequest: 400 naming ``priority``, ``reason`` or ``note``.
    """
    if priority not in REASONS:
        raise BadRequest(400, "priority", "unknown", "the desk issues %s tickets, not %r"
                         % (" and ".join(REASONS), priority))
    if reason not in REASONS[priority]:
        raise BadRequest(400, "reason", "unknown", "reason %r is not one for %s tickets (%s)"
                         % (reason, priority, ", ".join(REASONS[priority])))
    note = (note or "").strip() or None
    if note is not None and (len(note) > MAX_NOTE or not note.isprintable()):
        raise BadRequest(400, "note", "value", "a note is 1-%d printable characters" % MAX_NOTE)
    if reason == "other" and note is None:
        raise BadRequest(400, "note", "missing", "reason \"other\" needs a note saying why")
    return note


class DeskLedger:
    """The ledger file.

    Args:
        path: the SQLite file (created if missing).

    Raises:
        LedgerError: the file cannot be opened.
    """

    def __init__(self, path):
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._conn.execute("PRAGMA journal_mode = wal")
            self._conn.execute("PRAGMA synchronous = 2")
            self._conn.execute(_TABLE)
        except sqlite3.Error as exc:
            raise LedgerError(self.path, "cannot open: %s" % exc) from exc

    def add(self, day, number, priority, business, reason, note, staff, t_ms):
        """Keep one issued ticket's reason (a repeat of the same ticket is ignored).

        Raises:
            LedgerError: the row cannot be written.
        """
        with self._lock:
            try:
                with self._conn:
                    self._conn.execute("INSERT OR IGNORE INTO desk_tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                       (day, number, priority, business, reason, note, staff, t_ms))
            except sqlite3.Error as exc:
                raise LedgerError(self.path, "cannot write ticket %s: %s" % (number, exc)) from exc

    def rows(self, day=None):
        """The ledger rows as dicts, oldest first (of ``day`` only when given)."""
        with self._lock:
            sql = "SELECT day, number, priority, business, reason, note, staff, t_ms FROM desk_tickets"
            cur = self._conn.execute(sql + (" WHERE day = ?" if day else "") + " ORDER BY t_ms",
                                     (day,) if day else ())
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def close(self):
        with self._lock:
            self._conn.close()
