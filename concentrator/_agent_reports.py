"""What the agent reports besides readings: frozen values, anomalies and line loss.

A thin adapter (STYLE.md) between the ledger and the outbox; the decisions
are in the sans-I/O parts (``AnomalyMonitor``, ``line_loss``,
``check_freeze_time``). Everything is built from the ledger's rows, not from
events in memory, so the same records come out after a restart.

* **frozen** (FROZEN_V1): every value of a daily or monthly cycle except the
  meter clock (``date``/``time``, sent as ``reading``). A meter's frozen
  records are appended once all its items in the cycle have ended (so the
  2007 freeze time is known and goes into ``frozen_at``), and again for the
  whole cycle when it closes and at start for cycles closed in the last day:
  the producer key ``"<cycle>|<meter>|<item>"`` keeps the first append.
  Unlike readings, a frozen value is noted in the ledger *before* it is
  appended; the appends at close and at start make up for a crash between.
* **anomaly** (anomaly v2): each closed cycle is fed to the ``AnomalyMonitor``
  once (``AgentState``), keys ``"anomaly|<cycle>|<meter>|<code>|<state>"``.
* **lineloss** (lineloss v2): when day D's cycle has closed and day D-1's is
  closed or was never opened, one record per area with a supply meter, key
  ``"lineloss|<area>|<cycle>"``.

Energy history for the anomaly rules comes from one source per meter: the
daily freezes when daily cycles are enabled (one interval a day, as the
rules' defaults assume), else the realtime totals.
"""

import datetime
import re

from protocols.dlt645 import format_di

from ._anomalies import AnomalyConfig, AnomalyMonitor, MeterFacts, ReadResult, Reading
from ._anomalies_common import AnalysisConfigError, clip
from ._cycles import DAILY, MONTHLY, REALTIME, check_freeze_time, cycle_id_kind
from ._cycles_config import STD_1997, STD_2007, modbus_model, resolve_item
from ._lineloss import LineLossConfig, MeterEnergy, line_loss
from .archive import record_area

CLOCK_ITEMS = ("date", "time")
FORWARD, REVERSE = "forward_active_total", "reverse_active_total"
_DAILY_ITEM = re.compile(r"daily_freeze_(.+)_([0-9]+)")
_PREV_ITEM = re.compile(r"(.+)_prev([0-9]+)")
# Ledger failure reasons as the monitor's read results. "quarantined": the
# meter stopped answering, which is why the schedule gave up on it. A
# deadline after attempts ended the item without a reply. Items never tried
# (deadline with no attempt, cancelled, not in the archive) say nothing.
_RESULTS = {"timeout": "no-reply", "garbled": "garbled", "abnormal": "abnormal", "quarantined": "no-reply"}
# anomaly and lineloss bodies are version 2 (decision 16): outbox items
# (kind, body, t_ms, tq, v).
BODY_V2 = 2
# Resend window of frozen records and feeding at start: as the agent's cycle records.
RESEND_MS = 86400 * 1000


class ReportConfig:
    """The agent's ``[anomalies]``, ``[lineloss]`` and ``[clocksync]`` settings.

    Attributes:
        anomalies: an ``AnomalyConfig``; lineloss: a ``LineLossConfig``;
        clocksync: a ``SyncSettings``; clock_enabled: broadcasts allowed at
        all; clock_cycle: the cycle kind whose ``date``/``time`` reads are
        checked ("realtime", "daily" or "none").
    """

    def __init__(self, anomalies, lineloss, clocksync, clock_enabled, clock_cycle):
        self.anomalies = anomalies
        self.lineloss = lineloss
        self.clocksync = clocksync
        self.clock_enabled = clock_enabled
        self.clock_cycle = clock_cycle


