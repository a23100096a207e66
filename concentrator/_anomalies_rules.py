"""The anomaly rules (M-08, M-09): pure functions from a meter's own values to a ``Finding``.

Each rule takes values (readings as ``Point``s, counters, per-meter facts)
and the validated ``AnomalyConfig`` and returns a ``Finding``: the condition
is present or absent, with the value measured, the threshold it was
compared with, the readings compared (evidence) and a sentence naming them.
A rule returns None when it cannot tell (no earlier reading, an item not
read this cycle, a value the meter filled with FF): unknown is not absent,
so the raise/clear state machine (_anomalies.py) neither raises nor clears
on it. Rules compare strictly: a value exactly at its threshold does not
trigger. No I/O, no clock reads: times come in with the values.

``CODES`` maps every code to its M-09 class; docs/anomalies.md gives each
rule and the reason for its default.
"""

import datetime
from collections import namedtuple
from types import MappingProxyType

from ._anomalies_common import (DECREASE, ROLLOVER, Key, check_config, config_error, energy_delta, fmt)

ACQUISITION = "acquisition-failure"
METERING = "metering"
USAGE = "usage"

# code -> M-09 class, in report order (built once, never mutated).
CODES = MappingProxyType({
    "no-reply": ACQUISITION,
    "error-reply": ACQUISITION,
    "garbled-reply": ACQUISITION,
    "meter-without-record": ACQUISITION,     # 有表无信息 (M-08)
    "record-without-meter": ACQUISITION,     # 有信息无表 (M-08)
    "energy-decrease": METERING,
    "reverse-energy": METERING,
    "clock-drift": METERING,
    "voltage-loss": METERING,
    "phase-failure": METERING,
    "consumption-jump": USAGE,               # 电量异常 (M-08)
    "consumption-stall": USAGE,
})

# Registry names (protocols.dlt645 known_items; the same in 2007 and 1997).
FORWARD = "forward_active_total"
REVERSE = "reverse_active_total"
DATE = "date"
TIME = "time"
PHASES = ("a", "b", "c")
VOLTAGES = tuple("voltage_" + p for p in PHASES)
CURRENTS = tuple("current_" + p for p in PHASES)
USED_ITEMS = frozenset((FORWARD, REVERSE, DATE, TIME) + VOLTAGES + CURRENTS)

# One reading of one item: value, when the meter answered (UTC ms), cycle id.
Point = namedtuple("Point", "value read_t cycle")

_K = [
    Key("decrease_tolerance_kwh", "number", 0.01, 0, 1000,
        "one count of a XXXXXX.XX register: a smaller drop is rounding, not a meter going backwards"),
    Key("register_wrap_kwh", "number", 1000000.0, 0, 1e12,
        "DL/T 645 energy is XXXXXX.XX: the register counts modulo 1,000,000 kWh", lo_open=True),
    Key("rollover_max_kwh", "number", 10000.0, 0, 1e12,
        "a drop is taken as a wrap only if the wrapped advance is plausible for one interval"),
    Key("jump_factor", "number", 5.0, 1, 1000,
        "five times the meter's own median rate: well above weekday/weekend and weather swings"),
    Key("jump_floor_kwh", "number", 5.0, 0, 1e9,
        "a household using 0.5 kWh a day is not flagged for using 3"),
    Key("history_intervals", "int", 8, 1, 366, "about a week of daily intervals, plus one"),
    Key("history_min_intervals", "int", 3, 1, 366, "a median of fewer intervals says little"),
    Key("stall_intervals", "int", 3, 1, 366, "three days at zero is more than a weekend away"),
    Key("stall_zero_kwh", "number", 0.01, 0, 1e6, "one register count: below it nothing was used"),
    Key("stall_active_fraction", "number", 0.8, 0, 1,
        "only meters that normally use energy in most intervals can stall", lo_open=True),
    Key("reverse_tolerance_kwh", "number", 0.01, 0, 1e6, "one register count"),
    Key("clock_limit_s", "number", 300.0, 0, 1e7,
        "5 minutes: beyond it time-of-use (M-14) and freeze times are misassigned", lo_open=True),
    Key("meter_utc_offset_min", "int", 480, -720, 840, "meters keep the hall's local time, Asia/Shanghai"),
    Key("voltage_loss_fraction", "number", 0.78, 0, 1,
        "the loss-of-voltage level meters themselves commonly use (78 % of nominal)", lo_open=True),
    Key("voltage_normal_fraction", "number", 0.85, 0, 2,
        "another phase at 85 % or more of nominal shows the supply is there", lo_open=True),
    Key("current_present_a", "number", 0.05, 0, 1e4, "above meter noise, below any real load"),
    Key("no_reply_count", "int", 3, 1, 1000, "one cycle's retries: a single lost frame is noise"),
    Key("bad_reply_window", "int", 10, 1, 1000, "the last ten reads of the meter"),
    Key("bad_reply_count", "int", 3, 1, 1000, "three bad answers in ten reads is not chance"),
    Key("search_miss_count", "int", 2, 1, 100, "one search can miss a meter on a noisy line"),
    Key("raise_after", "int", 1, 1, 100, "rules already count; raise when the condition is seen"),
    Key("clear_after", "int", 2, 1, 100, "gone for two observations before clearing: no flapping"),
]
ANOMALY_KEYS = MappingProxyType({k.name: k for k in _K})


