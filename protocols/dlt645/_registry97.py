# MicroPython-compatible: see STYLE.md
"""Data identifiers of DL/T 645-1997 (§14).

Two-byte DIs written ``DI1 DI0`` (9010). In the energy (9x), demand (Ax) and
demand-time (Bx) groups the second hex digit of DI1 selects the period (x0
current, x4 last month, x8 the month before) and its low bit active (even) or
reactive (odd); the high nibble of DI0 selects the quantity, the low nibble
the tariff (0 total, 1-4, F block). Names are shared with 2007 where the
meaning is the same. Tables are text rows as in _registry.py.
"""

from ._items import STD_1997, DataItem, element, keys, row, unit

_PERIOD_1997 = ("", "_prev1", "_prev2")    # DI1 bits 2-3: 0, 4, 8

# Energy/demand quantities: "0q" active, "1q" reactive, q = high nibble of DI0.
_QUANTITY_1997 = """
01 forward_active
02 reverse_active
11 forward_reactive
12 reverse_reactive
13 reactive_q1
14 reactive_q4
15 reactive_q2
16 reactive_q3
"""

# B6xx by the high nibble of DI0: name, unit, element, first and last phase.
# §5: 1997 has no sign rule; bit 7 is a sign only for power and power factor.
_INSTANT_1997 = """
1 voltage V N2 1 3
2 current A N2.2 1 3
3 active_power kW N3.4s 0 3
4 reactive_power kvar N2.2s 0 3
5 power_factor - N2.3s 0 3
"""
_PHASE_SUFFIX = ("total", "a", "b", "c")

_TABLE_1997 = """
B210 last_programming_time - M4
B211 last_demand_reset_time - M4
B212 programming_count - N2
B213 demand_reset_count - N2
C010 date - W4
C011 time - T3
C020 status_word - B1
C021 grid_status_word - B1
C030 active_constant imp/kWh N3
C031 reactive_constant imp/kvarh N3
C032 meter_number - G6
C033 user_number - G6
C034 device_code - G6
C117 reading_day - H2
"""


def describe_1997(di):
    """The ``DataItem`` of a 1997 DI (int), or None when unknown."""
    if di < 0 or di > 0xFFFF:
        return None
    hi = di >> 8
    lo = di & 0xFF
    q = lo >> 4
    t = lo & 0x0F
    if t > 4 and t != 0xF:
        t = -1
    tariff = "block" if t == 0xF else ("total" if t == 0 else "t%d" % t)
    repeat = 0 if t == 0xF else 1
    group = hi & 0xF3     # strip the period bits (x0 / x4 / x8)
    period = (hi & 0x0C) >> 2
    if t >= 0 and period < 3 and group in (0x90, 0x91, 0xA0, 0xA1, 0xB0, 0xB1):
        active = group & 0x01 == 0
        qname = row(_QUANTITY_1997, "%d%X" % (0 if active else 1, q))
        if qname is None:
            return None
        name = "%s_%s%s" % (qname[1], tariff, _PERIOD_1997[period])
        if group & 0xF0 == 0x90:
            return DataItem(di, STD_1997, name, "kWh" if active else "kvarh", element("N4.2"), repeat)
        if group & 0xF0 == 0xA0:
            return DataItem(di, STD_1997, "max_demand_" + name, "kW" if active else "kvar",
                            element("N3.4"), repeat)
        return DataItem(di, STD_1997, "max_demand_time_" + name, "", element("M4"), repeat)
    if hi == 0xB6:
        spec = row(_INSTANT_1997, "%X" % q)
        if spec is None:
            return None
        if t == 0xF:
            return DataItem(di, STD_1997, spec[1] + "_block", unit(spec[2]), element(spec[3]), 0)
        if t < int(spec[4]) or t > int(spec[5]):
            return None
        return DataItem(di, STD_1997, spec[1] + "_" + _PHASE_SUFFIX[t], unit(spec[2]), element(spec[3]), 1)
    entry = row(_TABLE_1997, "%04X" % di)
    if entry is None:
        return None
    return DataItem(di, STD_1997, entry[1], unit(entry[2]), element(entry[3]), 1)


def well_known_1997():
    """Yield the 1997 DIs that ``known_items`` names."""
    for hi in (0x90, 0x91, 0x94, 0x95, 0x98, 0x99, 0xA0, 0xA1, 0xA4, 0xA5, 0xA8, 0xA9,
               0xB0, 0xB1, 0xB4, 0xB5, 0xB8, 0xB9):
        for q in range(1, 7):
            for t in (0, 1, 2, 3, 4, 0xF):
                yield (hi << 8) | (q << 4) | t
    for q in keys(_INSTANT_1997):
        for t in (0, 1, 2, 3, 0xF):
            yield 0xB600 | (q << 4) | t
    for di in keys(_TABLE_1997):
        yield di
