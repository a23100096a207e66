"""The simulated RS-485 bus: many meters on one half-duplex line, on a pty or TCP port.

Public API:

* ``BusServer(meters, baud=2400, transport="tcp", ...)``: serve a line in a
  thread; ``url`` is what a master opens with pyserial; faults at run time
  with ``set_fault`` / ``clear_fault``; counters in ``stats``.
* ``Bus``: the sans-I/O core (wire timing, collisions, faults), for tests
  and other adapters.
* ``load_bus_config(path)``: read a meters TOML file; ``build_meters``.
* ``FAULT_KINDS``, ``STAT_KEYS``; errors ``BusError``, ``BusConfigError``,
  ``FaultError``, ``TransportError``.

The model is in ``_wire.py`` (characters and collisions) and ``_line.py``
(meters, replies and faults).
"""

from ._config import BUS_DEFAULTS, build_meters, load_bus_config
from ._errors import BusConfigError, BusError, FaultError, TransportError
from ._faults import FAULT_KINDS
from ._line import STAT_KEYS, Bus
from ._server import BusServer

__all__ = [
    "BUS_DEFAULTS", "Bus", "BusConfigError", "BusError", "BusServer", "FAULT_KINDS", "FaultError",
    "STAT_KEYS", "TransportError", "build_meters", "load_bus_config",
]
