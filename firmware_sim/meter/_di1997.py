# MicroPython-compatible: see STYLE.md
"""Values of DL/T 645-1997 data identifiers (§14); block rules in ``_reads``.

``read_1997(meter, di)`` returns the plain value bytes, or None when the
meter has no such data (the caller answers C1/02). The x4 / x8 periods are
the last and the previous settlement; reactive demand is not kept.
"""

from protocols.dlt645 import describe, encode_value

from ._civil import date_text, mdhm_text, time_text
from ._reads import NO, demand_block, energy_block, instant, phase_value, select, status_word

_STD_1997 = "1997"
_INSTANT_1997 = (None, "voltage", "current", "active_power", "reactive_power", "power_factor")
# 1997 reactive quantity (DI low byte high nibble) -> 2007 DI2 code
_REACTIVE_1997 = {1: 0x03, 2: 0x04, 3: 0x05, 4: 0x08, 5: 0x06, 6: 0x07}


def _table_1997(m, di):
    if di == 0xB210:
        return mdhm_text(m.last_programming_min)
    if di == 0xB211:
        return mdhm_text(m.last_demand_reset_min)
    if di == 0xB212:
        return m.event_counts["programming"] % 10000
    if di == 0xB213:
        return m.event_counts["demand_reset"] % 10000
    if di == 0xC010:
        return date_text(m.local_s())
    if di == 0xC011:
        return time_text(m.local_s())
    if di == 0xC020:
        return status_word(m, 1) & 0xFF
    if di == 0xC021:
        return 0
    if di in (0xC030, 0xC031):
        return m.config["meter_constant"]
    if di == 0xC032:
        return m.meter_number
    if di == 0xC033:
        return m.user_number
    if di == 0xC034:
        return m.device_code
    if di == 0xC117:
        return "---%02dT%02d" % (m.ledger.settlement_day, m.ledger.settlement_hour)
    return NO


def _value_1997(m, di):
    hi = di >> 8
    lo = di & 0xFF
    q = lo >> 4
    t = lo & 0x0F
    group = hi & 0xF3
    period = (hi >> 2) & 0x03
    tariffs = range(5) if t == 0x0F else (t,)
    single = t != 0x0F
    if group == 0x90 or group == 0x91:
        di2 = q if group == 0x90 else _REACTIVE_1997[q]
        return select(energy_block(m, di2, tariffs, (period,)), single)
    if group == 0xA0 or group == 0xB0:
        if q not in (1, 2):
            return NO
        values = demand_block(m, q == 2, tariffs, (period,), True)
        if values[0] is None:
            return NO
        values = [v[0] if group == 0xA0 else v[1] for v in values]
        return values[0] if single else tuple(values)
    if hi == 0xB6:
        name = _INSTANT_1997[q]
        values = instant(m)[name]
        if name == "voltage":
            values = [int(v + 0.5) for v in values]
        elif name == "current":
            values = [abs(v) for v in values]
        return phase_value(values, name, 0xFF if t == 0x0F else t)
    if hi in (0xA1, 0xA5, 0xA9, 0xB1, 0xB5, 0xB9):
        return NO
    return _table_1997(m, di)


def read_1997(m, di):
    """Plain value bytes of a DL/T 645-1997 DI, or None when the meter has no such data."""
    if describe(di, _STD_1997) is None:
        return None
    v = _value_1997(m, di)
    if v is NO:
        return None
    return encode_value(di, v, _STD_1997)