def load_report_config(doc, path, cycles):
    """Check the ``[anomalies]``, ``[lineloss]`` and ``[clocksync]`` tables of an agent config.

    ``[clocksync]`` takes the ``SyncSettings`` keys plus ``enabled`` (default
    true) and ``check_in`` ("realtime", "daily" or "none"): the cycle whose
    ``date`` and ``time`` reads are the meter clocks checked; it must read
    them. The default is "realtime" when that cycle reads them, else "none".

    Returns:
        a ``ReportConfig``.

    Raises:
        AgentConfigError: naming the file and the ``table.key`` at fault.
    """
    from ._agent import AgentConfigError
    from ._clocksync import ClockSyncError, SyncSettings

    def fail(table, exc):
        where = getattr(exc, "where", None) or ""
        key = "%s.%s" % (table, where.rsplit(" ", 1)[-1]) if " key " in where else table
        raise AgentConfigError("%s: [%s] %s" % (path, table, exc), path, key) from exc

    tables = {}
    for table in ("anomalies", "lineloss", "clocksync"):
        value = doc.get(table, {})
        if not isinstance(value, dict):
            raise AgentConfigError("%s: %s: expected a table, got %r" % (path, table, value), path, table)
        tables[table] = dict(value)
    try:
        anomalies = AnomalyConfig(tables["anomalies"])
    except AnalysisConfigError as exc:
        fail("anomalies", exc)
    try:
        lineloss = LineLossConfig(tables["lineloss"])
    except AnalysisConfigError as exc:
        fail("lineloss", exc)
    clock = tables["clocksync"]
    enabled = clock.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise AgentConfigError("%s: clocksync.enabled: expected true or false, got %r" % (path, enabled), path,
                               "clocksync.enabled")
    def reads_clock(kind):
        items = cycles.realtime.items if kind == REALTIME else cycles.daily.items
        on = cycles.realtime.interval_min if kind == REALTIME else cycles.daily.enabled
        return bool(on) and any(set(CLOCK_ITEMS) <= set(items.get(std, ())) for std in (STD_2007, STD_1997))

    check_in = clock.pop("check_in", None)
    if check_in is None:        # default: the realtime cycle, when it reads the meter clocks
        check_in = REALTIME if reads_clock(REALTIME) else "none"
    if check_in not in (REALTIME, DAILY, "none"):
        raise AgentConfigError("%s: clocksync.check_in: expected \"realtime\", \"daily\" or \"none\", got %r"
                               % (path, check_in), path, "clocksync.check_in")
    if check_in != "none":
        if not reads_clock(check_in):
            raise AgentConfigError("%s: clocksync.check_in: the %s cycle does not read \"date\" and \"time\" (add "
                                   "them to [cycles.%s] items, or set check_in = \"none\"), got %r"
                                   % (path, check_in, check_in, check_in), path, "clocksync.check_in")
    try:
        settings = SyncSettings.from_table(clock)
    except ClockSyncError as exc:
        raise AgentConfigError("%s: %s" % (path, exc), path, "clocksync.%s" % exc.key) from exc
    return ReportConfig(anomalies, lineloss, settings, enabled, check_in)


def sends_reading(cycle_id, item):
    """True when a value of ``item`` read for ``cycle_id`` goes out as a ``reading`` (else ``frozen``)."""
    return cycle_id_kind(cycle_id) not in (DAILY, MONTHLY) or item in CLOCK_ITEMS


def _value(value):
    """A ledger value as the record carries it (the ledger writes bytes as {"hex": ...})."""
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    return value


def _di(meter, item):
    if meter.protocol in (STD_2007, STD_1997):
        return format_di(resolve_item(meter.protocol, item), meter.protocol)
    return "%04X" % modbus_model(meter.protocol).item(item).address


def frozen_body(meter, cycle_id, row, frozen_at=None):
    """The FROZEN_V1 body of a ledger row read in a daily or monthly cycle.

    Args:
        meter: the ``ArchiveMeter``.
        cycle_id: ``day-...`` or ``month-...``.
        row: the ledger row (``Ledger.items``) in state read.
        frozen_at: the meter's own freeze time text, when it gave one.

    Returns:
        the body: freeze "day" (daily), "settle" (a DL/T 645 settlement,
        ``<name>_prev<k>``) or "month" (a meter keeping no settlements: its
        totals read at the settlement time); ``index`` k when the item names
        one (1 = latest).
    """
    item = row["item"]
    dlt = meter.protocol in (STD_2007, STD_1997)
    kind = cycle_id_kind(cycle_id)
    freeze = "day" if kind == DAILY else ("settle" if dlt else "month")
    body = {"meter": meter.address, "di": _di(meter, item), "name": item, "value": _value(row["value"]),
            "unit": row["unit"] or "", "std": meter.protocol if dlt else "modbus", "cycle": cycle_id,
            "read_t": int(row["read_ms"]), "freeze": freeze, "frozen_at": frozen_at}
    match = _DAILY_ITEM.fullmatch(item) or _PREV_ITEM.fullmatch(item)
    if match is not None:
        body["index"] = int(match.group(2))
    return body


