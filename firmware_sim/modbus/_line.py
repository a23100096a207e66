"""Several simulated meters behind one port, and the faults they can show. No I/O.

``MeterSet.handle`` decides what one request gets, given the unit it is
addressed to and the simulation time: a reply with registers, an exception
reply with a code, or silence, each after a delay. The server adapter only
carries that out. Rules:

* A unit id with no meter, or a meter with an ``absent`` fault, stays
  silent (a dead meter on RS-485: the master times out).
* ``exception CODE`` answers every request with Modbus exception CODE
  (default 04, server device failure).
* A function code other than the model's read function gets exception 01
  (illegal function: the simulated meters are read-only); a register range
  not wholly inside the model's items gets exception 02 (illegal data
  address), as the CHINT meters answer reserved registers.
* ``nan`` answers with every register 0xFFFF: a float32 NaN, a reply that
  is well formed but holds no number (a meter with a failed measuring chip).
* ``slow MS`` adds MS milliseconds to the meter's ``reply_delay_ms``.

Faults stay until cleared. Everything here is guarded by the caller's lock.
"""

from protocols.modbus_maps import decode

from ._config import check_meters
from ._errors import ModbusFaultError, ModbusSimConfigError
from ._meter import SimMeter

FAULT_KINDS = {
    "absent": "the unit never answers (a dead or disconnected meter)",
    "exception": "every request gets Modbus exception CODE (default 4, server device failure)",
    "slow": "the reply comes MS milliseconds later than the meter's reply delay",
    "nan": "every register reads 0xFFFF (float NaN): a well-formed reply with no number in it",
}
# Modbus exception codes (MODBUS Application Protocol 1.1b3 §7).
EXCEPTION_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   8: "memory parity error", 10: "gateway path unavailable",
                   11: "gateway target device failed to respond"}
STAT_KEYS = ("requests", "replies", "exceptions", "silent")


class Outcome:
    """What a request gets.

    Attributes:
        kind: "reply", "exception" or "silent".
        words: the registers of a reply (list of ints), else None.
        code: the exception code of an exception reply, else None.
        delay_s: how long to wait before answering.
    """

    def __init__(self, kind, words=None, code=None, delay_s=0.0):
        self.kind = kind
        self.words = words
        self.code = code
        self.delay_s = delay_s

    def __repr__(self):
        return "Outcome(%s, words=%r, code=%r, delay_s=%g)" % (self.kind, self.words, self.code, self.delay_s)


