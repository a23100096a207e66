"""One simulated Modbus meter: its customer's load, its registers, no I/O.

Rules (tests rely on them):

* Time is the caller's: ``now_s`` is simulation UTC epoch seconds, passed to
  every call. The meter never reads a clock, so a test can freeze time or
  jump it.
* Net power is constant within a local hour (``utc_offset_s``): for hour
  index ``H`` (local seconds // 3600, hour of day ``h = H % 24``) it is
  ``base_kw * profile[h] * (1 + v(2u - 1)) - export_kw * SOLAR[h] * (1 + v(2u' - 1))``
  where ``u``, ``u'`` come from a stateless hash of (seed, H): any hour can
  be evaluated in any order and gives the same power on every run.
* ``advance(now_s)`` integrates that power exactly, hour piece by hour
  piece, into forward (P > 0) or reverse (P < 0) active energy, and
  ``|P| tan(acos pf)`` into reactive quadrant I (import) or III (export).
  Time never runs backwards: an earlier ``now_s`` changes nothing.
* Instantaneous values: phase voltages vary by up to ±1 % per minute when
  ``load_variation`` > 0; currents follow ``P / (V pf)``; reactive power has
  the sign of P; the power factor is ``pf`` with the sign of P (1.0 at no load).
* ``registers(now_s)`` is the register image of every item of the model,
  made with ``protocols.modbus_maps.encode``: what a master reads is exactly
  what ``values`` says, rounded as the map rounds.
"""

import math

from protocols.modbus_maps import encode, get_model

from ._config import SOLAR, check_meter
from ._errors import ModbusSimConfigError

_M32 = 0xFFFFFFFF
_SQRT3_HALF = math.sqrt(3) / 2


def _unit_hash(seed, n):
    """Uniform float in [0, 1) from (seed, n): a few xorshift rounds over a mixed key."""
    x = (seed ^ ((n * 0x9E3779B1) & _M32)) & _M32 or 0x9E3779B9
    for _ in range(3):
        x ^= (x << 13) & _M32
        x ^= x >> 17
        x ^= (x << 5) & _M32
    return x / 4294967296.0


class SimMeter:
    """A meter of one model at one unit id (see the module docstring).

    Args:
        config: meter config dict (checked with ``check_meter``).
        now_s: simulation time of installation (epoch seconds).

    Attributes:
        unit, model (MeterModel), config, energy (dict of kWh / kvarh totals).

    Raises:
        ModbusSimConfigError: bad config, or a model item the simulator cannot produce.
    """

    def __init__(self, config, now_s):
        self.config = check_meter(config)
        self.unit = self.config["unit"]
        self.model = get_model(self.config["model"])
        self.reply_delay_ms = self.config["reply_delay_ms"]
        self._pf = self.config["power_factor"]
        self._tan_phi = math.tan(math.acos(self._pf))
        self.energy = {
            "forward_active_total": self.config["start_kwh"],
            "reverse_active_total": self.config["start_export_kwh"],
            "reactive_q1_total": self.config["start_kwh"] * self._tan_phi,
            "reactive_q2_total": 0.0,
            "reactive_q3_total": self.config["start_export_kwh"] * self._tan_phi,
            "reactive_q4_total": 0.0,
        }
        self._t = float(now_s)
        missing = [n for n in self.model.item_names() if n not in self.values(now_s)]
        if missing:
            raise ModbusSimConfigError("unit %d: the simulator has no value for %s item(s) %s"
                                       % (self.unit, self.model.name, ", ".join(missing)),
                                       unit=self.unit, key="model")

    # ---- the customer ---------------------------------------------------------

    def power_kw(self, now_s):
        """Net active power in kW at ``now_s`` (import > 0)."""
        return self._hour_kw(int((now_s + self.config["utc_offset_s"]) // 3600))

    def _hour_kw(self, hour):
        c = self.config
        v = c["load_variation"]
        load = c["base_kw"] * c["profile"][hour % 24]
        gen = c["export_kw"] * SOLAR[hour % 24]
        if v:
            load *= 1.0 + v * (2.0 * _unit_hash(c["seed"], hour) - 1.0)
            gen *= 1.0 + v * (2.0 * _unit_hash(c["seed"] ^ 0x5BD1E995, hour) - 1.0)
        return round(load - gen, 4)

    def advance(self, now_s):
        """Accumulate energy up to ``now_s`` (no-op if it is not later than the last call)."""
        if now_s <= self._t:
            return
        offset = self.config["utc_offset_s"]
        t = self._t
        while t < now_s:
            hour = int((t + offset) // 3600)
            end = min(now_s, (hour + 1) * 3600 - offset)
            p = self._hour_kw(hour)
            kwh = p * (end - t) / 3600.0
            if p > 0:
                self.energy["forward_active_total"] += kwh
                self.energy["reactive_q1_total"] += kwh * self._tan_phi
            elif p < 0:
                self.energy["reverse_active_total"] -= kwh
                self.energy["reactive_q3_total"] -= kwh * self._tan_phi
            t = end
        self._t = float(now_s)

    # ---- what the registers say --------------------------------------------------

    def values(self, now_s):
        """Every quantity the meter shows at ``now_s`` (after ``advance``), by item name."""
        c = self.config
        p = self.power_kw(now_s)
        pf = self._pf if p else 1.0
        tan_phi = self._tan_phi if p else 0.0
        minute = int((now_s + c["utc_offset_s"]) // 60)
        out = {"frequency": c["frequency_hz"], "software_version": c["software_version"], "network_type": 0,
               "ct_ratio": c["ct_ratio"], "pt_ratio": c["pt_ratio"], "modbus_address": self.unit}
        out.update(self.energy)
        volts = []
        for i, share in enumerate(c["phase_shares"]):
            v = c["voltage_v"]
            if c["load_variation"]:
                v *= 1.0 + 0.01 * (2.0 * _unit_hash(c["seed"] + 7 + i, minute) - 1.0)
            v = round(v, 1)
            volts.append(v)
            pp = p * share
            phase = "abc"[i]
            out["voltage_" + phase] = v
            out["current_" + phase] = abs(pp) * 1000.0 / (v * pf)
            out["active_power_" + phase] = pp
            out["reactive_power_" + phase] = pp * tan_phi
            out["power_factor_" + phase] = math.copysign(pf, p) if p else 1.0
        if len(volts) == 3:
            for name, (x, y) in (("ab", (0, 1)), ("bc", (1, 2)), ("ca", (2, 0))):
                # phasors 120° apart: |Vx - Vy| = sqrt(Vx² + Vy² + Vx·Vy)
                out["line_voltage_" + name] = math.sqrt(volts[x] ** 2 + volts[y] ** 2 + volts[x] * volts[y])
        out["active_power_total"] = p
        out["reactive_power_total"] = p * tan_phi
        out["power_factor_total"] = math.copysign(pf, p) if p else 1.0
        return out

    def registers(self, now_s):
        """{register address: word} for every item of the model at ``now_s``."""
        values = self.values(now_s)
        image = {}
        for item in self.model.items:
            for i, word in enumerate(encode(self.model, item, values[item.name])):
                image[item.address + i] = word
        return image
