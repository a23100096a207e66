# MicroPython-compatible: see STYLE.md
"""Data-identifier registry for DL/T 645-2007 (§13) and -1997 (§14).

``describe(di, std)`` returns a ``DataItem`` or ``None`` for an unknown DI.
Items are derived from the DI's structure by rules (DI3 class, DI2 quantity,
DI1 tariff or phase, DI0 period or history index) instead of a flat table, so
that every tariff 1-63, every settlement period 1-12 and every daily freeze
1-62 is known without thousands of table rows in a meter's RAM.

Names are stable, lower-case and shared by both editions where the meaning is
the same: ``forward_active_total`` is 00010000 in 2007 and 9010 in 1997.
Name grammar (2007): ``{quantity}_{total|tN|block}[_prevN|_history]``,
``max_demand_{...}``, ``{phase or total}`` suffixes ``_a _b _c _total _block``
for instantaneous values, ``{kind}_freeze_{item}_{N}`` for frozen data.
The 1997 rules live in _registry97.py, names and text forms in _names.py.
"""

from ._items import STD_1997, STD_2007, DataItem, element, keys, row, unit
from ._registry97 import describe_1997
from ._wire import CACHE_MAX

# Tables: one row per line, fields split by spaces, "-" for no unit; the
# element specs are explained in _items.py.

# DI2 of energy (DI3 00) and maximum demand (DI3 01): name, energy unit,
# demand unit, "s" when signed (§13.1, §13.2).
_QUANTITY_2007 = """
00 combined_active kWh kW s
01 forward_active kWh kW -
02 reverse_active kWh kW -
03 combined_reactive_1 kvarh kvar s
04 combined_reactive_2 kvarh kvar s
05 reactive_q1 kvarh kvar -
06 reactive_q2 kvarh kvar -
07 reactive_q3 kvarh kvar -
08 reactive_q4 kvarh kvar -
09 forward_apparent kVAh kVA -
0A reverse_apparent kVAh kVA -
"""
# Per-phase quantities: DI2 = base + (quantity - 1) for quantities 01..0A.
_PHASE_BASE_2007 = (0x15, 0x29, 0x3D)
_PHASE_LETTER = "abc"

# DI3 02, DI2: name, unit, element, first and last DI1 (phase) (§13.3).
_INSTANT_2007 = """
01 voltage V N2.1 1 3
02 current A N3.3s 1 3
03 active_power kW N3.4s 0 3
04 reactive_power kvar N3.4s 0 3
05 apparent_power kVA N3.4s 0 3
06 power_factor - N2.3s 0 3
07 phase_angle deg N2.1 1 3
"""
PHASE_SUFFIX = ("total", "a", "b", "c")

# 028000xx by DI0 (§13.3).
_VARIABLES_2007 = """
01 neutral_current A N3.3s
02 frequency Hz N2.2
03 avg_active_power_1min kW N3.4s
04 active_demand kW N3.4s
05 reactive_demand kvar N3.4s
06 apparent_demand kVA N3.4s
07 temperature degC N2.1s
08 clock_battery_voltage V N2.2
09 reading_battery_voltage V N2.2
0A battery_time min N4
"""

# Parameters (§13.4) that are not families.
_PARAMS_2007 = """
04000101 date - W4
04000102 time - T3
04000103 demand_period min N1
04000104 sliding_time min N1
04000201 year_zones - N1
04000202 daily_tables - N1
04000203 daily_segments - N1
04000204 tariff_count - N1
04000401 comm_address - G6
04000402 meter_number - G6
04000403 asset_number - A32
04000404 rated_voltage - A6
04000405 rated_current - A6
04000406 max_current - A6
04000409 active_constant imp/kWh N3
0400040A reactive_constant imp/kvarh N3
04000701 rate_word_ir_modulated bit/s R1
04000702 rate_word_ir_contact bit/s R1
04000703 rate_word_port1 bit/s R1
04000704 rate_word_port2 bit/s R1
04000705 rate_word_port3 bit/s R1
"""