class AnomalyConfig:
    """Validated anomaly thresholds. Keys and defaults: ``ANOMALY_KEYS`` (docs/anomalies.md).

    Args:
        values: a mapping of keys to override (a TOML ``[anomalies]`` table).

    Raises:
        AnalysisConfigError: unknown key, wrong type, out of range, or keys that
            contradict each other (named with their values).
    """

    __slots__ = ("_values",)

    def __init__(self, values=None):
        what = "anomaly config"
        v = check_config(ANOMALY_KEYS, {} if values is None else values, what)
        if v["history_min_intervals"] > v["history_intervals"]:
            raise config_error(what, "history_min_intervals must not exceed history_intervals",
                               {k: v[k] for k in ("history_min_intervals", "history_intervals")})
        if v["bad_reply_count"] > v["bad_reply_window"]:
            raise config_error(what, "bad_reply_count must not exceed bad_reply_window",
                               {k: v[k] for k in ("bad_reply_count", "bad_reply_window")})
        if v["rollover_max_kwh"] >= v["register_wrap_kwh"]:
            raise config_error(what, "rollover_max_kwh must be below register_wrap_kwh",
                               {k: v[k] for k in ("rollover_max_kwh", "register_wrap_kwh")})
        if v["voltage_normal_fraction"] <= v["voltage_loss_fraction"]:
            raise config_error(what, "voltage_normal_fraction must be above voltage_loss_fraction",
                               {k: v[k] for k in ("voltage_normal_fraction", "voltage_loss_fraction")})
        object.__setattr__(self, "_values", v)

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("AnomalyConfig is read-only")

    def to_dict(self):
        """Every key with its value (defaults included)."""
        return dict(self._values)


class Finding:
    """What a rule saw: ``present`` or not, with evidence.

    Attributes:
        code: the rule's code (a key of ``CODES``).
        present: the condition holds.
        value, threshold: numbers (or None) in ``unit``.
        detail: one sentence naming the readings compared.
        evidence: list of {"name", "value", "read_t", "cycle"} maps, oldest first.
    """

    __slots__ = ("code", "present", "value", "threshold", "unit", "detail", "evidence")

    def __init__(self, code, present, value, threshold, unit, detail, evidence=()):
        self.code = code
        self.present = present
        self.value = value
        self.threshold = threshold
        self.unit = unit
        self.detail = detail
        self.evidence = list(evidence)[-16:]

    def __repr__(self):
        return "Finding(%r, present=%r, value=%r, threshold=%r)" % (self.code, self.present, self.value,
                                                                     self.threshold)


def item(name, point):
    """An evidence entry for one reading."""
    entry = {"name": name, "value": point.value, "read_t": point.read_t}
    if point.cycle is not None:
        entry["cycle"] = point.cycle
    return entry


def _at(name, point):
    return "%s %s kWh (cycle %s)" % (name, fmt(point.value), point.cycle)


# ---- energy: decrease, jump, stall --------------------------------------------

