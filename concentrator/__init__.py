"""The concentrator (集中器): reads the meters of a transformer area.

Today: the first read path. A ``Line`` over a pyserial URL exchanges DL/T 645
frames with DL/T 645 §16 timing; ``read`` gets one value (with retries and
follow-up frames); ``search`` finds every meter on a line by wildcard
addresses; the ``concentrator`` command wraps them for field collectors.
Later: the meter archive, one scheduler per line, reading cycles, anomalies
and line loss.
"""

from ._errors import (AbnormalReply, BadReply, ChecksumFailure, ConcentratorError, LineError,
                      ReplyTimeout)
from ._line import DEFAULT_PACING_S, DEFAULT_TIMEOUT_S, Exchange, Line
from ._matching import Expectation
from ._reader import Reading, read
from ._search import SearchPlan, SearchResult
from ._searcher import search
from .archive import Archive, ArchiveError, ArchiveFileError, ArchiveMeter, ArchiveStoreError

__all__ = [
    "Archive", "ArchiveError", "ArchiveFileError", "ArchiveMeter", "ArchiveStoreError",
    "AbnormalReply", "BadReply", "ChecksumFailure", "ConcentratorError", "DEFAULT_PACING_S",
    "DEFAULT_TIMEOUT_S", "Exchange", "Expectation", "Line", "LineError", "Reading", "ReplyTimeout",
    "SearchPlan", "SearchResult", "read", "search",
]
