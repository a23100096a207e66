# MicroPython-compatible: see STYLE.md
"""Values shared by the DL/T 645-2007 and -1997 data identifiers (§13, §14).

``_di2007.read_2007`` and ``_di1997.read_1997`` (only the meter's own edition
is imported) compute values with these helpers and encode them with the
codec's ``encode_value``, so the byte layout of every format lives in one
place. The block rules of §13:

* DI1 = FF: total, T1..T4. DI0 = FF: current, then settlement periods 1..12.
  Both FF: period-major (current total..T4, then period 1 total..T4, ...).
* In a block, a settlement period not reached yet is all FF ("no data",
  §13.5); alone it is D1/02 (1997 C1/02). So is a daily freeze older than the
  meter keeps.
* Per-phase energy (DI2 15/16, 29/2A, 3D/3E) exists for the current period
  only; per-phase reactive and apparent energy, reactive demand, timed and
  other freeze kinds, load profile and tariffs above 4 are not kept.
"""

from ._civil import dt5_text, mdhm_text
from ._ledger import record_demand, record_units

NO = object()   # marker: the meter has no such data
TOTAL_FIRST = ("active_power", "reactive_power", "apparent_power", "power_factor")
_SIGNED_DI2 = (0x00, 0x03, 0x04)


def kwh(units_value, di2):
    if di2 in _SIGNED_DI2:
        # signed XXXXXX.XX holds +-799999.99 (§5): roll over like the display
        if units_value < 0:
            return -((-units_value) % 80000000) / 100.0
        return (units_value % 80000000) / 100.0
    return units_value / 100.0


def period(m, p, cache):
    """Record of period p: 0 = now (snapshot), n = n-th settlement back; None if not reached."""
    if p == 0:
        if not cache:
            cache.append(m.ledger.snapshot(m.local_minute()))
        return cache[0]
    s = m.ledger.settlements
    return s[p - 1] if p <= len(s) else None


def energy_block(m, di2, tariffs, periods):
    cache = []
    out = []
    for p in periods:
        rec = period(m, p, cache)
        for t in tariffs:
            out.append(None if rec is None else kwh(record_units(rec, di2, t), di2))
    return out


def demand_block(m, reverse, tariffs, periods, mdhm):
    cache = []
    out = []
    for p in periods:
        rec = period(m, p, cache)
        for t in tariffs:
            if rec is None:
                out.append(None)
                continue
            v, minute = record_demand(rec, reverse, t)
            when = (mdhm_text(minute) if mdhm else dt5_text(minute)) if minute else None
            out.append((v / 10000.0, when))
    return out


def select(values, single):
    if single:
        return NO if values[0] is None else values[0]
    return tuple(values)


def instant(m):
    return m.model.instant(m.power_w(), m.local_minute())


def phase_value(values, name, index):
    """Pick phase ``index`` (1..3; 0 = total where the list has one); 0xFF = block."""
    if index == 0xFF:
        return tuple(values)
    if name not in TOTAL_FIRST:
        index -= 1
    if index < 0 or index >= len(values):
        return NO
    return values[index]


def status_word(m, n):
    p_w = m.power_w()
    if n == 1:
        return 0x0002 | (0x0030 if p_w < 0 else 0)   # bit 1: interval demand
    if n == 2:
        word = 0
        for i in range(len(m.model.shares)):
            if p_w * m.model.shares[i] < 0:
                word |= (0x11 << i)
        return word
    if n == 3:
        return ((0x08 if m.programming else 0) | (0x10 if m.relay_open else 0)
                | (0x40 if m.relay_command else 0) | (0x80 if m.alarm else 0)
                | (0x1000 if m.keep_power else 0))
    if 4 <= n <= 6:
        i = n - 4
        if i >= len(m.model.shares):
            return 0
        return 0x40 if p_w * m.model.shares[i] < 0 else 0
    return 0