class MeterSet:
    """The meters on one port, by unit id.

    Args:
        meters: meter config dicts (see ``_config``) or SimMeter objects.
        now_s: simulation time of installation.

    Raises:
        ModbusSimConfigError: bad configs or duplicate unit ids.
    """

    def __init__(self, meters, now_s):
        configs = [m for m in meters if not isinstance(m, SimMeter)]
        if configs:
            check_meters(configs)
        self.meters = {}
        for m in meters:
            meter = m if isinstance(m, SimMeter) else SimMeter(m, now_s)
            if meter.unit in self.meters:
                raise ModbusSimConfigError("unit %d appears twice" % meter.unit, unit=meter.unit, key="unit")
            self.meters[meter.unit] = meter
        self._faults = {}
        self.stats = dict.fromkeys(STAT_KEYS, 0)

    # ---- faults -------------------------------------------------------------------

    def _meter(self, unit, kind):
        if type(unit) is not int or unit not in self.meters:
            raise ModbusFaultError("fault %s: no meter at unit %r (units: %s)"
                                   % (kind, unit, ", ".join(str(u) for u in sorted(self.meters))),
                                   kind=kind, unit=unit)
        return self.meters[unit]

    def set_fault(self, unit, kind, **params):
        """Inject a fault (see ``FAULT_KINDS``); replaces one of the same kind.

        Returns:
            dict with ``kind``, ``unit`` and the parameters.

        Raises:
            ModbusFaultError: unknown kind or unit, or a bad parameter.
        """
        if kind not in FAULT_KINDS:
            raise ModbusFaultError("unknown fault kind %r; kinds are: %s" % (kind, ", ".join(FAULT_KINDS)),
                                   kind=kind, unit=unit)
        self._meter(unit, kind)
        allowed = {"absent": (), "nan": (), "exception": ("code",), "slow": ("ms",)}[kind]
        extra = sorted(set(params) - set(allowed))
        if extra:
            raise ModbusFaultError("fault %s takes %s, not %r" % (kind, " and ".join(allowed) or "no parameters",
                                                                  extra[0]), kind=kind, unit=unit, key=extra[0])
        fault = {"kind": kind, "unit": unit}
        if kind == "exception":
            code = params.get("code", 4)
            if type(code) is not int or code not in EXCEPTION_CODES:
                raise ModbusFaultError("fault exception: code must be one of %s, got %r"
                                       % (", ".join(str(c) for c in EXCEPTION_CODES), code),
                                       kind=kind, unit=unit, key="code")
            fault["code"] = code
        elif kind == "slow":
            ms = params.get("ms")
            if type(ms) not in (int, float) or not 0 <= ms <= 60000:
                raise ModbusFaultError("fault slow needs ms from 0 to 60000, got %r" % (ms,),
                                       kind=kind, unit=unit, key="ms")
            fault["ms"] = ms
        self._faults.setdefault(unit, {})[kind] = fault
        return dict(fault)

    def clear_fault(self, unit=None, kind=None):
        """Remove faults of one unit (all units: None), of one kind (all kinds: None).

        Returns:
            number removed.

        Raises:
            ModbusFaultError: unknown unit or kind.
        """
        if kind is not None and kind not in FAULT_KINDS:
            raise ModbusFaultError("unknown fault kind %r; kinds are: %s" % (kind, ", ".join(FAULT_KINDS)),
                                   kind=kind, unit=unit)
        units = list(self._faults) if unit is None else [self._meter(unit, kind or "clear").unit]
        removed = 0
        for u in units:
            faults = self._faults.get(u, {})
            for k in list(faults):
                if kind is None or k == kind:
                    del faults[k]
                    removed += 1
        return removed

    def faults(self, unit=None):
        """Faults in force, as dicts, by unit then kind."""
        out = []
        for u in sorted(self._faults):
            if unit is None or u == unit:
                out.extend(dict(f) for _k, f in sorted(self._faults[u].items()))
        return out

    # ---- requests -------------------------------------------------------------------

    def handle(self, unit, function_code, address, count, now_s):
        """What a read (or write) request to ``unit`` gets at simulation time ``now_s``."""
        self.stats["requests"] += 1
        meter = self.meters.get(unit)
        faults = self._faults.get(unit, {})
        if meter is None or "absent" in faults:
            self.stats["silent"] += 1
            return Outcome("silent")
        delay_s = (meter.reply_delay_ms + faults.get("slow", {}).get("ms", 0)) / 1000.0
        code = None
        if "exception" in faults:
            code = faults["exception"]["code"]
        elif function_code != meter.model.function_code:
            code = 1
        else:
            meter.advance(now_s)
            image = meter.registers(now_s)
            if any(a not in image for a in range(address, address + count)):
                code = 2
        if code is not None:
            self.stats["exceptions"] += 1
            return Outcome("exception", code=code, delay_s=delay_s)
        self.stats["replies"] += 1
        if "nan" in faults:
            return Outcome("reply", [0xFFFF] * count, delay_s=delay_s)
        return Outcome("reply", [image[a] for a in range(address, address + count)], delay_s=delay_s)

    def state(self, unit, now_s):
        """{item name: value} as the unit's registers hold them at ``now_s`` (decoded by the map).

        Raises:
            ModbusFaultError: no meter at that unit.
        """
        meter = self._meter(unit, "state")
        meter.advance(now_s)
        image = meter.registers(now_s)
        return {item.name: decode(meter.model, item, [image[item.address + i] for i in range(item.registers)])[0]
                for item in meter.model.items}