def _delta(cfg, start, end):
    return energy_delta(start.value, end.value, cfg.register_wrap_kwh, cfg.rollover_max_kwh,
                        cfg.decrease_tolerance_kwh)


def energy_decrease(prev, now, cfg):
    """energy-decrease: the forward active total went down by more than the tolerance (no rollover)."""
    if prev is None or now is None:
        return None
    delta, how = _delta(cfg, prev, now)
    evidence = [item(FORWARD, prev), item(FORWARD, now)]
    pair = "from %s to %s" % (_at(FORWARD, prev), fmt(now.value) + " kWh (cycle %s)" % now.cycle)
    if how == DECREASE:
        return Finding("energy-decrease", True, now.value - prev.value, -cfg.decrease_tolerance_kwh, "kWh",
                       "forward active energy went down by %s kWh %s" % (fmt(prev.value - now.value), pair),
                       evidence)
    note = " (register rolled over)" if how == ROLLOVER else ""
    return Finding("energy-decrease", False, now.value - prev.value, -cfg.decrease_tolerance_kwh, "kWh",
                   "forward active energy did not go down %s%s" % (pair, note), evidence)


def intervals(points, cfg):
    """(start, end, delta_kwh) for each pair of consecutive points whose delta is known (no decrease)."""
    out = []
    for start, end in zip(points, points[1:]):
        delta, how = _delta(cfg, start, end)
        if how != DECREASE and end.read_t > start.read_t:
            out.append((start, end, delta))
    return out


def _median(values):
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def consumption_jump(points, cfg):
    """consumption-jump: the last interval's energy is above ``jump_factor`` x the median of the
    meter's own earlier rates (per hour, scaled to this interval's length) and above ``jump_floor_kwh``.

    Args:
        points: the meter's forward-total ``Point``s, oldest first, the newest last.
    """
    if len(points) < 2:
        return None
    start, end = points[-2], points[-1]
    delta, how = _delta(cfg, start, end)
    if how == DECREASE or end.read_t <= start.read_t:
        return None
    history = intervals(points[:-1], cfg)[-cfg.history_intervals:]
    if len(history) < cfg.history_min_intervals:
        return None
    hours = (end.read_t - start.read_t) / 3600000.0
    median_rate = _median([d / ((e.read_t - s.read_t) / 3600000.0) for s, e, d in history])
    limit = max(cfg.jump_factor * median_rate * hours, cfg.jump_floor_kwh)
    present = delta > limit
    detail = ("%s kWh used from cycle %s (%s kWh) to cycle %s (%s kWh), %s limit %s kWh = max(%s x median "
              "%s kWh over %s h of the last %d intervals, floor %s kWh)" % (
                  fmt(delta), start.cycle, fmt(start.value), end.cycle, fmt(end.value),
                  "above" if present else "within", fmt(limit), fmt(cfg.jump_factor), fmt(median_rate * hours),
                  fmt(hours), len(history), fmt(cfg.jump_floor_kwh)))
    return Finding("consumption-jump", present, delta, limit, "kWh", detail,
                   [item(FORWARD, start), item(FORWARD, end)])


def consumption_stall(points, cfg):
    """consumption-stall: the last ``stall_intervals`` intervals used at most ``stall_zero_kwh`` each,
    while at least ``stall_active_fraction`` of the meter's earlier intervals (at least
    ``history_min_intervals`` of them) used more."""
    spans = intervals(points, cfg)
    n = cfg.stall_intervals
    if len(spans) < n:
        return None
    recent, earlier = spans[-n:], spans[:-n][-cfg.history_intervals:]
    idle = [d <= cfg.stall_zero_kwh for _s, _e, d in recent]
    first, last = recent[0][0], recent[-1][1]
    evidence = [item(FORWARD, first), item(FORWARD, last)]
    used = sum(d for _s, _e, d in recent)
    if not all(idle):
        return Finding("consumption-stall", False, used, cfg.stall_zero_kwh * n, "kWh",
                       "%s kWh used from cycle %s to cycle %s: not stalled" % (fmt(used), first.cycle, last.cycle),
                       evidence)
    if len(earlier) < cfg.history_min_intervals:
        return None
    active = sum(1 for _s, _e, d in earlier if d > cfg.stall_zero_kwh)
    regular = active >= cfg.stall_active_fraction * len(earlier)
    detail = ("%s kWh used over %d intervals from cycle %s (%s kWh) to cycle %s (%s kWh); %d of the %d intervals "
              "before used energy%s" % (fmt(used), n, first.cycle, fmt(first.value), last.cycle, fmt(last.value),
                                        active, len(earlier), "" if regular else ": no regular use, not a stall"))
    return Finding("consumption-stall", regular, used, cfg.stall_zero_kwh * n, "kWh", detail, evidence)


