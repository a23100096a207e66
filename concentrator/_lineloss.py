"""Line loss (线损) of one transformer area over one period (M-13): the energy balance, sans I/O.

    supplied = (supply meter's register advance) x CT x PT
    billed   = sum over customer meters of (register advance x CT x PT)
    loss_kwh = supplied - billed;   loss_pct = 100 x loss_kwh / supplied

The result is a lineloss v2 record body (protocols.records). Invariants:

* Never a silent wrong figure. A meter whose advance cannot be established
  (no start or end reading, or a register that went backwards without a
  plausible rollover) is listed in ``missing`` with the reason in
  ``detail``; the status is then "incomplete" and loss_kwh and loss_pct are
  null: a partial sum of customer meters would overstate the loss.
* Otherwise the status is "out-of-band" when loss_pct is outside the
  configured band [low_pct, high_pct] (inclusive; default -1 % to 10 %), or
  when nothing was supplied but something was billed; else "ok".
* Energies are rounded to 1 Wh (3 decimals) and loss_kwh is computed from the
  rounded totals, so the body is consistent with itself; loss_pct is rounded to
  3 decimals before it is compared with the band.

Rollover and replacement (docs/anomalies.md): a register that wraps at
``register_wrap_kwh`` within ``rollover_max_kwh`` is counted as the wrapped
advance (_anomalies_common.energy_delta). A meter replaced during the period
is given with ``replaced=(old_end_kwh, new_start_kwh)``: its energy is the
old meter's advance from ``start_kwh`` to its final reading plus the new
meter's advance from its first reading to ``end_kwh``.
"""

from types import MappingProxyType

from protocols.topics import is_identifier

from ._anomalies_common import (DECREASE, ROLLOVER, AnalysisInputError, Key, check_config, clip, config_error,
                                energy_delta, fmt, is_number)

BODY_VERSION = 2                 # protocols.records lineloss body version written
MAX_KWH = 1e12                   # lineloss v2 supplied_kwh and billed_kwh are at most this
MAX_CUSTOMERS = 4095             # lineloss v2 "missing" holds 4096 meters: these and the supply meter

_K = [
    Key("low_pct", "number", -1.0, -100, 100,
        "a balance more than 1 % negative means meters disagree (wrong CT/PT in the archive, a "
        "customer metered twice, a supply meter under-registering)"),
    Key("high_pct", "number", 10.0, -100, 100,
        "LV areas usually lose a few percent; above 10 % points at theft or a fault (M-13)"),
    Key("register_wrap_kwh", "number", 1000000.0, 0, 1e12,
        "DL/T 645 energy is XXXXXX.XX: the register counts modulo 1,000,000 kWh", lo_open=True),
    Key("rollover_max_kwh", "number", 10000.0, 0, 1e12,
        "a drop is taken as a wrap only if the wrapped advance is plausible for one period"),
    Key("decrease_tolerance_kwh", "number", 0.01, 0, 1000, "one count of the register: rounding"),
]
LINELOSS_KEYS = MappingProxyType({k.name: k for k in _K})


class LineLossConfig:
    """Validated line-loss settings. Keys and defaults: ``LINELOSS_KEYS`` (docs/anomalies.md).

    Raises:
        AnalysisConfigError: unknown key, wrong type, out of range, low_pct not
            below high_pct, rollover_max_kwh not below register_wrap_kwh.
    """

    __slots__ = ("low_pct", "high_pct", "register_wrap_kwh", "rollover_max_kwh", "decrease_tolerance_kwh")

    def __init__(self, values=None):
        what = "line-loss config"
        v = check_config(LINELOSS_KEYS, {} if values is None else values, what)
        if not v["low_pct"] < v["high_pct"]:
            raise config_error(what, "low_pct must be below high_pct",
                               {k: v[k] for k in ("low_pct", "high_pct")})
        if v["rollover_max_kwh"] >= v["register_wrap_kwh"]:
            raise config_error(what, "rollover_max_kwh must be below register_wrap_kwh",
                               {k: v[k] for k in ("rollover_max_kwh", "register_wrap_kwh")})
        for name, value in v.items():
            setattr(self, name, value)

    def to_dict(self):
        return {name: getattr(self, name) for name in LINELOSS_KEYS}


