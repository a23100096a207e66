"""The engine's values: ticket and counter states, snapshots, outcomes, and the hall's local time.

Plain data shared by the engine, the journal, the KPIs and the simulation.
"""

import collections
import datetime

WAITING, CALLED, SERVING = "waiting", "called", "serving"
DONE, NO_SHOW, LEFT, EXPIRED = "done", "no-show", "left", "expired"
ACTIVE = (CALLED, SERVING)
FINAL = (DONE, NO_SHOW, LEFT, EXPIRED)
OPEN, PAUSED, CLOSED = "open", "paused", "closed"

Out = collections.namedtuple("Out", "kind body t_ms")
Out.__doc__ = "A record to append: its kind (\"ticket\", \"call\"), body and time (UTC ms)."

Outcome = collections.namedtuple("Outcome", "ticket records")
Outcome.__doc__ = "What an action did: the ``TicketView`` it concerned (or None) and a tuple of ``Out``."

TicketView = collections.namedtuple("TicketView", "number day business category priority status counter "
                                    "issued_ms arrival_ms recalls requeues for_counter channel more seq")
TicketView.__doc__ = "A read-only snapshot of one ticket."

CounterView = collections.namedtuple("CounterView", "id status ticket")
CounterView.__doc__ = "A counter's state (open, paused, closed) and the number it holds, or None."


def local_day(tz, now_ms):
    """The hall's business day (``YYYY-MM-DD`` in zone ``tz``) of a UTC ms time."""
    return datetime.datetime.fromtimestamp(now_ms / 1000, tz).strftime("%Y-%m-%d")


def local_minute(tz, now_ms):
    """Minutes after local midnight of a UTC ms time."""
    t = datetime.datetime.fromtimestamp(now_ms / 1000, tz)
    return t.hour * 60 + t.minute
