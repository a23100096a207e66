"""Simulated Modbus energy meters (CHINT DTSU666, DDSU666, ...) on a real pymodbus server.

Public API:

* ``ModbusMeterServer(meters, transport="tcp"|"rtu-pty", ...)``: several
  meters (unit ids) behind one Modbus TCP port or one RTU line on a pty
  pair; ``url`` is what a master opens (``tcp://127.0.0.1:PORT`` or a pty
  path), ``state(unit)`` what its registers hold, ``set_fault`` /
  ``clear_fault`` inject ``absent``, ``exception``, ``slow`` and ``nan``
  faults, ``advance`` and ``time_scale`` drive the clock.
* ``MeterSet`` and ``SimMeter``: the sans-I/O core (load profile, energy,
  registers, faults), for tests and other adapters.
* ``load_modbus_config(path)``, ``check_meter``; ``FAULT_KINDS``,
  ``EXCEPTION_CODES``; errors ``ModbusSimError``, ``ModbusSimConfigError``,
  ``ModbusFaultError``, ``ModbusTransportError``.

Register maps come from ``protocols.modbus_maps``; nothing else of the
project is imported.
"""

from ._config import RESIDENTIAL, SOLAR, SERVER_DEFAULTS, TRANSPORTS, check_meter, load_modbus_config
from ._errors import ModbusFaultError, ModbusSimConfigError, ModbusSimError, ModbusTransportError
from ._line import EXCEPTION_CODES, FAULT_KINDS, STAT_KEYS, MeterSet, Outcome
from ._meter import SimMeter
from ._server import ModbusMeterServer

__all__ = [
    "EXCEPTION_CODES", "FAULT_KINDS", "MeterSet", "ModbusFaultError", "ModbusMeterServer", "ModbusSimConfigError",
    "ModbusSimError", "ModbusTransportError", "Outcome", "RESIDENTIAL", "SERVER_DEFAULTS", "SOLAR", "STAT_KEYS",
    "SimMeter", "TRANSPORTS", "check_meter", "load_modbus_config",
]
