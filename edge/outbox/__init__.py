"""The outbox: every record signed and committed to SQLite before it is published,
deleted only when the hall's ack covers it, within a storage bound.

``OutboxCore`` holds the decisions (sans-I/O); ``Outbox`` is the SQLite adapter.
See docs/edge.md for the guarantees and their limits.
"""

from .._errors import OutboxError, OutboxFull, StoreMismatch
from ._core import OutboxCore
from ._store import Outbox, connect_sqlite3, system_clock
from ._values import (BILLING, DROPPABLE, KEPT, STORAGE_CLASSES, AckAccepted, Admission, AlarmCleared,
                      AlarmRaised, Depth, Figures, Gap, Ignored, Limits, Pending, RecordsShed, ResendAccepted)

__all__ = [
    "Outbox", "Pending", "Gap", "connect_sqlite3", "system_clock",
    "OutboxCore", "Limits", "BILLING", "KEPT", "DROPPABLE", "STORAGE_CLASSES", "Depth", "Admission", "Figures",
    "AckAccepted", "ResendAccepted", "Ignored", "AlarmRaised", "AlarmCleared", "RecordsShed",
    "OutboxError", "OutboxFull", "StoreMismatch",
]
