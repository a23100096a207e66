# MicroPython-compatible: see STYLE.md
"""The customer behind the meter: power per hour and instantaneous values.

Rule (documented in the package docstring and relied on by tests):

* For meter-local hour index ``H`` (local clock ms // 3 600 000, hour of day
  ``h = H % 24``) the load is ``base_kw * profile[h] * (1 + v * (2u - 1))``
  and the generation ``export_kw * export_profile[h] * (1 + v * (2u' - 1))``,
  where ``v = load_variation`` and ``u``, ``u'`` are uniform in [0, 1) drawn
  from ``_unit(seed, H)`` and ``_unit(seed ^ 0x5BD1E995, H)``: a stateless
  xorshift32 hash, so any hour can be evaluated in any order and CPython and
  MicroPython agree bit for bit (no ``random`` module).
* The meter sees the net power ``P = load - generation`` rounded to whole W,
  constant for the whole hour: ``P > 0`` is import (forward active, reactive
  quadrant I), ``P < 0`` export (reverse active, reactive quadrant III).
* Reactive power is ``|P| * tan(acos(power_factor))``, apparent ``|P| / pf``,
  both rounded to whole var / VA; phases share P by ``phase_shares``.
"""

import math

_M32 = 0xFFFFFFFF
_GEN_SALT = 0x5BD1E995


def _unit(seed, n):
    """Uniform float in [0, 1) for (seed, n): xorshift32 rounds over a mixed key."""
    x = (seed ^ ((n * 0x9E3779B1) & _M32)) & _M32
    if x == 0:
        x = 0x9E3779B9
    for _ in range(3):
        x ^= (x << 13) & _M32
        x ^= x >> 17
        x ^= (x << 5) & _M32
    return x / 4294967296.0


def iround(x):
    """Round half away from zero to int (same on CPython and MicroPython)."""
    if x >= 0:
        return int(x + 0.5)
    return -int(-x + 0.5)


class LoadModel:
    """Power of one customer per local hour (see the module docstring).

    Attributes:
        pf: configured power factor; ``tan_phi`` its tangent.
        shares: the phase shares (1 or 3 fractions summing to 1).
    """

    def __init__(self, cfg):
        self.base_w = cfg["base_kw"] * 1000.0
        self.export_w = cfg["export_kw"] * 1000.0
        self.profile = cfg["profile"]
        self.export_profile = cfg["export_profile"]
        self.variation = cfg["load_variation"]
        self.seed = cfg["seed"]
        self.pf = cfg["power_factor"]
        self.tan_phi = math.tan(math.acos(self.pf))
        self.shares = cfg["phase_shares"]
        self.voltage_v = cfg["voltage_v"]

    def net_w(self, hour_index):
        """Net power in whole W during local hour ``hour_index`` (import > 0)."""
        h = hour_index % 24
        v = self.variation
        load = self.base_w * self.profile[h]
        gen = self.export_w * self.export_profile[h]
        if v:
            load *= 1.0 + v * (2.0 * _unit(self.seed, hour_index) - 1.0)
            if gen:
                gen *= 1.0 + v * (2.0 * _unit(self.seed ^ _GEN_SALT, hour_index) - 1.0)
        return iround(load - gen)

    def split(self, net_w):
        """Per-hour derived powers: (reactive var, apparent VA, phase W list), all ints."""
        mag = net_w if net_w >= 0 else -net_w
        phases = [iround(net_w * s) for s in self.shares]
        return iround(mag * self.tan_phi), iround(mag / self.pf), phases

    def voltages(self, minute):
        """Phase voltages: nominal, varied by up to ±1 % per minute when load_variation > 0."""
        out = []
        for i in range(len(self.shares)):
            v = self.voltage_v
            if self.variation:
                v *= 1.0 + 0.01 * (2.0 * _unit(self.seed + 7 + i, minute) - 1.0)
            out.append(round(v * 10) / 10.0)
        return out

    def instant(self, net_w, minute):
        """Instantaneous values at net power ``net_w`` (W), local ``minute``.

        Returns:
            dict with lists per quantity: ``voltage``, ``current``,
            ``phase_angle`` (one per phase) and ``active_power``,
            ``reactive_power``, ``apparent_power``, ``power_factor`` (total
            first, then one per phase); kW, kvar, kVA, V, A, degrees.
        """
        volts = self.voltages(minute)
        sign = -1.0 if net_w < 0 else 1.0
        pf = self.pf if net_w else 1.0
        tan_phi = self.tan_phi if net_w else 0.0
        angle = math.degrees(math.acos(pf)) + (180.0 if net_w < 0 else 0.0)
        p = [net_w / 1000.0]
        cur = []
        for i in range(len(self.shares)):
            pw = net_w * self.shares[i]
            p.append(pw / 1000.0)
            cur.append(pw / (volts[i] * pf))
        q = [x * tan_phi for x in p]    # quadrant I on import, III on export: same sign as P
        s = [x / pf for x in p]
        return {
            "voltage": volts, "current": cur, "phase_angle": [angle] * len(cur),
            "active_power": p, "reactive_power": q, "apparent_power": s,
            "power_factor": [sign * pf] * len(p),
        }


def neutral_current(currents):
    """Magnitude of the phasor sum of phase currents 120° apart (A)."""
    if len(currents) == 1:
        return abs(currents[0])
    re = currents[0] - 0.5 * (currents[1] + currents[2])
    im = 0.8660254037844386 * (currents[1] - currents[2])
    return math.sqrt(re * re + im * im)
