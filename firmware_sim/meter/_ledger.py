# MicroPython-compatible: see STYLE.md
"""Energy registers, maximum demand, daily freezes and settlement values.

Invariants:

* Registers are integers in mJ (W x ms), exact: ``total == T1+T2+T3+T4`` for
  every quantity, always. Quantities (index ``Q_*``): forward active, reverse
  active, reactive quadrants I-IV, forward and reverse apparent. Combined
  values are derived when read: combined active = forward - reverse,
  combined reactive 1 = QI + QII, combined reactive 2 = QIII + QIV.
* Time runs on the meter's local clock in ms (``m``); energy runs on true
  elapsed ms (``t``). With no clock drift the two advance alike; a clock jump
  is a span of local time with no true time (no energy, but the boundaries
  it crosses still freeze, as real meters catch up missed freezes).
* ``run`` integrates in steps that end at every local hour boundary, where the
  tariff and the load change; at local midnight the daily freeze is taken; at
  ``settlement_hour`` of ``settlement_day`` the settlement values are taken
  and the current maximum demand is reset (daily freeze first when both fall
  on the same boundary). 400 days are about 9 600 steps.
* Maximum demand uses 15-minute block windows aligned to the local clock:
  the average forward (reverse) power of each completed window, kept per
  tariff (the tariff of the window's hour) with the window's end time.
* Snapshots (freezes, settlements) are records of ``RECORD_LEN`` ints in
  display units: energy in 0.01 kWh (truncated, as meter displays do),
  demand in 0.0001 kW, times in local minutes since 1970 (0 = none); layout
  ``R_*``. Each history is a ``Ring`` of ``array('i')`` records allocated
  when the meter is built: a year of catch-up then leaves no long-lived
  objects scattered among its garbage, which would fragment a small
  MicroPython heap.
"""

from array import array

from ._civil import days_to_civil

HOUR_MS = 3600000
DAY_MS = 86400000
WINDOW_MS = 900000          # demand period 15 min (04000103)
_MJ_PER_UNIT = 36000000     # 0.01 kWh in mJ
_ROLL = 100000000           # XXXXXX.XX rolls over at 1 000 000 kWh

Q_FWD = 0
Q_REV = 1
Q_Q1 = 2
Q_Q2 = 3
Q_Q3 = 4
Q_Q4 = 5
Q_APF = 6
Q_APR = 7
N_Q = 8
QUANTITY_NAMES = ("forward_active", "reverse_active", "reactive_q1", "reactive_q2", "reactive_q3",
                  "reactive_q4", "forward_apparent", "reverse_apparent")

# Record layout: [time, 8 quantities x 5 (total, T1..T4), fwd demand x5,
# fwd demand time x5, rev demand x5, rev demand time x5]
R_TIME = 0
R_ENERGY = 1
R_DEMAND = 41
RECORD_LEN = 61
INSTANT_KEPT = 3
SETTLEMENTS_KEPT = 12
_ZERO_RECORD = bytes(4 * RECORD_LEN)    # array("i", bytes) takes the bytes as raw data

# DL/T 645-2007 DI2 of an energy quantity -> how to compute it from a record:
# (sign, record quantity) pairs summed.
_DI2_SOURCES = {
    0x00: ((1, Q_FWD), (-1, Q_REV)),
    0x01: ((1, Q_FWD),),
    0x02: ((1, Q_REV),),
    0x03: ((1, Q_Q1), (1, Q_Q2)),
    0x04: ((1, Q_Q3), (1, Q_Q4)),
    0x05: ((1, Q_Q1),),
    0x06: ((1, Q_Q2),),
    0x07: ((1, Q_Q3),),
    0x08: ((1, Q_Q4),),
    0x09: ((1, Q_APF),),
    0x0A: ((1, Q_APR),),
}


def record_units(rec, di2, tariff):
    """Energy of DL/T 645-2007 quantity ``di2`` and ``tariff`` (0 total) in a record, 0.01 kWh."""
    v = 0
    for sign, q in _DI2_SOURCES[di2]:
        v += sign * rec[R_ENERGY + 5 * q + tariff]
    return v


def record_demand(rec, reverse, tariff):
    """(0.0001 kW, local minute or 0) of the forward (reverse) max demand in a record."""
    base = R_DEMAND + (10 if reverse else 0)
    return rec[base + tariff], rec[base + 5 + tariff]