def _total(value):
    """The total of an energy value: a number, or the first of a (total, T1..T4) block."""
    if isinstance(value, list) and value:
        value = value[0]
    return value if type(value) in (int, float) else None


def _day_of(cycle_id):
    return datetime.date.fromisoformat(cycle_id[len("day-"):])


class AgentReports:
    """Frozen, anomaly and line-loss records of one agent run.

    Args:
        config: the agent's ``AgentConfig`` (``cycles``, ``reports``).
        meters: {ledger meter text: ArchiveMeter}.
        ledger: the ``Ledger``; outbox: the runtime's outbox; state: an ``AgentState``.
        own_err_ms: ``() -> int or None``, the agent's clock error bound (None: unknown).
        say: a progress line writer.

    Raises:
        AnalysisStateError: the stored monitor state is not what the monitor writes.
    """

    def __init__(self, config, meters, ledger, outbox, state, own_err_ms, say):
        self.cfg = config.reports
        self.tz = config.cycles.tz
        self.daily_energy = config.cycles.daily.enabled
        self.meters = meters
        self.ledger, self.outbox, self.state = ledger, outbox, state
        self._own_err_ms = own_err_ms
        self._say = say
        self.facts = {}
        for m in meters.values():
            self.facts[m.address] = MeterFacts(m.address, role=m.role, ct=m.ct_ratio, pt=m.pt_ratio, phases=m.phases,
                                               area=record_area(m.area))
        self.monitor = AnomalyMonitor(self.facts, self.cfg.anomalies, state=state.get("anomalies"))
        self.areas = {}         # record area -> {"supply": text or None, "customers": [texts]}
        for text, m in sorted(meters.items()):
            area = record_area(m.area)
            if area is None:
                self._say("area %r of meter %s is not an identifier: no line loss for it; re-import the archive "
                          "(area codes are checked now)" % (m.area, m.address))
                continue
            entry = self.areas.setdefault(area, {"supply": None, "customers": []})
            if m.role == "supply":
                entry["supply"] = text
            else:
                entry["customers"].append(text)

    def retire_missing(self, now_ms):
        """Clear the anomalies of meters no longer in the archive (once, at start).

        A meter raised only as ``meter-without-record`` (found by a line search) was
        never in the archive: its anomaly stands until a search clears it."""
        gone = sorted({m for m, code in self.monitor.active() if code != "meter-without-record"} - set(self.facts))
        records, keys = [], []
        for meter in gone:
            for body in self.monitor.retire(meter, now_ms):
                records.append(("anomaly", body))
                keys.append("anomaly|retired|%s|%s" % (meter, body["code"]))
        if records:
            self._append_v2(records, keys)
        if gone:
            self.state.commit({"anomalies": self.monitor.state_dict()})

    # ---- frozen ----

    def item_ended(self, cycle_id, meter_text):
        """After the ledger noted an item: send the meter's frozen values once all its items ended."""
        if cycle_id_kind(cycle_id) not in (DAILY, MONTHLY):
            return
        rows = [r for r in self.ledger.items(cycle_id) if r["meter"] == meter_text]
        if rows and all(r["state"] != "pending" for r in rows):
            self._send_frozen(cycle_id, rows)

    def _send_frozen(self, cycle_id, rows):
        by_meter = {}
        for row in rows:
            by_meter.setdefault(row["meter"], []).append(row)
        records, keys = [], []
        for text, mine in sorted(by_meter.items()):
            meter = self.meters.get(text)
            if meter is None or any(r["state"] == "pending" for r in mine):
                continue
            times = {}
            for r in mine:
                match = _DAILY_ITEM.fullmatch(r["item"])
                if match and match.group(1) == "time" and r["state"] == "read" and isinstance(r["value"], str):
                    times[match.group(2)] = r["value"]
            for r in mine:
                if r["state"] != "read" or r["item"] in CLOCK_ITEMS:
                    continue
                match = _DAILY_ITEM.fullmatch(r["item"])
                body = frozen_body(meter, cycle_id, r, times.get(match.group(2)) if match else None)
                records.append(("frozen", body))
                keys.append("%s|%s|%s" % (cycle_id, text, r["item"]))
        if records:
            self.outbox.append_many(records, keys=keys)

    # ---- closing ----

    def cycle_closed(self, summary):
        """A cycle closed: its frozen values, then (once) its anomalies and line loss.

        Returns:
            the ledger rows of the cycle (for the clock checks).
        """
        rows = self.ledger.items(summary.cycle_id)
        if summary.kind in (DAILY, MONTHLY):
            self._send_frozen(summary.cycle_id, rows)
        if not self.state.fed(summary.cycle_id):
            self._feed(summary, rows)
        return rows

    def resume(self, now_ms):
        """At start: frozen values of finished meters of open cycles, and cycles closed in the last day
        again (their keys make it harmless), feeding those not fed yet, oldest close first."""
        closed = []
        for s in self.ledger.summaries(limit=1 << 30):
            if s.kind not in (DAILY, MONTHLY) and s.closed and s.closed_ms >= now_ms - RESEND_MS:
                closed.append(s)
            elif s.kind in (DAILY, MONTHLY) and (not s.closed or s.closed_ms >= now_ms - RESEND_MS):
                if s.closed:
                    closed.append(s)
                else:
                    self._send_frozen(s.cycle_id, self.ledger.items(s.cycle_id))
        for s in sorted(closed, key=lambda s: (s.closed_ms, s.cycle_id)):
            self.cycle_closed(s)

    def _feed(self, summary, rows):
        readings, results = self._observations(summary, rows)
        bodies = self.monitor.close_cycle(summary.cycle_id, readings, results, summary.closed_ms, self._own_err_ms())
        records = [("anomaly", b) for b in bodies]
        keys = ["anomaly|%s|%s|%s|%s" % (summary.cycle_id, b["meter"], b["code"], b["state"]) for b in bodies]
        for b in bodies:
            self._say("anomaly %s %s of meter %s: %s" % (b["code"], b["state"], b["meter"], b["detail"]))
        if summary.kind == DAILY:
            day = _day_of(summary.cycle_id)
            for d in (day, day + datetime.timedelta(days=1)):
                for body in self._line_losses(d):
                    records.append(("lineloss", body))
                    keys.append("lineloss|%s|%s" % (body["area"], body["cycle"]))
        if records:
            self._append_v2(records, keys)
        self.state.commit({"anomalies": self.monitor.state_dict()}, fed=summary.cycle_id, now_ms=summary.closed_ms)

    def _append_v2(self, records, keys):
        self.outbox.append_many([(kind, body, None, None, BODY_V2) for kind, body in records], keys=keys)

    def _observations(self, summary, rows):
        """(readings, results) for the monitor from a closed cycle's ledger rows."""
        readings, results = [], []
        freeze_ok = self._freeze_checks(summary, rows) if summary.kind == DAILY else {}
        for r in rows:
            meter = self.meters.get(r["meter"])
            if meter is None or meter.address not in self.facts:
                continue
            t_ms = r["read_ms"] if r["state"] == "read" else None
            if r["state"] == "read":
                results.append(ReadResult(meter.address, "replied", t_ms, name=r["item"]))
            elif r["state"] == "failed":
                result = _RESULTS.get(r["reason"])
                if result is None and r["reason"] == "deadline" and r["attempts"]:
                    result = "no-reply"
                if result is not None:
                    results.append(ReadResult(meter.address, result, summary.closed_ms, name=r["item"]))
                continue
            else:
                continue
            name, value, read_t = r["item"], _value(r["value"]), t_ms
            if summary.kind == DAILY:
                match = _DAILY_ITEM.fullmatch(name)
                if match and match.group(1) in ("forward_active", "reverse_active"):
                    if not freeze_ok.get((r["meter"], match.group(2))):
                        continue        # a freeze of another day is not this day's energy
                    name, value = match.group(1) + "_total", _total(value)
                    read_t = self._midnight_ms(_day_of(summary.cycle_id) + datetime.timedelta(days=1))
            elif summary.kind == MONTHLY or (self.daily_energy and name in (FORWARD, REVERSE)):
                if name not in CLOCK_ITEMS:
                    continue        # settlements and realtime totals are not the energy history
            readings.append(Reading(meter.address, name, value, read_t, summary.cycle_id))
        return readings, results

    def _freeze_checks(self, summary, rows):
        """{(meter text, k): True} for 2007 freeze times that are the cycle's day; 1997/Modbus totals pass."""
        day = _day_of(summary.cycle_id)
        out = {}
        for r in rows:
            match = _DAILY_ITEM.fullmatch(r["item"])
            if match and match.group(1) == "time" and r["state"] == "read":
                out[(r["meter"], match.group(2))] = bool(check_freeze_time(r["value"], day))
        return out

    def _midnight_ms(self, day):
        return int(datetime.datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()) * 1000

    # ---- line loss ----

    def _line_losses(self, day):
        """lineloss v2 bodies of ``day`` (a date) per area, or [] when its cycle or the one before is not closed."""
        cycle_id = "day-%s" % day.isoformat()
        prev_id = "day-%s" % (day - datetime.timedelta(days=1)).isoformat()
        end, start = self.ledger.cycle(cycle_id), self.ledger.cycle(prev_id)
        if end is None or not end.closed or (start is not None and not start.closed):
            return []
        end_kwh, end_notes = self._day_values(cycle_id, day)
        if start is None:
            start_kwh, start_notes = {}, {}
        else:
            start_kwh, start_notes = self._day_values(prev_id, day - datetime.timedelta(days=1))
        bodies = []
        for area, entry in sorted(self.areas.items()):
            if entry["supply"] is None:
                continue        # the archive import warned: no supply meter, no balance
            notes = []

            def energy(text):
                m = self.meters[text]
                for which, kwh, why in (("start", start_kwh, start_notes), ("end", end_kwh, end_notes)):
                    if text not in kwh:
                        notes.append("%s %s reading: %s" % (m.address, which, why.get(
                            text, "cycle %s was not read" % (prev_id if which == "start" else cycle_id))))
                return MeterEnergy(m.address, start_kwh.get(text), end_kwh.get(text), m.ct_ratio, m.pt_ratio)
            customers = [energy(t) for t in entry["customers"]]
            body = line_loss(area, cycle_id, self._midnight_ms(day), self._midnight_ms(day + datetime.timedelta(
                days=1)), energy(entry["supply"]), customers, self.cfg.lineloss)
            if notes and body["status"] == "incomplete":
                body["detail"] = clip("; ".join(([body["detail"]] if "detail" in body else []) + notes))
            self._say("line loss %s %s: %s%s" % (area, cycle_id, body["status"], "" if body["loss_pct"] is None
                                                 else " %.3f %%" % body["loss_pct"]))
            bodies.append(body)
        return bodies

    def _day_values(self, cycle_id, day):
        """({meter text: forward total at the end of ``day``}, {meter text: why there is none})."""
        values, why, times = {}, {}, {}
        rows = self.ledger.items(cycle_id)
        for r in rows:
            match = _DAILY_ITEM.fullmatch(r["item"])
            if match and match.group(1) == "time" and r["state"] == "read":
                times[r["meter"]] = check_freeze_time(r["value"], day)
        for r in rows:
            match = _DAILY_ITEM.fullmatch(r["item"])
            if not (r["item"] == FORWARD or (match and match.group(1) == "forward_active")):
                continue
            text = r["meter"]
            if r["state"] != "read":
                why[text] = "%s not read in %s (%s)" % (r["item"], cycle_id, r["reason"])
            elif match and text in times and not times[text]:
                why[text] = times[text].reason
            elif match and text not in times:
                why[text] = "freeze time not read in %s: the freeze's day is unknown" % cycle_id
            elif _total(_value(r["value"])) is None:
                why[text] = "%s in %s is %r, not a number" % (r["item"], cycle_id, r["value"])
            else:
                values[text] = _total(_value(r["value"]))
        return values, why


__all__ = ["AgentReports", "ReportConfig", "frozen_body", "load_report_config", "sends_reading"]