# Events (§13.5): base DI (DI0 00 is the count, NNNNNN), name, record element
# of DI0 01..0A.
_EVENTS_2007 = """
03110000 power_down E6+E6
03300000 programming E6+G4+X40
03300100 meter_clear E6+G4+X96
03300200 demand_reset E6+G4+X192
03300300 event_clear E6+G4+X4
03300400 time_setting G4+E6+E6
"""
MAX_EVENT_HISTORY = 10

# Frozen data (§13.5): DI2 kind (index in this text), DI1 item.
_FREEZE_KINDS_2007 = "timed instant zone_switch table_switch hourly price_switch daily step_switch"
FREEZE_KIND_COUNT = 8
_FREEZE_ITEMS_2007 = """
00 time - D5
01 forward_active kWh N4.2
02 reverse_active kWh N4.2
03 combined_reactive_1 kvarh N4.2s
04 combined_reactive_2 kvarh N4.2s
05 reactive_q1 kvarh N4.2
06 reactive_q2 kvarh N4.2
07 reactive_q3 kvarh N4.2
08 reactive_q4 kvarh N4.2
09 forward_demand kW N3.4+D5
0A reverse_demand kW N3.4+D5
"""
MAX_FREEZE_HISTORY = 62     # DI0 01..3E (§13.5)
MAX_SETTLEMENT_HISTORY = 12  # DI0 01..0C (§13.1)


def _tariff_name(d1):
    if d1 == 0x00:
        return "total"
    if d1 == 0xFF:
        return "block"
    return "t%d" % d1


def _period_name(d0):
    if d0 == 0x00:
        return ""
    if d0 == 0xFF:
        return "_history"
    return "_prev%d" % d0


def _energy_like_2007(di, d2, d1, d0, demand):
    q = row(_QUANTITY_2007, "%02X" % d2)
    phase = ""
    if q is None:
        for i in range(3):
            base = _PHASE_BASE_2007[i]
            if base <= d2 < base + 10:
                q = row(_QUANTITY_2007, "%02X" % (d2 - base + 1))
                phase = "phase_%s_" % _PHASE_LETTER[i]
                break
        if q is None or d1 != 0x00:
            return None
    if demand and d2 == 0x00:
        return None     # there is no combined-active maximum demand
    if not (d1 <= 0x3F or d1 == 0xFF) or not (d0 <= MAX_SETTLEMENT_HISTORY or d0 == 0xFF):
        return None
    name = phase + q[1] + ("" if phase else "_" + _tariff_name(d1)) + _period_name(d0)
    repeat = 0 if (d1 == 0xFF or d0 == 0xFF) else 1
    sign = "s" if q[4] == "s" else ""
    if demand:
        return DataItem(di, STD_2007, "max_demand_" + name, q[3], element("N3.4%s+D5" % sign), repeat)
    return DataItem(di, STD_2007, name, q[2], element("N4.2" + sign), repeat)