def reverse_energy(prev, now, cfg):
    """reverse-energy: the reverse active total of a customer meter rose by more than the tolerance."""
    if prev is None or now is None:
        return None
    delta, how = energy_delta(prev.value, now.value, cfg.register_wrap_kwh, cfg.rollover_max_kwh,
                              cfg.decrease_tolerance_kwh)
    if how == DECREASE:
        return None          # the register went backwards: energy-decrease's business, not this rule's
    present = delta > cfg.reverse_tolerance_kwh
    detail = "reverse active energy rose by %s kWh from %s to %s kWh (cycle %s)%s" % (
        fmt(delta), _at(REVERSE, prev), fmt(now.value), now.cycle,
        " on a customer meter" if present else "")
    return Finding("reverse-energy", present, delta, cfg.reverse_tolerance_kwh, "kWh", detail,
                   [item(REVERSE, prev), item(REVERSE, now)])


# ---- clock ---------------------------------------------------------------------

def meter_clock_ms(date_point, time_point, utc_offset_min):
    """The meter's clock as UTC ms when it answered the time read, or None when not parseable.

    The date and time are two reads: when local midnight passed between them
    (by the concentrator's clock), the date is moved on by the days that passed.
    """
    if not isinstance(date_point.value, str) or not isinstance(time_point.value, str):
        return None
    try:
        day = datetime.date.fromisoformat(date_point.value[:10])
        clock = datetime.time.fromisoformat(time_point.value[:8])
    except ValueError:
        return None
    offset_ms = utc_offset_min * 60000
    days_between = (time_point.read_t + offset_ms) // 86400000 - (date_point.read_t + offset_ms) // 86400000
    local = datetime.datetime.combine(day, clock, tzinfo=datetime.timezone.utc)
    return int(local.timestamp() * 1000) + days_between * 86400000 - offset_ms


def clock_drift(date_point, time_point, clock_err_ms, cfg):
    """clock-drift: |meter clock - concentrator clock at the reply| above ``clock_limit_s`` plus the
    uncertainty (the concentrator's clock error bound and the meter's 1 s resolution).

    Args:
        clock_err_ms: the concentrator's bound on its own clock error; None when its
            clock is unknown (then nothing can be said).
    """
    if date_point is None or time_point is None or clock_err_ms is None:
        return None
    meter_ms = meter_clock_ms(date_point, time_point, cfg.meter_utc_offset_min)
    if meter_ms is None:
        return None
    drift_s = (meter_ms - time_point.read_t) / 1000.0
    margin_s = (clock_err_ms + 1000) / 1000.0
    present = abs(drift_s) > cfg.clock_limit_s + margin_s
    detail = "meter clock %sT%s is %s s %s the concentrator's clock when it answered; limit %s s + %s s " \
             "uncertainty" % (date_point.value[:10], time_point.value[:8], fmt(abs(drift_s)),
                              "ahead of" if drift_s >= 0 else "behind", fmt(cfg.clock_limit_s), fmt(margin_s))
    return Finding("clock-drift", present, round(drift_s, 3), cfg.clock_limit_s, "s", detail,
                   [item(DATE, date_point), item(TIME, time_point)])


# ---- voltage -------------------------------------------------------------------

def _number(point):
    return point is not None and type(point.value) in (int, float)


