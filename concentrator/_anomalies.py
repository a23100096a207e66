"""Reading anomalies of a transformer area's meters (M-08, M-09): the sans-I/O monitor.

``AnomalyMonitor`` keeps each meter's own short history (its last forward
and reverse totals, its consecutive failed reads, its last read results,
its search misses) and one raise/clear state per (meter, code). The agent
feeds it one closed reading cycle at a time (``close_cycle``) and each
search of a line (``observe_search``), with ``now_ms`` from its clock; the
monitor returns anomaly record bodies (``protocols.records`` anomaly v2).

Invariants:

* A rule's finding is present, absent or unknown (_anomalies_rules.py).
  Unknown changes nothing: a meter that was not read is not cleared.
* Raise once: an anomaly is raised after ``raise_after`` consecutive present
  observations (cycles, or searches for the search rules) and then stays
  raised, silently, while present. It is cleared after ``clear_after``
  consecutive absent observations. So raised and cleared alternate, starting
  with raised, per (meter, code).
* All inputs of a call are validated before any state changes.
* ``state_dict()`` is plain JSON (dicts, lists, str, int, float, bool, None);
  ``AnomalyMonitor(..., state=d)`` continues exactly where it stopped.
"""

from types import MappingProxyType

from . import _anomalies_rules as R
from ._anomalies_common import AnalysisInputError, AnalysisStateError, clip, is_number
from ._anomalies_rules import CODES, AnomalyConfig, Point

BODY_VERSION = 2                 # protocols.records anomaly body version the monitor writes
STATE_VERSION = 1
RESULTS = ("replied", "no-reply", "abnormal", "garbled")
ROLES = ("customer", "supply")
_ADDRESS_DIGITS = frozenset("0123456789")
_READING_CODES = tuple(c for c in CODES if c not in ("meter-without-record", "record-without-meter"))


def _check_address(address, where):
    if type(address) is not str or len(address) != 12 or not set(address) <= _ADDRESS_DIGITS:
        raise AnalysisInputError("%s: meter address must be 12 digits, got %r" % (where, address),
                                 where=where, expected="12 digits", got=address)


def _check_t(t_ms, where):
    if type(t_ms) is not int or t_ms < 0:
        raise AnalysisInputError("%s: expected a time in UTC ms (int >= 0), got %r" % (where, t_ms),
                                 where=where, expected="int >= 0", got=t_ms)


class MeterFacts:
    """What the archive says of one meter.

    Args:
        address: 12-digit nameplate address.
        role: "customer" or "supply" (the area meter).
        ct, pt: current and voltage transformer ratios (> 0).
        phases: 1 or 3.
        nominal_v: nominal phase voltage (220 V; 57.7 V for 3x100 V meters).
        exports: the customer feeds energy in (solar): reverse energy is expected.
        area: the transformer area id, or None.

    Raises:
        AnalysisInputError: a fact of the wrong type or out of range.
    """

    __slots__ = ("address", "role", "ct", "pt", "phases", "nominal_v", "exports", "area")

    def __init__(self, address, role="customer", ct=1, pt=1, phases=1, nominal_v=220.0, exports=False, area=None):
        where = "meter facts of %r" % (address,)
        _check_address(address, where)
        if role not in ROLES:
            raise AnalysisInputError("%s: role must be one of %s, got %r" % (where, ", ".join(ROLES), role),
                                     where=where, expected=ROLES, got=role)
        for name, value in (("ct", ct), ("pt", pt), ("nominal_v", nominal_v)):
            if not is_number(value) or value <= 0:
                raise AnalysisInputError("%s: %s must be a number > 0, got %r" % (where, name, value),
                                         where=where, expected="number > 0", got=value)
        if phases not in (1, 3) or type(phases) is not int:
            raise AnalysisInputError("%s: phases must be 1 or 3, got %r" % (where, phases),
                                     where=where, expected=(1, 3), got=phases)
        if type(exports) is not bool:
            raise AnalysisInputError("%s: exports must be true or false, got %r" % (where, exports),
                                     where=where, expected="bool", got=exports)
        self.address, self.role, self.ct, self.pt = address, role, ct, pt
        self.phases, self.nominal_v, self.exports, self.area = phases, nominal_v, exports, area

    @classmethod
    def from_archive(cls, meter, nominal_v=220.0, exports=False):
        """The facts of an archive entry (``concentrator.archive`` ``ArchiveMeter``: address, role,
        ct_ratio, pt_ratio, phases, area); the archive has no nominal voltage or export flag yet."""
        return cls(meter.address, role=meter.role, ct=meter.ct_ratio, pt=meter.pt_ratio, phases=meter.phases,
                   nominal_v=nominal_v, exports=exports, area=meter.area)