class MeterEnergy:
    """One meter's register readings at the start and end of the period.

    Args:
        meter: 12-digit address.
        start_kwh, end_kwh: forward active total at the period's start and end,
            in register units; None when that reading is missing.
        ct, pt: transformer ratios (> 0); the meter's energy is its advance x ct x pt.
        replaced: None, or (old_end_kwh, new_start_kwh) when the meter was
            replaced during the period (either may be None when not read).

    Raises:
        AnalysisInputError: an address, reading or ratio of the wrong type or range.
    """

    __slots__ = ("meter", "start_kwh", "end_kwh", "ct", "pt", "replaced")

    def __init__(self, meter, start_kwh, end_kwh, ct=1, pt=1, replaced=None):
        where = "line-loss meter %r" % (meter,)
        if type(meter) is not str or len(meter) != 12 or not meter.isdigit() or not meter.isascii():
            raise AnalysisInputError("%s: address must be 12 digits" % where, where=where, expected="12 digits",
                                     got=meter)
        if replaced is not None and (not isinstance(replaced, (tuple, list)) or len(replaced) != 2):
            raise AnalysisInputError("%s: replaced must be (old_end_kwh, new_start_kwh), got %r" % (where, replaced),
                                     where=where, expected="a pair", got=replaced)
        for name, value in (("start_kwh", start_kwh), ("end_kwh", end_kwh)) + tuple(
                zip(("old_end_kwh", "new_start_kwh"), replaced or ())):
            if value is not None and not is_number(value):
                raise AnalysisInputError("%s: %s must be a number or None, got %r" % (where, name, value),
                                         where=where, expected="number or None", got=value)
        for name, value in (("ct", ct), ("pt", pt)):
            if not is_number(value) or value <= 0:
                raise AnalysisInputError("%s: %s must be a number > 0, got %r" % (where, name, value),
                                         where=where, expected="number > 0", got=value)
        self.meter, self.start_kwh, self.end_kwh, self.ct, self.pt = meter, start_kwh, end_kwh, ct, pt
        self.replaced = None if replaced is None else tuple(replaced)

    def energy(self, cfg):
        """(kWh x CT x PT or None, why not / what was adjusted or None)."""
        if self.replaced is None:
            spans = [("", self.start_kwh, self.end_kwh)]
        else:
            spans = [("old meter ", self.start_kwh, self.replaced[0]), ("new meter ", self.replaced[1], self.end_kwh)]
        total, notes = 0.0, []
        for label, start, end in spans:
            if start is None:
                return None, "%sno %s reading" % (label, "first" if label == "new meter " else "start")
            if end is None:
                return None, "%sno %s reading" % (label, "final" if label == "old meter " else "end")
            delta, how = energy_delta(start, end, cfg.register_wrap_kwh, cfg.rollover_max_kwh,
                                      cfg.decrease_tolerance_kwh)
            if how == DECREASE:
                return None, "%swent backwards from %s to %s kWh" % (label, fmt(start), fmt(end))
            if how == ROLLOVER:
                notes.append("%srolled over from %s to %s kWh" % (label, fmt(start), fmt(end)))
            total += delta
        if self.replaced is not None:
            notes.insert(0, "replaced")
        return total * self.ct * self.pt, ", ".join(notes) or None