def describe_2007(di):
    d3 = (di >> 24) & 0xFF
    d2 = (di >> 16) & 0xFF
    d1 = (di >> 8) & 0xFF
    d0 = di & 0xFF
    if d3 == 0x00:
        return _energy_like_2007(di, d2, d1, d0, False)
    if d3 == 0x01:
        return _energy_like_2007(di, d2, d1, d0, True)
    if d3 == 0x02:
        if d2 == 0x80 and d1 == 0x00:
            v = row(_VARIABLES_2007, "%02X" % d0)
            if v is None:
                return None
            return DataItem(di, STD_2007, v[1], unit(v[2]), element(v[3]), 1)
        spec = row(_INSTANT_2007, "%02X" % d2)
        if spec is None or d0 != 0x00:
            return None
        if d1 == 0xFF:
            return DataItem(di, STD_2007, spec[1] + "_block", unit(spec[2]), element(spec[3]), 0)
        if d1 < int(spec[4]) or d1 > int(spec[5]):
            return None
        return DataItem(di, STD_2007, spec[1] + "_" + PHASE_SUFFIX[d1], unit(spec[2]), element(spec[3]), 1)
    if d3 == 0x03:
        rec = row(_EVENTS_2007, "%08X" % (di & 0xFFFFFF00))
        if rec is None or d0 > MAX_EVENT_HISTORY:
            return None
        if d0 == 0:
            return DataItem(di, STD_2007, rec[1] + "_count", "", element("N3"), 1)
        return DataItem(di, STD_2007, "%s_%d" % (rec[1], d0), "", element(rec[2]), 1)
    if d3 == 0x04:
        p = row(_PARAMS_2007, "%08X" % di)
        if p is not None:
            return DataItem(di, STD_2007, p[1], unit(p[2]), element(p[3]), 1)
        if 0x04000501 <= di <= 0x04000507:
            return DataItem(di, STD_2007, "status_word_%d" % (d0,), "", element("B2"), 1)
        if 0x04000B01 <= di <= 0x04000B03:
            return DataItem(di, STD_2007, "settlement_day_%d" % (d0,), "", element("H2"), 1)
        if 0x04000C01 <= di <= 0x04000C0A:
            return DataItem(di, STD_2007, "password_level_%d" % (d0 - 1,), "", element("P4"), 1)
        return None
    if d3 == 0x05:
        if d2 >= FREEZE_KIND_COUNT or d0 < 1 or d0 > MAX_FREEZE_HISTORY:
            return None
        item = row(_FREEZE_ITEMS_2007, "%02X" % d1)
        if item is None:
            return None
        name = "%s_freeze_%s_%d" % (_FREEZE_KINDS_2007.split()[d2], item[1], d0)
        return DataItem(di, STD_2007, name, unit(item[2]), element(item[3]), 1 if d1 == 0x00 else 0)
    return None


_described = {}


def describe(di, std=STD_2007):
    """Return the ``DataItem`` of a DI, or ``None`` when the DI is unknown.

    Args:
        di: the identifier as an int.
        std: "2007" or "1997".
    """
    key = ~di if std == STD_1997 else di     # an int key: no tuple per lookup
    item = _described.get(key)
    if item is None and key not in _described:
        item = describe_1997(di) if std == STD_1997 else describe_2007(di)
        if len(_described) >= CACHE_MAX:
            _described.clear()
        _described[key] = item
    return item


def well_known_2007():
    """Yield the 2007 DIs that ``known_items`` names (tariffs 1-4 of 63)."""
    for d2 in range(0x00, 0x0B):
        for d1 in (0x00, 0x01, 0x02, 0x03, 0x04, 0xFF):
            for d0 in list(range(0, 13)) + [0xFF]:
                yield (d2 << 16) | (d1 << 8) | d0
                yield 0x01000000 | (d2 << 16) | (d1 << 8) | d0
    for base in _PHASE_BASE_2007:
        for d2 in range(base, base + 10):
            for d0 in list(range(0, 13)) + [0xFF]:
                yield (d2 << 16) | d0
                yield 0x01000000 | (d2 << 16) | d0
    for d2 in keys(_INSTANT_2007):
        for d1 in (0, 1, 2, 3, 0xFF):
            yield 0x02000000 | (d2 << 16) | (d1 << 8)
    for d0 in keys(_VARIABLES_2007):
        yield 0x02800000 | d0
    for base in keys(_EVENTS_2007):
        for d0 in range(0, MAX_EVENT_HISTORY + 1):
            yield base | d0
    for di in keys(_PARAMS_2007):
        yield di
    for di in list(range(0x04000501, 0x04000508)) + list(range(0x04000B01, 0x04000B04)):
        yield di
    for di in range(0x04000C01, 0x04000C0B):
        yield di
    for d2 in range(FREEZE_KIND_COUNT):
        for d1 in keys(_FREEZE_ITEMS_2007):
            for d0 in range(1, MAX_FREEZE_HISTORY + 1):
                yield 0x05000000 | (d2 << 16) | (d1 << 8) | d0