class Ring:
    """The last ``capacity`` records, newest first: ``ring[0]`` is the most recent.

    Every record is allocated when the ring is made and then overwritten in
    turn, so a long catch-up allocates nothing that lives on.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self._recs = [array("i", _ZERO_RECORD) for _ in range(capacity)]
        self._head = 0      # index of the newest record
        self._count = 0

    def clear(self):
        """Forget every record."""
        self._count = 0

    def push(self):
        """Make room for a new newest record; return it for writing."""
        self._head = (self._head + 1) % self.capacity
        if self._count < self.capacity:
            self._count += 1
        return self._recs[self._head]

    def __len__(self):
        return self._count

    def __getitem__(self, n):
        if n < 0 or n >= self._count:
            raise IndexError("record %d of %d" % (n, self._count))
        return self._recs[(self._head - n) % self.capacity]

    def __iter__(self):
        for n in range(self._count):
            yield self[n]


def units(mj):
    """mJ -> 0.01 kWh, truncated, rolled over like a 6+2 digit register."""
    return (mj // _MJ_PER_UNIT) % _ROLL


class Ledger:
    """The meter's accumulating registers and their history.

    Attributes:
        energy: list of 8 lists ``[total, T1, T2, T3, T4]`` in mJ (``Q_*`` order).
        phase: per phase ``[forward, reverse]`` in mJ.
        demand: ``[[forward x5], [reverse x5]]`` in 0.0001 kW, times in ``demand_time``.
        daily, instant, settlements: ``Ring`` of records, newest first.
        last_window_w: signed average power of the last completed window (W).
    """

    def __init__(self, model, cfg):
        self.model = model
        self.tariff_hours = cfg["tariff_hours"]
        self.settlement_day = cfg["settlement_day"]
        self.settlement_hour = cfg["settlement_hour"]
        self.daily = Ring(cfg["daily_freezes_kept"])
        self.instant = Ring(INSTANT_KEPT)
        self.settlements = Ring(SETTLEMENTS_KEPT)
        self.clear()

    def clear(self):
        """Zero everything: registers, demand, freezes, settlements (1AH meter clear)."""
        self.energy = [[0, 0, 0, 0, 0] for _ in range(N_Q)]
        self.phase = [[0, 0] for _ in self.model.shares]
        self.demand = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
        self.demand_time = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
        self.daily.clear()
        self.instant.clear()
        self.settlements.clear()
        self.last_window_w = 0
        self._win = -1
        self._acc = 0
        self._hour = None
        self._hour_values = None
        self._last_daily_min = -1
        self._last_settle_min = -1

    def preset(self, start_kwh):
        """Put ``start_kwh`` on forward active (and matching reactive/apparent) at installation.

        The split over tariffs follows each tariff's share of the daily load
        profile; the remainder of the rounding goes to the largest share.
        """
        total = int(start_kwh * 3600000000.0 + 0.5)
        if total <= 0:
            return
        weight = [0.0, 0.0, 0.0, 0.0, 0.0]
        for h in range(24):
            weight[self.tariff_hours[h]] += self.model.profile[h]
        wsum = weight[1] + weight[2] + weight[3] + weight[4]
        split = [0, 0, 0, 0, 0]
        big = 1
        for t in range(1, 5):
            split[t] = int(total * weight[t] / wsum) if wsum else 0
            if weight[t] > weight[big]:
                big = t
        split[big] += total - (split[1] + split[2] + split[3] + split[4])
        tan_phi = self.model.tan_phi
        pf = self.model.pf
        for t in range(1, 5):
            self._add(Q_FWD, t, split[t])
            self._add(Q_Q1, t, int(split[t] * tan_phi + 0.5))
            self._add(Q_APF, t, int(split[t] / pf + 0.5))
        for i in range(len(self.phase)):
            self.phase[i][0] += int(total * self.model.shares[i] + 0.5)

    def _add(self, q, tariff, mj):
        reg = self.energy[q]
        reg[0] += mj
        reg[tariff] += mj

    def _values(self, hour):
        if hour != self._hour:
            net = self.model.net_w(hour)
            q, s, phases = self.model.split(net)
            self._hour = hour
            self._hour_values = (net, q, s, phases)
        return self._hour_values

    def power_w(self, m):
        """Net power (W) the customer draws at local clock ms ``m``."""
        return self._values(m // HOUR_MS)[0]

    def run(self, m0, m1, true_ms, live):
        """Advance the registers over local clock [m0, m1) that took ``true_ms`` of real time.

        Args:
            m0, m1: local clock ms at the start and end (m1 >= m0).
            true_ms: real elapsed ms (0 for a clock jump).
            live: False while the supply is off (outage, relay open): no energy.
        """
        span = m1 - m0
        done = 0
        m = m0
        while m < m1:
            hour = m // HOUR_MS
            nxt = (hour + 1) * HOUR_MS
            end = nxt if nxt < m1 else m1
            if span == true_ms:
                t = end - m
            elif end == m1:
                t = true_ms - done
            else:
                t = (end - m0) * true_ms // span - done
            done += t
            tariff = self.tariff_hours[hour % 24]
            net = 0
            if live:
                net, q, s, phases = self._values(hour)
                if net > 0 and t:
                    self._add(Q_FWD, tariff, net * t)
                    self._add(Q_Q1, tariff, q * t)
                    self._add(Q_APF, tariff, s * t)
                elif net < 0 and t:
                    self._add(Q_REV, tariff, -net * t)
                    self._add(Q_Q3, tariff, q * t)
                    self._add(Q_APR, tariff, s * t)
                if net and t:
                    for i in range(len(phases)):
                        pw = phases[i]
                        if pw > 0:
                            self.phase[i][0] += pw * t
                        else:
                            self.phase[i][1] -= pw * t
            self._windows(m, end, net, tariff)
            m = end
            if m == nxt:
                self._boundary(m)

    def _windows(self, m0, m1, net, tariff):
        w0 = m0 // WINDOW_MS
        if w0 != self._win:
            self._win = w0
            self._acc = 0
        w1 = m1 // WINDOW_MS
        if w1 == w0:
            self._acc += net * (m1 - m0)
            return
        self._close(w0, self._acc + net * ((w0 + 1) * WINDOW_MS - m0), tariff)
        if w1 - w0 >= 2:
            # Full windows at constant power: only the first can set a new
            # maximum (ties keep the earlier time).
            self._close(w0 + 1, net * WINDOW_MS, tariff)
        self._win = w1
        self._acc = net * (m1 - w1 * WINDOW_MS)

    def _close(self, w, acc, tariff):
        avg = acc // WINDOW_MS
        self.last_window_w = avg
        k = 0
        if avg < 0:
            k = 1
            acc = -acc
        value = acc * 10 // WINDOW_MS       # 0.1 W = 0.0001 kW
        if value <= 0:
            return
        minute = (w + 1) * (WINDOW_MS // 60000)
        d = self.demand[k]
        dt = self.demand_time[k]
        if value > d[0]:
            d[0] = value
            dt[0] = minute
        if value > d[tariff]:
            d[tariff] = value
            dt[tariff] = minute

    def _boundary(self, m):
        minute = m // 60000
        if m % DAY_MS == 0 and minute > self._last_daily_min:
            self._last_daily_min = minute
            self.snapshot(minute, self.daily.push())
        if (m // HOUR_MS) % 24 == self.settlement_hour and minute > self._last_settle_min:
            if days_to_civil(m // DAY_MS)[2] == self.settlement_day:
                self._last_settle_min = minute
                self.snapshot(minute, self.settlements.push())
                self.reset_demand()

    def reset_demand(self):
        """Clear the current period's maximum demand (settlement, 19H/10H demand reset)."""
        for k in (0, 1):
            for t in range(5):
                self.demand[k][t] = 0
                self.demand_time[k][t] = 0

    def freeze_now(self, minute):
        """Instantaneous freeze (16H 99999999): keep the last three (DI 0501xxNN)."""
        self.snapshot(minute, self.instant.push())

    def snapshot(self, minute, rec=None):
        """Write a record of the present registers and demand into ``rec`` (new when None)."""
        if rec is None:
            rec = array("i", _ZERO_RECORD)
        rec[R_TIME] = minute
        i = R_ENERGY
        for q in range(N_Q):
            reg = self.energy[q]
            for t in range(5):
                rec[i] = units(reg[t])
                i += 1
        for k in (0, 1):
            for t in range(5):
                rec[i] = self.demand[k][t]
                rec[i + 5] = self.demand_time[k][t]
                i += 1
            i += 5
        return rec