class Reading:
    """One value read from one meter: the fields of a reading record body.

    ``Reading.from_body(body)`` takes a reading record body as it is.
    """

    __slots__ = ("meter", "name", "value", "read_t", "cycle")

    def __init__(self, meter, name, value, read_t, cycle):
        self.meter, self.name, self.value, self.read_t, self.cycle = meter, name, value, read_t, cycle

    @classmethod
    def from_body(cls, body):
        return cls(body["meter"], body["name"], body["value"], body["read_t"], body["cycle"])


class ReadResult:
    """How one read of one meter ended.

    Args:
        meter: the address asked.
        result: "replied", "no-reply", "abnormal" (an error reply, DL/T 645 §10) or "garbled".
        t_ms: when the read ended.
        error: the abnormal reply's error code (int bits or text), else None.
        name: the item asked, or None.
    """

    __slots__ = ("meter", "result", "t_ms", "error", "name")

    def __init__(self, meter, result, t_ms, error=None, name=None):
        self.meter, self.result, self.t_ms, self.error, self.name = meter, result, t_ms, error, name


def _new_meter():
    return {"energy": [], "reverse": None, "failures": 0, "reads": [], "misses": 0}


def _new_alarm():
    return {"raised": False, "present": 0, "absent": 0, "t": None}