def voltage_rules(volts, amps, phases, nominal_v, cfg):
    """voltage-loss and phase-failure from one cycle's phase voltages and currents.

    * voltage-loss (失压): a phase below ``voltage_loss_fraction`` x nominal while
      current above ``current_present_a`` flows in it (the meter under-registers).
    * phase-failure (断相, three-phase meters only): a phase below that level with no
      current, while another phase is at least ``voltage_normal_fraction`` x nominal.
      All phases low is an outage, not a phase failure.

    Single-phase meters are judged on phase A only.

    Args:
        volts, amps: {phase letter: Point or None}.
        phases: 1 or 3.

    Returns:
        (voltage-loss Finding or None, phase-failure Finding or None).
    """
    used = PHASES[:1] if phases == 1 else PHASES
    if not all(_number(volts.get(p)) for p in used):
        return None, None
    low_v = cfg.voltage_loss_fraction * nominal_v
    normal_v = cfg.voltage_normal_fraction * nominal_v
    lost = [p for p in used if volts[p].value < low_v]
    lowest = min(used, key=lambda p: volts[p].value)
    shown = ", ".join("%s %s V" % (p.upper(), fmt(volts[p].value)) for p in used)
    evidence = [item("voltage_" + p, volts[p]) for p in used]
    with_current = [p for p in lost if _number(amps.get(p)) and amps[p].value > cfg.current_present_a]
    current_unknown = [p for p in lost if not _number(amps.get(p))]
    if with_current:
        p = with_current[0]
        loss = Finding("voltage-loss", True, volts[p].value, low_v, "V",
                       "phase %s at %s V (below %s V = %s x %s V nominal) carries %s A; phases: %s" % (
                           p.upper(), fmt(volts[p].value), fmt(low_v), fmt(cfg.voltage_loss_fraction),
                           fmt(nominal_v), fmt(amps[p].value), shown),
                       evidence + [item("current_" + p, amps[p])])
    elif current_unknown:
        loss = None
    else:
        loss = Finding("voltage-loss", False, volts[lowest].value, low_v, "V",
                       "no phase below %s V carries current; phases: %s" % (fmt(low_v), shown), evidence)
    if phases == 1:
        return loss, None
    healthy = [p for p in used if volts[p].value >= normal_v]
    dead = [p for p in lost if p not in with_current and p not in current_unknown]
    if dead and healthy:
        p = dead[0]
        failure = Finding("phase-failure", True, volts[p].value, low_v, "V",
                          "phase %s at %s V with no current while phase %s is at %s V (normal from %s V); "
                          "phases: %s" % (p.upper(), fmt(volts[p].value), healthy[0].upper(),
                                          fmt(volts[healthy[0]].value), fmt(normal_v), shown), evidence)
    elif current_unknown and healthy:
        failure = None
    else:
        why = "all phases low: an outage" if lost and not healthy else "no phase failed"
        failure = Finding("phase-failure", False, volts[lowest].value, low_v, "V",
                          "%s; phases: %s" % (why, shown), evidence)
    return loss, failure


# ---- acquisition ----------------------------------------------------------------

def no_reply(failures, last_reads, cfg):
    """no-reply: ``failures`` consecutive reads got no reply (``no_reply_count`` or more)."""
    present = failures >= cfg.no_reply_count
    detail = "%d consecutive reads got no reply (raised at %d)" % (failures, cfg.no_reply_count)
    return Finding("no-reply", present, failures, cfg.no_reply_count, "reads", detail, last_reads)


def bad_replies(code, result, window, cfg):
    """error-reply / garbled-reply: ``bad_reply_count`` or more of the last ``bad_reply_window`` reads
    were abnormal (error) replies / garbled frames.

    Args:
        window: the meter's last reads, [result, error code or None, read_t, item name].
    """
    hits = [entry for entry in window if entry[0] == result]
    present = len(hits) >= cfg.bad_reply_count
    what = "abnormal replies" if result == "abnormal" else "garbled replies"
    detail = "%d of the last %d reads were %s (raised at %d)" % (len(hits), len(window), what, cfg.bad_reply_count)
    errors = sorted({str(entry[1]) for entry in hits if entry[1] is not None})
    if errors:
        detail += "; error codes %s" % ", ".join(errors)
    evidence = [{"name": entry[3] or "read", "value": result if entry[1] is None else "%s %s" % (result, entry[1]),
                 "read_t": entry[2]} for entry in hits]
    return Finding(code, present, len(hits), cfg.bad_reply_count, "reads", detail, evidence)
