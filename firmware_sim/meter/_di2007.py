# MicroPython-compatible: see STYLE.md
"""Values of DL/T 645-2007 data identifiers (§13); block rules in ``_reads``.

``read_2007(meter, di)`` returns the plain value bytes, or None when the
meter has no such data (the caller answers D1/02).
"""

from protocols.dlt645 import describe, encode_value

from ._civil import date_text, dt5_text, time_text
from ._ledger import record_demand, record_units, units
from ._model import neutral_current
from ._reads import NO, demand_block, energy_block, instant, kwh, phase_value, select, status_word

_STD_2007 = "2007"
_INSTANT_2007 = (None, "voltage", "current", "active_power", "reactive_power", "apparent_power",
                 "power_factor", "phase_angle")
_EVENT_COUNTS = {0x03110000: "power_down", 0x03300000: "programming", 0x03300100: "meter_clear",
                 0x03300200: "demand_reset", 0x03300300: "event_clear", 0x03300400: "time_setting"}


def _energy_2007(m, d2, d1, d0):
    if d2 > 0x0A:
        for i, base in ((0, 0x15), (1, 0x29), (2, 0x3D)):
            if base <= d2 <= base + 1 and i < len(m.ledger.phase) and d0 == 0:
                return units(m.ledger.phase[i][d2 - base]) / 100.0
        return NO
    if d1 != 0xFF and d1 > 4:
        return NO
    tariffs = range(5) if d1 == 0xFF else (d1,)
    periods = range(13) if d0 == 0xFF else (d0,)
    return select(energy_block(m, d2, tariffs, periods), d1 != 0xFF and d0 != 0xFF)


def _demand_2007(m, d2, d1, d0):
    if d2 not in (1, 2) or (d1 != 0xFF and d1 > 4):
        return NO
    tariffs = range(5) if d1 == 0xFF else (d1,)
    periods = range(13) if d0 == 0xFF else (d0,)
    values = demand_block(m, d2 == 2, tariffs, periods, False)
    if d1 != 0xFF and d0 != 0xFF:
        return NO if values[0] is None else values[0]
    return tuple([(None, None) if v is None else v for v in values])


def _variable(m, d0):
    p_w = m.power_w()
    if d0 == 0x01:
        return neutral_current(instant(m)["current"])
    if d0 == 0x02:
        return m.config["frequency_hz"]
    if d0 == 0x03:
        return p_w / 1000.0
    w = m.ledger.last_window_w
    if d0 == 0x04:
        return w / 1000.0
    if d0 == 0x05:
        return w * m.model.tan_phi / 1000.0
    if d0 == 0x06:
        return w / m.model.pf / 1000.0
    if d0 == 0x07:
        return m.config["temperature_c"] + 0.5 * abs(p_w) / 1000.0
    if d0 == 0x08:
        return 3.6
    if d0 == 0x09:
        return 6.0
    if d0 == 0x0A:
        return m.battery_minutes
    return NO


def _segments(hours):
    n = 0
    for h in range(24):
        if hours[h] != hours[h - 1]:
            n += 1
    return n or 1


def _param_2007(m, di):
    if di == 0x04000101:
        return date_text(m.local_s())
    if di == 0x04000102:
        return time_text(m.local_s())
    if di in (0x04000103, 0x04000104):
        return 15
    if di in (0x04000201, 0x04000202):
        return 1
    if di == 0x04000203:
        return _segments(m.config["tariff_hours"])
    if di == 0x04000204:
        return 4
    if di == 0x04000401:
        return m.address
    if di == 0x04000402:
        return m.meter_number
    if di == 0x04000403:
        return m.asset_number
    if di == 0x04000404:
        return "%dV" % int(m.config["voltage_v"] + 0.5)
    if di == 0x04000405:
        return "%dA" % m.config["rated_current_a"]
    if di == 0x04000406:
        return "%dA" % m.config["max_current_a"]
    if di in (0x04000409, 0x0400040A):
        return m.config["meter_constant"]
    if 0x04000501 <= di <= 0x04000507:
        return status_word(m, di & 0xFF)
    if di in (0x04000701, 0x04000702):
        return 1200
    if di == 0x04000703:
        return m.baud
    if di == 0x04000B01:
        return "---%02dT%02d" % (m.ledger.settlement_day, m.ledger.settlement_hour)
    if di in (0x04000B02, 0x04000B03):
        return None     # not set: all FF
    return NO


def _frozen_2007(m, d2, d1, d0):
    recs = m.ledger.daily if d2 == 0x06 else (m.ledger.instant if d2 == 0x01 else None)
    if recs is None or d0 > len(recs):
        return NO
    rec = recs[d0 - 1]
    if d1 == 0x00:
        return dt5_text(rec[0])
    if d1 <= 0x08:
        return tuple([kwh(record_units(rec, d1, t), d1) for t in range(5)])
    block = []
    for t in range(5):
        v, minute = record_demand(rec, d1 == 0x0A, t)
        block.append((v / 10000.0, dt5_text(minute) if minute else None))
    return tuple(block)


def read_2007(m, di):
    """Plain value bytes of a DL/T 645-2007 DI, or None when the meter has no such data."""
    if describe(di, _STD_2007) is None:
        return None
    d3 = di >> 24
    d2 = (di >> 16) & 0xFF
    d1 = (di >> 8) & 0xFF
    d0 = di & 0xFF
    if d3 == 0x00:
        v = _energy_2007(m, d2, d1, d0)
    elif d3 == 0x01:
        v = _demand_2007(m, d2, d1, d0)
    elif d3 == 0x02:
        if d2 == 0x80:
            v = _variable(m, d0)
        else:
            name = _INSTANT_2007[d2]
            v = phase_value(instant(m)[name], name, d1)
    elif d3 == 0x03:
        kind = _EVENT_COUNTS.get(di)
        if kind is not None:
            v = m.event_counts[kind]
        else:
            records = m.event_records[_EVENT_COUNTS[di & 0xFFFFFF00]]
            return records[d0 - 1] if d0 <= len(records) else None
    elif d3 == 0x04:
        v = _param_2007(m, di)
    elif d3 == 0x05:
        v = _frozen_2007(m, d2, d1, d0)
    else:
        return None
    if v is NO:
        return None
    return encode_value(di, v, _STD_2007)
