"""The concentrator (集中器): reads the meters of a transformer area.

The read path: a ``Line`` over a pyserial URL exchanges DL/T 645 frames with
DL/T 645 §16 timing; ``read`` gets one value (with retries and follow-up
frames); ``search`` finds every meter on a line by wildcard addresses;
``ModbusLine`` and ``read_modbus`` read Modbus RTU/TCP meters through their
register maps.

Around it: the meter ``Archive`` (docs/concentrator.md); ``LineSchedule``
and ``LineRunner``, one per line, with quarantine of dead meters
(docs/scheduling.md); the reading-cycle planner ``plan_due`` and the
completeness ``Ledger`` (docs/cycles.md); ``AnomalyMonitor`` and
``line_loss`` (docs/anomalies.md); ``ClockSyncPolicy`` for the meters'
clocks (docs/clock.md). The ``concentrator`` command wraps them for field
collectors.
"""

from ._errors import (AbnormalReply, BadReply, ChecksumFailure, ConcentratorError, LineError,
                      ReplyTimeout)
from ._line import DEFAULT_PACING_S, DEFAULT_TIMEOUT_S, Exchange, Line
from ._matching import Expectation
from ._reader import Reading, read
from ._search import SearchPlan, SearchResult
from ._searcher import search
from ._anomalies import AnomalyMonitor, MeterFacts, ReadResult
from ._anomalies_common import AnalysisConfigError, AnalysisError
from ._anomalies_rules import AnomalyConfig
from ._clocksync import ClockSyncError, ClockSyncPolicy, SyncSettings, broadcast_time_sync, read_meter_clock
from ._cycles import CyclePlan, plan_due
from ._cycles_config import CycleConfig, CycleConfigError
from ._ledger import Ledger, LedgerError, render_ledger
from ._lineloss import LineLossConfig, MeterEnergy, line_loss
from ._modbus import ModbusExceptionReply, ModbusLine, ModbusReading, read_modbus, read_modbus_items
from ._runner import DLT645Driver, LineRunner
from ._schedule import LineSchedule
from ._schedule_events import ScheduleError, ScheduleSettings
from .archive import Archive, ArchiveError, ArchiveFileError, ArchiveMeter, ArchiveStoreError

__all__ = [
    "Archive", "ArchiveError", "ArchiveFileError", "ArchiveMeter", "ArchiveStoreError",
    "AnomalyMonitor", "AnomalyConfig", "MeterFacts", "ReadResult", "AnalysisError", "AnalysisConfigError",
    "ClockSyncError", "ClockSyncPolicy", "SyncSettings", "broadcast_time_sync", "read_meter_clock",
    "CycleConfig", "CycleConfigError", "CyclePlan", "plan_due", "Ledger", "LedgerError", "render_ledger",
    "LineLossConfig", "MeterEnergy", "line_loss",
    "ModbusExceptionReply", "ModbusLine", "ModbusReading", "read_modbus", "read_modbus_items",
    "DLT645Driver", "LineRunner", "LineSchedule", "ScheduleError", "ScheduleSettings",
    "AbnormalReply", "BadReply", "ChecksumFailure", "ConcentratorError", "DEFAULT_PACING_S",
    "DEFAULT_TIMEOUT_S", "Exchange", "Expectation", "Line", "LineError", "Reading", "ReplyTimeout",
    "SearchPlan", "SearchResult", "read", "search",
]
