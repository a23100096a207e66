"""A simulated banknote acceptor: a device object the kiosk drives, with an event stream.

Not an HTTP service: a real acceptor hangs off a serial or USB line and
reports events (ID-003, ccTalk and similar protocols all do). The kiosk
``enable``\\ s it for an amount, the customer ``insert``\\ s notes, and the
kiosk reads events with ``next_event(timeout_s)``: a note stacked, a note
returned, a jam, a full cassette. Faults are injected from Python
(``jam_next``, ``set_full``) or happen by themselves (the cassette fills).

Invariants:

* A note is counted (``NoteStacked``) only once it is in the cassette; a
  rejected or returned note never is. The kiosk's cash total is the sum of
  ``NoteStacked`` events, so what it records is what the box holds (P-03, P-08).
* While disabled, jammed or full, every note is returned.
* Values are integer fen; only the denominations configured are accepted.
"""

import queue
import threading

# Notes of the fifth series of the renminbi, in fen. Coins are not taken.
RMB_NOTES_FEN = (100, 500, 1000, 2000, 5000, 10000)


class CashEvent:
    """Base of the acceptor's events; ``total_fen`` is the session's stacked total after it."""

    __slots__ = ("value_fen", "total_fen", "reason")

    def __init__(self, value_fen=0, total_fen=0, reason=None):
        self.value_fen = value_fen
        self.total_fen = total_fen
        self.reason = reason

    def __repr__(self):
        return "%s(value_fen=%d, total_fen=%d%s)" % (type(self).__name__, self.value_fen, self.total_fen,
                                                     ", reason=%r" % self.reason if self.reason else "")

    def __eq__(self, other):
        return (type(self) is type(other) and self.value_fen == other.value_fen and
                self.total_fen == other.total_fen and self.reason == other.reason)


class NoteStacked(CashEvent):
    """A note was accepted and is in the cassette."""


class NoteReturned(CashEvent):
    """A note was given back to the customer; ``reason`` says why."""


class Jammed(CashEvent):
    """A note stuck in the path; the acceptor returns everything until ``clear_jam``."""


class JamCleared(CashEvent):
    """Staff cleared a jam."""


class CassetteFull(CashEvent):
    """The cassette holds ``capacity`` notes; nothing more is accepted until it is emptied."""


class CassetteEmptied(CashEvent):
    """Staff emptied the cassette (P-08); ``value_fen`` is what it held."""


class CashAcceptor:
    """A simulated note acceptor with a stacker cassette.

    Args:
        notes_fen: denominations accepted, in fen.
        capacity: notes the cassette holds.

    Raises:
        ValueError: bad denominations or capacity.
    """

    def __init__(self, notes_fen=RMB_NOTES_FEN, capacity=500):
        if not notes_fen or any(type(n) is not int or n <= 0 for n in notes_fen):
            raise ValueError("notes_fen must be positive integers, got %r" % (notes_fen,))
        if type(capacity) is not int or capacity < 1:
            raise ValueError("capacity must be a positive integer, got %r" % (capacity,))
        self.notes_fen = tuple(sorted(notes_fen))
        self.capacity = capacity
        self._lock = threading.Lock()
        self._events = queue.Queue()
        self._enabled = False
        self._limit_fen = None
        self._session_fen = 0
        self._jam_after = None       # jam on the n-th note from now (1 = next)
        self._jammed = False
        self.cassette = []           # values of the notes in the cassette

    # ---- the kiosk's side --------------------------------------------------------------

    def enable(self, limit_fen=None):
        """Start taking notes for one payment; a note that would pass ``limit_fen`` is returned.

        Returns:
            None. The session total starts at 0.
        """
        with self._lock:
            self._enabled = True
            self._limit_fen = limit_fen
            self._session_fen = 0

    def disable(self):
        """Stop taking notes. Returns the session's stacked total in fen."""
        with self._lock:
            self._enabled = False
            return self._session_fen

    def next_event(self, timeout_s=None):
        """The next event, or None if none came within ``timeout_s`` (None waits for ever)."""
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def status(self):
        """``{"enabled", "jammed", "full", "notes", "cassette_fen", "session_fen"}``."""
        with self._lock:
            return {"enabled": self._enabled, "jammed": self._jammed, "full": len(self.cassette) >= self.capacity,
                    "notes": len(self.cassette), "cassette_fen": sum(self.cassette), "session_fen": self._session_fen}

    # ---- the customer's and staff's side -----------------------------------------------

    def insert(self, value_fen):
        """The customer feeds a note. Returns the event it caused (also queued for the kiosk)."""
        with self._lock:
            if self._jammed:
                return self._emit(NoteReturned(value_fen, self._session_fen, "jammed"))
            if not self._enabled:
                return self._emit(NoteReturned(value_fen, self._session_fen, "disabled"))
            if value_fen not in self.notes_fen:
                return self._emit(NoteReturned(value_fen, self._session_fen, "not-accepted"))
            if len(self.cassette) >= self.capacity:
                return self._emit(NoteReturned(value_fen, self._session_fen, "cassette-full"))
            if self._limit_fen is not None and self._session_fen + value_fen > self._limit_fen:
                return self._emit(NoteReturned(value_fen, self._session_fen, "over-limit"))
            if self._jam_after is not None:
                self._jam_after -= 1
                if self._jam_after == 0:
                    # The note is stuck in the path: neither stacked nor returned.
                    self._jam_after = None
                    self._jammed = True
                    return self._emit(Jammed(value_fen, self._session_fen, "note stuck in the path"))
            self.cassette.append(value_fen)
            self._session_fen += value_fen
            event = self._emit(NoteStacked(value_fen, self._session_fen))
            if len(self.cassette) >= self.capacity:
                self._emit(CassetteFull(0, self._session_fen))
            return event

    def jam_next(self, n=1):
        """Fault: the n-th note from now jams."""
        with self._lock:
            self._jam_after = n

    def clear_jam(self, stacked=False):
        """Staff clear a jam. ``stacked``: the stuck note ended in the cassette (it was not counted;
        staff count it by hand). Returns the JamCleared event."""
        with self._lock:
            self._jammed = False
            return self._emit(JamCleared(0, self._session_fen, "stuck note stacked" if stacked else None))

    def set_full(self):
        """Fault: the cassette reports full now (as if it held ``capacity`` notes)."""
        with self._lock:
            self.capacity = len(self.cassette)
            return self._emit(CassetteFull(0, self._session_fen))

    def empty_cassette(self, capacity=None):
        """Staff empty the cassette (P-08). Returns the CassetteEmptied event with the value taken out."""
        with self._lock:
            taken = sum(self.cassette)
            self.cassette = []
            if capacity is not None:
                self.capacity = capacity
            return self._emit(CassetteEmptied(taken, self._session_fen, "%d fen taken out" % taken))

    def _emit(self, event):
        self._events.put(event)
        return event