def line_loss(area, cycle, from_t, to_t, supply, customers, config=None):
    """The energy balance of one area over one period, as a lineloss v2 body.

    Args:
        area: the transformer area id.
        cycle: the period's cycle id (a day "2024-06-01" or a month "2024-06").
        from_t, to_t: the period (UTC ms).
        supply: ``MeterEnergy`` of the area (supply) meter.
        customers: ``MeterEnergy`` of every customer meter in the area.
        config: a ``LineLossConfig`` (defaults when None).

    Returns:
        a dict following lineloss v2.

    Raises:
        AnalysisInputError: a bad area or period, a meter listed twice, the supply
            meter among the customers, more than 4095 customers.
    """
    cfg = config if config is not None else LineLossConfig()
    where = "line loss of area %r" % (area,)
    if type(area) is not str or not is_identifier(area):
        raise AnalysisInputError("%s: area must be an identifier" % where, where=where, expected="identifier",
                                 got=area)
    for name, t in (("from_t", from_t), ("to_t", to_t)):
        if type(t) is not int or t < 0:
            raise AnalysisInputError("%s: %s must be UTC ms (int >= 0), got %r" % (where, name, t),
                                     where=where, expected="int >= 0", got=t)
    if to_t < from_t:
        raise AnalysisInputError("%s: to_t %d is before from_t %d" % (where, to_t, from_t), where=where,
                                 expected="to_t >= from_t", got=to_t)
    customers = list(customers)
    if not isinstance(supply, MeterEnergy) or not all(isinstance(c, MeterEnergy) for c in customers):
        raise AnalysisInputError("%s: supply and customers must be MeterEnergy" % where, where=where,
                                 expected="MeterEnergy", got=supply)
    seen = set()
    for c in customers:
        if c.meter in seen or c.meter == supply.meter:
            raise AnalysisInputError("%s: meter %s is listed twice%s" % (
                where, c.meter, " (it is the supply meter)" if c.meter == supply.meter else ""),
                where=where, expected="each meter once", got=c.meter)
        seen.add(c.meter)
    if len(customers) > MAX_CUSTOMERS:
        raise AnalysisInputError("%s: %d customer meters, at most %d fit one record" % (
            where, len(customers), MAX_CUSTOMERS), where=where, expected=MAX_CUSTOMERS, got=len(customers))

    missing, notes = [], []
    supplied, why = supply.energy(cfg)
    if supplied is None:
        missing.append(supply.meter)
    if why:
        notes.append("supply %s %s" % (supply.meter, why))
    billed, counted = 0.0, 0
    for c in sorted(customers, key=lambda m: m.meter):
        energy, why = c.energy(cfg)
        if energy is None:
            missing.append(c.meter)
        else:
            billed += energy
            counted += 1
        if why:
            notes.append("%s %s" % (c.meter, why))
    billed = round(billed, 3)
    for name, total in (("supplied", supplied), ("billed", billed)):
        if total is not None and total > MAX_KWH:
            raise AnalysisInputError("%s: %s energy %g kWh exceeds the 1e+12 kWh a record carries (check the "
                                     "CT and PT ratios)" % (where, name, total), where=where,
                                     expected="<= 1e12 kWh", got=total)
    body = {"area": area, "cycle": cycle, "from_t": from_t, "to_t": to_t, "supply": supply.meter,
            "supplied_kwh": None if supplied is None else round(supplied, 3), "billed_kwh": billed,
            "loss_kwh": None, "loss_pct": None, "meters": counted, "meters_expected": len(customers),
            "missing": missing, "low_pct": cfg.low_pct, "high_pct": cfg.high_pct}
    if missing:
        body["status"] = "incomplete"
    else:
        loss = round(body["supplied_kwh"] - billed, 3)
        body["loss_kwh"] = loss
        if body["supplied_kwh"] > 0:
            body["loss_pct"] = round(100.0 * loss / body["supplied_kwh"], 3)
            inside = cfg.low_pct <= body["loss_pct"] <= cfg.high_pct
        else:
            inside = loss == 0
        body["status"] = "ok" if inside else "out-of-band"
    if notes:
        body["detail"] = clip("; ".join(notes))
    return body