class AnomalyMonitor:
    """The anomaly state of one concentrator's meters.

    Args:
        archive: {address: MeterFacts} of the meters the concentrator reads.
        config: an ``AnomalyConfig`` (defaults when None).
        state: a dict from ``state_dict()`` to continue from, or None.

    Raises:
        AnalysisInputError: the archive is malformed.
        AnalysisStateError: ``state`` is not what ``state_dict`` writes.
    """

    def __init__(self, archive, config=None, state=None):
        for address, facts in archive.items():
            if not isinstance(facts, MeterFacts) or facts.address != address:
                raise AnalysisInputError("archive entry %r is not the MeterFacts of that address" % (address,),
                                         where="archive", expected="MeterFacts", got=facts)
        self.archive = MappingProxyType(dict(archive))
        self.config = config if config is not None else AnomalyConfig()
        self._meters = {}
        self._alarms = {}
        if state is not None:
            self._meters, self._alarms = _load_state(state)

    # ---- inputs ----

    def close_cycle(self, cycle, readings, results, now_ms, clock_err_ms=0):
        """Evaluate every reading rule for the meters read (or tried) in one closed cycle.

        Args:
            cycle: the cycle id (reading record ``cycle``).
            readings: iterable of ``Reading`` (other item names are ignored).
            results: iterable of ``ReadResult``, one per read tried.
            now_ms: the concentrator's clock at the close (UTC ms).
            clock_err_ms: the concentrator's clock error bound (record ``tq.err_ms``);
                None when its clock is unknown: clock drift is then not judged.

        Returns:
            anomaly v2 bodies, raised and cleared, by meter then code.

        Raises:
            AnalysisInputError: a reading or result that is malformed or of a
                meter not in the archive; nothing has changed then.
        """
        _check_t(now_ms, "cycle %s close" % cycle)
        if clock_err_ms is not None and (type(clock_err_ms) is not int or clock_err_ms < 0):
            raise AnalysisInputError("clock_err_ms must be an int >= 0 or None, got %r" % (clock_err_ms,),
                                     where="clock_err_ms", expected="int >= 0 or None", got=clock_err_ms)
        values, reads = self._validated(cycle, readings, results)
        bodies = []
        for meter in sorted(set(values) | set(reads)):
            findings = self._findings(meter, values.get(meter, {}), reads.get(meter, []), clock_err_ms)
            for code in _READING_CODES:
                if code in findings:
                    bodies.extend(self._step(meter, findings[code], now_ms, cycle))
        return bodies

    def observe_search(self, found, expected, now_ms, complete=True, area=None):
        """Compare a search of one line with the archive (M-08 有表无信息 / 有信息无表).

        Args:
            found: addresses that answered the search.
            expected: archive addresses that should be on this line.
            now_ms: the concentrator's clock (UTC ms).
            complete: False when the search left collisions unresolved: a
                meter not found may then still be there, so absence says nothing.
            area: the line's transformer area id, put in the bodies.

        Returns:
            anomaly v2 bodies for meter-without-record and record-without-meter.
        """
        _check_t(now_ms, "search")
        found, expected = set(found), set(expected)
        for address in sorted(found | expected):
            _check_address(address, "search result")
        cfg = self.config
        bodies = []
        known = {m for m, codes in self._alarms.items() if "meter-without-record" in codes}
        for meter in sorted(found | known):
            if meter in found and meter not in expected:
                present = True
            elif meter in expected or complete:
                present = False
            else:
                continue
            detail = ("meter %s answered the search but is not in the archive of this line" % meter if present
                      else "meter %s is %s" % (meter, "in the archive now" if meter in expected
                                               else "no longer found on the line"))
            finding = R.Finding("meter-without-record", present, None, None, "", detail)
            bodies.extend(self._step(meter, finding, now_ms, None, area))
        for meter in sorted(expected):
            state = self._meters.setdefault(meter, _new_meter())
            if meter in found:
                state["misses"] = 0
            elif complete:
                state["misses"] += 1
            else:
                continue
            misses = state["misses"]
            present = misses >= cfg.search_miss_count
            detail = ("meter %s of the archive was not found in %d consecutive searches of its line "
                      "(raised at %d)" % (meter, misses, cfg.search_miss_count)) if misses else \
                "meter %s of the archive answered the search" % meter
            finding = R.Finding("record-without-meter", present, misses, cfg.search_miss_count, "searches", detail)
            bodies.extend(self._step(meter, finding, now_ms, None, area))
        return bodies

    def retire(self, meter, now_ms):
        """Forget a meter removed from the archive; clear its raised anomalies.

        Returns:
            anomaly v2 bodies clearing what was raised for it.
        """
        _check_t(now_ms, "retire %s" % meter)
        bodies = []
        for code, alarm in sorted(self._alarms.pop(meter, {}).items()):
            if alarm["raised"]:
                bodies.append(self._body(meter, code, "cleared", R.Finding(
                    code, False, None, None, "", "meter %s was removed from the archive" % meter), now_ms, None))
        self._meters.pop(meter, None)
        return bodies

    # ---- state ----

    def active(self):
        """Sorted (meter, code) of every raised anomaly."""
        return sorted((m, c) for m, codes in self._alarms.items() for c, a in codes.items() if a["raised"])

    def state_dict(self):
        """The monitor's state as plain JSON-able data (see ``AnomalyMonitor(state=...)``)."""
        return {
            "v": STATE_VERSION,
            "meters": {m: {"energy": [list(p) for p in s["energy"]],
                           "reverse": None if s["reverse"] is None else list(s["reverse"]),
                           "failures": s["failures"], "reads": [list(r) for r in s["reads"]],
                           "misses": s["misses"]} for m, s in sorted(self._meters.items())},
            "alarms": {m: {c: dict(a) for c, a in sorted(codes.items())} for m, codes in sorted(self._alarms.items())},
        }

    # ---- internals ----

    def _validated(self, cycle, readings, results):
        values, reads = {}, {}
        for reading in readings:
            where = "reading %r of meter %r" % (getattr(reading, "name", None), getattr(reading, "meter", None))
            if not isinstance(reading, Reading):
                raise AnalysisInputError("expected a Reading, got %r" % (reading,), where="readings",
                                         expected="Reading", got=reading)
            self._check_meter(reading.meter, where)
            _check_t(reading.read_t, where)
            if reading.name not in R.USED_ITEMS:
                continue
            value = reading.value
            text_item = reading.name in (R.DATE, R.TIME)
            if value is not None and not (isinstance(value, str) if text_item else is_number(value)):
                raise AnalysisInputError("%s: expected %s or null, got %r" % (
                    where, "time text" if text_item else "a number", value),
                    where=where, expected="text" if text_item else "number", got=value)
            mine = values.setdefault(reading.meter, {})
            point = Point(value, reading.read_t, reading.cycle)
            if reading.name not in mine or mine[reading.name].read_t <= point.read_t:
                mine[reading.name] = point
        for result in results:
            where = "read result of meter %r" % (getattr(result, "meter", None),)
            if not isinstance(result, ReadResult):
                raise AnalysisInputError("expected a ReadResult, got %r" % (result,), where="results",
                                         expected="ReadResult", got=result)
            self._check_meter(result.meter, where)
            _check_t(result.t_ms, where)
            if not (result.error is None or type(result.error) in (int, str)) or \
                    not (result.name is None or isinstance(result.name, str)):
                raise AnalysisInputError("%s: error must be an int, text or None and name text or None, got %r, %r"
                                         % (where, result.error, result.name), where=where,
                                         expected="int/text/None", got=result.error)
            if result.result not in RESULTS:
                raise AnalysisInputError("%s: result must be one of %s, got %r" % (
                    where, ", ".join(RESULTS), result.result), where=where, expected=RESULTS, got=result.result)
            reads.setdefault(result.meter, []).append(result)
        for listed in reads.values():
            listed.sort(key=lambda r: r.t_ms)
        return values, reads

    def _check_meter(self, meter, where):
        _check_address(meter, where)
        if meter not in self.archive:
            raise AnalysisInputError("%s: meter %s is not in the archive" % (where, meter),
                                     where=where, expected="an archive meter", got=meter)

    def _findings(self, meter, values, reads, clock_err_ms):
        cfg, facts = self.config, self.archive[meter]
        state = self._meters.setdefault(meter, _new_meter())
        out = {}
        if reads:
            tried = []
            for read in reads:
                if read.result == "no-reply":
                    state["failures"] += 1
                    tried.append({"name": read.name or "read", "value": "no-reply", "read_t": read.t_ms})
                elif read.result in ("replied", "abnormal"):
                    state["failures"] = 0
                    tried = []
                state["reads"].append([read.result, read.error, read.t_ms, read.name])
            state["reads"] = state["reads"][-cfg.bad_reply_window:]
            out["no-reply"] = R.no_reply(state["failures"], tried, cfg)
            out["error-reply"] = R.bad_replies("error-reply", "abnormal", state["reads"], cfg)
            out["garbled-reply"] = R.bad_replies("garbled-reply", "garbled", state["reads"], cfg)
        forward = values.get(R.FORWARD)
        if forward is not None and forward.value is not None:
            points = [Point(*p) for p in state["energy"]]
            if not points or forward.read_t > points[-1].read_t:
                out["energy-decrease"] = R.energy_decrease(points[-1] if points else None, forward, cfg)
                points.append(forward)
                out["consumption-jump"] = R.consumption_jump(points, cfg)
                out["consumption-stall"] = R.consumption_stall(points, cfg)
                keep = cfg.history_intervals + cfg.stall_intervals + 1
                state["energy"] = [list(p) for p in points[-keep:]]
        reverse = values.get(R.REVERSE)
        if reverse is not None and reverse.value is not None:
            prev = None if state["reverse"] is None else Point(*state["reverse"])
            if prev is None or reverse.read_t > prev.read_t:
                if facts.role == "customer" and not facts.exports:
                    out["reverse-energy"] = R.reverse_energy(prev, reverse, cfg)
                state["reverse"] = list(reverse)
        out["clock-drift"] = R.clock_drift(values.get(R.DATE), values.get(R.TIME), clock_err_ms, cfg)
        volts = {p: values.get("voltage_" + p) for p in R.PHASES}
        amps = {p: values.get("current_" + p) for p in R.PHASES}
        out["voltage-loss"], out["phase-failure"] = R.voltage_rules(volts, amps, facts.phases, facts.nominal_v, cfg)
        return {code: finding for code, finding in out.items() if finding is not None}

    def _step(self, meter, finding, now_ms, cycle, area=None):
        """Feed one finding to the (meter, code) raise/clear machine; the bodies it emits."""
        cfg = self.config
        codes = self._alarms.setdefault(meter, {})
        alarm = codes.setdefault(finding.code, _new_alarm())
        emitted = []
        if finding.present:
            alarm["absent"] = 0
            alarm["present"] += 1
            if alarm["present"] == 1:
                alarm["t"] = now_ms
            if not alarm["raised"] and alarm["present"] >= cfg.raise_after:
                alarm["raised"] = True
                emitted.append(self._body(meter, finding.code, "raised", finding, alarm["t"], cycle, area))
        else:
            alarm["present"] = 0
            if alarm["raised"]:
                alarm["absent"] += 1
                if alarm["absent"] == 1:
                    alarm["t"] = now_ms
                if alarm["absent"] >= cfg.clear_after:
                    alarm["raised"] = False
                    emitted.append(self._body(meter, finding.code, "cleared", finding, alarm["t"], cycle, area))
        if not alarm["raised"] and alarm["present"] == 0:
            del codes[finding.code]          # nothing to remember: keep the state small
            if not codes:
                del self._alarms[meter]
        return emitted

    def _body(self, meter, code, state, finding, since_t, cycle, area=None):
        body = {"meter": meter, "class": CODES[code], "code": code, "state": state, "value": finding.value,
                "threshold": finding.threshold, "unit": finding.unit, "since_t": since_t,
                "evidence": finding.evidence, "detail": clip(finding.detail)}
        if cycle is not None:
            body["cycle"] = cycle
        area = area if area is not None else getattr(self.archive.get(meter), "area", None)
        if area is not None:
            body["area"] = area
        return body


