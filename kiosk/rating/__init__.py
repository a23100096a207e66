"""The satisfaction rating at the counters (R-01, R-02, R-04, K-01).

After a counter finishes a ticket (the queue's ``finish``), the counter's
pad asks the customer for one of five levels; levels 1 and 2 need a reason.
``RatingDesk`` decides (sans-I/O); ``RatingStore`` keeps it in SQLite so a
restart loses no prompt and allows no second rating; ``PadLink`` talks to a
pad over a pyserial URL (``_wire`` is the line protocol); ``satisfaction``
computes the KPI. Every prompt ends in one ``rating`` record, body version 2:
rated, timeout or superseded. docs/kiosk.md ("Rating") is the reference.
"""

from ._config import DEFAULT_REASONS, LEVELS, RatingConfig, load_rating_config
from ._desk import BODY_VERSION, Out, Prompt, RatingDesk, as_v1
from ._errors import PadError, RatingConfigError, RatingError, RatingRefused, RatingStoreError
from ._kpi import SATISFIED_FROM, TARGET_PCT, group_by, satisfaction
from ._pad import PadLink
from ._store import RatingStore
from ._wire import MAX_LINE, BadLine, KeyPress, PadParser, ReasonPick, ReasonText, ask_line

__all__ = [
    "RatingConfig", "load_rating_config", "LEVELS", "DEFAULT_REASONS",
    "RatingDesk", "RatingStore", "PadLink", "Out", "Prompt", "BODY_VERSION", "as_v1",
    "satisfaction", "group_by", "TARGET_PCT", "SATISFIED_FROM",
    "PadParser", "KeyPress", "ReasonPick", "ReasonText", "BadLine", "ask_line", "MAX_LINE",
    "RatingError", "RatingConfigError", "RatingRefused", "RatingStoreError", "PadError",
]
