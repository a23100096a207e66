"""Register maps of the supported Modbus energy meters, sans I/O.

Each supported meter model is pure data (``MeterModel``): the function code
its values are read with (03 holding or 04 input registers), the word order
of 32-bit values, and its items (``RegisterItem``: register address, type,
scaling, unit). The concentrator's Modbus driver and the simulated Modbus
meter in ``firmware_sim`` read the same tables, so they cannot disagree.
No pymodbus here: callers move the registers, this package gives them
meaning.

Public API:

* ``model_names() -> list[str]``; ``get_model(name) -> MeterModel``;
* ``decode(model, item, registers) -> (value, unit)``;
  ``encode(model, item, value) -> list[int]`` (the simulator's side);
* ``plan_reads(model, items=None, max_registers=None, max_gap=0) -> list[ReadRequest]``
  and ``decode_block(model, request, registers) -> {name: (value, unit)}``;
* ``MeterModel``, ``RegisterItem``, ``ReadRequest``, ``FUNCTIONS``,
  ``MAX_READ_REGISTERS``;
* ``ModbusMapError`` and its subclasses.

Item names are the DL/T 645 registry's where the meaning is the same
(``forward_active_total`` kWh, ``voltage_a`` V, ``active_power_total`` kW,
``power_factor_total``, ``frequency`` Hz, ...). docs/modbus.md has the maps.
"""

from ._codec import decode, encode, get_model, model_names
from ._errors import (ModbusMapError, PlanError, RegisterError, UnknownItemError, UnknownModelError,
                      ValueDecodeError, ValueEncodeError)
from ._model import FUNCTIONS, MAX_READ_REGISTERS, MeterModel, RegisterItem
from ._plan import ReadRequest, decode_block, plan_reads

__all__ = [
    "FUNCTIONS", "MAX_READ_REGISTERS", "MeterModel", "ModbusMapError", "PlanError", "ReadRequest",
    "RegisterError", "RegisterItem", "UnknownItemError", "UnknownModelError", "ValueDecodeError",
    "ValueEncodeError", "decode", "decode_block", "encode", "get_model", "model_names", "plan_reads",
]