def _load_state(state):
    """Check and copy a ``state_dict``; (meters, alarms)."""
    def bad(where, expected, got):
        return AnalysisStateError("anomaly state %s: expected %s, got %r" % (where, expected, got),
                                  where=where, expected=expected, got=got)

    def count(value, where):
        if type(value) is not int or value < 0:
            raise bad(where, "an int >= 0", value)
        return value

    def point(value, where):
        if not isinstance(value, list) or len(value) != 3 or not is_number(value[0]) \
                or type(value[1]) is not int or not (value[2] is None or isinstance(value[2], str)):
            raise bad(where, "[kWh, read_t, cycle]", value)
        return list(value)

    if not isinstance(state, dict) or state.get("v") != STATE_VERSION or set(state) != {"v", "meters", "alarms"}:
        raise bad("", "a map with v %d, meters and alarms" % STATE_VERSION, state)
    if not isinstance(state["meters"], dict) or not isinstance(state["alarms"], dict):
        raise bad("meters/alarms", "maps", state)
    meters = {}
    for meter, s in state["meters"].items():
        where = "meters.%s" % meter
        _check_state_address(meter, where, bad)
        if not isinstance(s, dict) or set(s) != set(_new_meter()):
            raise bad(where, "keys %s" % ", ".join(_new_meter()), s)
        if not isinstance(s["energy"], list) or not isinstance(s["reads"], list):
            raise bad(where, "lists for energy and reads", s)
        reads = []
        for i, r in enumerate(s["reads"]):
            if not isinstance(r, list) or len(r) != 4 or r[0] not in RESULTS or type(r[2]) is not int:
                raise bad("%s.reads[%d]" % (where, i), "[result, error, t_ms, name]", r)
            reads.append(list(r))
        meters[meter] = {"energy": [point(p, "%s.energy[%d]" % (where, i)) for i, p in enumerate(s["energy"])],
                         "reverse": None if s["reverse"] is None else point(s["reverse"], where + ".reverse"),
                         "failures": count(s["failures"], where + ".failures"), "reads": reads,
                         "misses": count(s["misses"], where + ".misses")}
    alarms = {}
    for meter, codes in state["alarms"].items():
        _check_state_address(meter, "alarms.%s" % meter, bad)
        if not isinstance(codes, dict):
            raise bad("alarms.%s" % meter, "a map of codes", codes)
        for code, a in codes.items():
            where = "alarms.%s.%s" % (meter, code)
            if code not in CODES:
                raise bad(where, "a known code", code)
            if not isinstance(a, dict) or set(a) != set(_new_alarm()) or type(a["raised"]) is not bool \
                    or not (a["t"] is None or type(a["t"]) is int):
                raise bad(where, "{raised, present, absent, t}", a)
            alarms.setdefault(meter, {})[code] = {"raised": a["raised"], "present": count(a["present"], where),
                                                  "absent": count(a["absent"], where), "t": a["t"]}
    return meters, alarms


def _check_state_address(meter, where, bad):
    if type(meter) is not str or len(meter) != 12 or not set(meter) <= _ADDRESS_DIGITS:
        raise bad(where, "a 12-digit meter address", meter)
