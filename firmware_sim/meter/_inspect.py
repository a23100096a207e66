# MicroPython-compatible: see STYLE.md
"""Reading the meter's state for tests and tools, outside the wire protocol.

Imported only when ``Meter.energy``, ``max_demand``, ``daily_freezes``,
``settlements`` or ``instant_freezes`` is used, so a meter board never
carries it.
"""

from ._civil import dt5_text
from ._ledger import QUANTITY_NAMES, record_demand, record_units

ENERGY_DI2 = {"combined_active": 0x00, "forward_active": 0x01, "reverse_active": 0x02,
              "combined_reactive_1": 0x03, "combined_reactive_2": 0x04, "reactive_q1": 0x05,
              "reactive_q2": 0x06, "reactive_q3": 0x07, "reactive_q4": 0x08,
              "forward_apparent": 0x09, "reverse_apparent": 0x0A}


def energy(ledger, quantity, tariff):
    """Register value in kWh (kvarh) as held, not truncated; see ``Meter.energy``."""
    e = ledger.energy
    di2 = ENERGY_DI2[quantity]
    if di2 == 0x00:
        mj = e[0][tariff] - e[1][tariff]
    elif di2 == 0x03:
        mj = e[2][tariff] + e[3][tariff]
    elif di2 == 0x04:
        mj = e[4][tariff] + e[5][tariff]
    else:
        mj = e[QUANTITY_NAMES.index(quantity)][tariff]
    return mj / 3600000000.0


def max_demand(ledger, reverse, tariff):
    """(kW, local time text or None) of the current period's maximum demand."""
    k = 1 if reverse else 0
    t = ledger.demand_time[k][tariff]
    return ledger.demand[k][tariff] / 10000.0, dt5_text(t) if t else None


def record_dict(rec):
    """A freeze or settlement record as a dict: time, energy blocks, demand blocks."""
    out = {"time": dt5_text(rec[0])}
    for name in ENERGY_DI2:
        di2 = ENERGY_DI2[name]
        out[name] = tuple([record_units(rec, di2, t) / 100.0 for t in range(5)])
    for k, name in ((0, "forward_demand"), (1, "reverse_demand")):
        block = []
        for t in range(5):
            v, minute = record_demand(rec, k, t)
            block.append((v / 10000.0, dt5_text(minute) if minute else None))
        out[name] = tuple(block)
    return out
