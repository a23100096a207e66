"""The kiosk's queue: tickets by business type, counters, priority, and their records.

``QueueEngine`` holds the decisions (sans-I/O: actions take ``now_ms`` and
return the ticket and call record bodies to append to the outbox);
``QueueStore`` keeps it in a SQLite journal it is rebuilt from after a
restart. ``load_config`` reads the ``[queue]`` table; ``_kpi`` computes
the queue KPIs from records the same way the hall does; ``simulate_day``
runs a hall day in virtual time. docs/kiosk.md ("Queue") is the reference.
"""

from ._config import CHANNELS, CLASSES, POLICIES, REQUEUE, Business, Category, Counter, QueueConfig, load_config
from ._engine import ACTIONS, QueueEngine
from ._errors import ActionRefused, JournalError, KeyConflict, QueueConfigError, QueueError
from ._estimate import BANDS_MIN, Estimate, estimate_wait, naive_wait_s
from ._journal import QueueStore
from ._kpi import ServiceAct, Visit, counter_busy_s, limits_of, service_acts, summary, visits
from ._policy import call_key, is_eligible
from ._simulate import Arrival, CallTrace, SimResult, generate_arrivals, simulate_day
from ._values import (ACTIVE, CALLED, CLOSED, DONE, EXPIRED, FINAL, LEFT, NO_SHOW, OPEN, PAUSED, SERVING, WAITING,
                      CounterView, Out, Outcome, TicketView, local_day, local_minute)

__all__ = [
    "QueueEngine", "QueueStore", "QueueConfig", "load_config", "ACTIONS",
    "Business", "Category", "Counter", "CHANNELS", "CLASSES", "POLICIES", "REQUEUE",
    "QueueError", "QueueConfigError", "ActionRefused", "KeyConflict", "JournalError",
    "Estimate", "BANDS_MIN", "estimate_wait", "naive_wait_s", "call_key", "is_eligible",
    "Visit", "ServiceAct", "visits", "service_acts", "counter_busy_s", "summary", "limits_of",
    "Arrival", "CallTrace", "SimResult", "generate_arrivals", "simulate_day",
    "Out", "Outcome", "TicketView", "CounterView", "local_day", "local_minute",
    "WAITING", "CALLED", "SERVING", "DONE", "NO_SHOW", "LEFT", "EXPIRED", "ACTIVE", "FINAL", "OPEN", "PAUSED",
    "CLOSED",
]
