"""The concentrator agent (``concentrator run``): plans reading cycles, reads the
meters of every archive line, and sends the values to the hall.

A thin adapter (STYLE.md) that joins parts which already exist: the planner
(``plan_due``) says which cycles are due, the ``Ledger`` holds what each
cycle expected, read and failed, one ``LineRunner`` per archive line reads,
and the device runtime's outbox commits every record before the publisher
sends it. The agent owns the clock and the loop, nothing else.

Invariants (tests/concentrator/test_agent.py):

* A value read is appended to the outbox *before* the ledger notes it, under
  the producer key ``"<cycle>|<meter>|<item>"``. After a crash between the
  two, the item is still pending in the ledger, is read again after the
  restart, and its second append is refused by the key: the hall gets each
  (cycle, meter, item) once.
* The ledger's cycle ids are the planner's ``last``: a restart never opens a
  cycle twice, and only a cycle the ledger newly opened is submitted. At
  start the pending items of open cycles are submitted again.
* A closed cycle sends one ``cycle`` record (key ``"cycle|<cycle>"``); cycles
  closed in the last day are appended again at start, which the key makes
  harmless, so a crash right after a close loses no cycle record.

Realtime values go out as ``reading`` records; values of daily and monthly
cycles as ``frozen`` records, and every closed cycle is judged for anomalies
and (daily) line loss, by ``_agent_reports.py``; meter clocks are checked and
synced by ``_agent_clock.py``; DL/T 645 lines are searched for meters
missing from the archive or from the line by ``_agent_search.py``. What
they must remember across a restart is in ``_agent_state.py`` (the same
file).

A failure to append to the outbox (outbox full, disk error) is not caught:
the item stays pending in the ledger and is read again after a restart.
"""

import queue
import sys
import time

import edge
from edge.clock import ClockQuality

from ._cycles import meter_text, plan_due, resolve_item
from ._cycles_config import STD_1997, STD_2007, modbus_model
from ._errors import ConcentratorError, LineError
from ._ledger import Ledger, wall_ms
from ._line import DEFAULT_PACING_S, DEFAULT_TIMEOUT_S
from ._modbus import DEFAULT_MODBUS_TIMEOUT_S, ModbusLine, read_modbus
from ._reader import Reading
from ._runner import DLT645Driver, LineRunner, stop_all
from ._schedule_events import ItemFailed, ItemRead, MeterQuarantined, MeterRecovered, ScheduleError, ScheduleSettings
from ._agent_clock import AgentClockSync
from ._agent_config import DEFAULT_RETRY_DELAY_S, AgentConfig, AgentConfigError, load_agent_config
from ._agent_reports import AgentReports, sends_reading
from ._agent_search import SEARCH_LINE, AgentSearch
from ._agent_state import AgentState
from ._ondemand import OnDemandReads
from .archive import Archive, ArchiveError, record_area

# Cycles closed this recently get their cycle record appended again at start;
# well inside the outbox's key retention (8 days), so the key still dedupes it.
_RESEND_CLOSED_MS = 86400 * 1000
# A progress line lists at most this many failed items, then "...".
_FAILED_SHOWN = 5


# ---- drivers: the ledger's meter text and item names in, Readings out ------------

class ModbusDriver:
    """Modbus reads on one line, one attempt each, for ``LineRunner``.

    Args:
        url, baud, parity, timeout_s: as ``ModbusLine``.
        meters: {meter: (unit id, model id, 12-digit address)}; ``meter`` is
            what jobs name (the ledger's meter text).

    The line opens at the first read and closes after a ``LineError``.
    """

    def __init__(self, url, meters, baud=9600, parity="N", timeout_s=DEFAULT_MODBUS_TIMEOUT_S):
        self.url = url
        self.meters = dict(meters)
        self._args = (baud, parity, timeout_s)
        self._line = None

    def read(self, meter, item):
        """One attempt to read item name ``item``; raises as ``read_modbus``."""
        if meter not in self.meters:
            raise ConcentratorError("meter %s is not on Modbus line %s" % (meter, self.url))
        unit, model, address = self.meters[meter]
        if self._line is None:
            baud, parity, timeout_s = self._args
            line = ModbusLine(self.url, baud=baud, parity=parity, timeout_s=timeout_s)
            line.open()
            self._line = line
        try:
            return read_modbus(self._line, unit, model, item, meter=address, retries=0)
        except LineError:
            self.close()        # opened again at the next read (a gateway restarted)
            raise

    def close(self):
        if self._line is not None:
            line, self._line = self._line, None
            line.close()


class _ArchiveDLT645:
    """A ``DLT645Driver`` whose jobs name meter text and item names (resolved per edition)."""

    def __init__(self, driver, meters):
        self.driver = driver
        self.meters = dict(meters)      # {meter text: (address, std)}

    def read(self, meter, item):
        if meter not in self.meters:
            raise ConcentratorError("meter %s is not on line %s" % (meter, self.driver.url))
        address, std = self.meters[meter]
        return self.driver.read(address, resolve_item(std, item))

    def close(self):
        self.driver.close()


def make_driver(line, overrides=None):
    """The runner driver for an ``ArchiveLine``.

    Raises:
        AgentConfigError: the line mixes DL/T 645 and Modbus meters (one port
            cannot be both), or has a meter of unknown protocol.
    """
    overrides = overrides or {}
    modbus, dlt = {}, {}
    for m in line.meters:
        if m.protocol in (STD_2007, STD_1997):
            dlt[meter_text(m.key)] = (m.address, m.protocol)
        elif modbus_model(m.protocol) is not None:
            modbus[meter_text(m.key)] = (m.unit, modbus_model(m.protocol).name, m.address)
        else:
            raise AgentConfigError("line %s: meter %s has protocol %r, not \"2007\", \"1997\" or a known "
                                   "\"modbus:<model>\"" % (line.name, m.address, m.protocol), key=line.name)
    if modbus and dlt:
        raise AgentConfigError("line %s mixes DL/T 645 and Modbus meters on one port %s"
                               % (line.name, line.port), key=line.name)
    if modbus:
        return ModbusDriver(line.port, modbus, line.baud, line.parity,
                            overrides.get("timeout_s", DEFAULT_MODBUS_TIMEOUT_S))
    driver = DLT645Driver(line.port, {a: s for a, s in dlt.values()}, line.baud, line.parity,
                          overrides.get("timeout_s", DEFAULT_TIMEOUT_S), overrides.get("pacing_s", DEFAULT_PACING_S))
    return _ArchiveDLT645(driver, dlt)


# ---- record bodies ------------------------------------------------------------------

def reading_body(meter, job_item, cycle_id, reading, read_ms):
    """The READING_V1 body of a ``Reading`` of ``meter`` (an ArchiveMeter)."""
    if not isinstance(reading, Reading):     # not from our drivers; say what came back
        raise ConcentratorError("meter %s item %s: driver returned %r, not a Reading" % (meter.address, job_item,
                                                                                          reading))
    di, std, value, unit = reading.as_dict()["di"], reading.std, reading.value, reading.unit
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    return {"meter": meter.address, "di": di, "name": str(job_item), "value": value, "unit": unit or "",
            "std": std if std in ("2007", "1997") else "modbus", "cycle": cycle_id, "read_t": int(read_ms)}


def cycle_body(summary, items, meters):
    """The CYCLE_V1 body of a closed cycle: counts are meters, as the schema says."""
    per_meter = {}
    for row in items:
        per_meter.setdefault(row["meter"], set()).add(row["state"])
    read = [m for m, states in per_meter.items() if states == {"read"}]
    failed = [m for m, states in per_meter.items() if "failed" in states]
    missing = sorted({_address(m, meters) for m in per_meter if m not in read})
    body = {"cycle": summary.cycle_id, "started_t": summary.started_ms,
            "finished_t": max(summary.closed_ms, summary.started_ms), "expected": len(per_meter),
            "read": len(read), "failed": len(failed), "missing": missing}
    areas = {record_area(meters[m].area) for m in per_meter if m in meters}
    if len(areas) == 1 and None not in areas:
        body["area"] = areas.pop()      # the archive code lower-cased (decision 22)
    return body


def _address(text, meters):
    meter = meters.get(text)
    return meter.address if meter is not None else text.split("/")[1]


# ---- the agent -------------------------------------------------------------------

class Agent:
    """The agent process's work; ``run(stop_event)`` until the event is set.

    Args:
        config: an ``AgentConfig``.
        clock: ``() -> UTC ms`` for planning and the ledger (default: the
            system clock); tests drive time through it.
        out: where progress lines go (default standard output).
        settings: ``ScheduleSettings`` for every line (default: its defaults with
            ``retry_delay_s`` = ``DEFAULT_RETRY_DELAY_S``); a line's
            ``retry_delay_s`` in the config file goes over either.
    """

    def __init__(self, config, clock=None, out=None, settings=None):
        self.config = config
        self._clock = clock or wall_ms
        self._out = out or sys.stdout
        self._settings = settings
        self._events = queue.Queue()
        self._runners = {}
        self._meters = {}       # meter text -> ArchiveMeter
        self._last = set()      # cycle ids in the ledger
        self._open = set()      # cycle ids open in the ledger
        self.runtime = self.ledger = None
        # The agent's own clock and its quality ([clock] of the config; one instance, so
        # its kernel reads are cached).
        self._quality = ClockQuality(**config.clock)
        # The hall's read-meter commands: received on the publisher's thread, run on this one.
        self.ondemand = OnDemandReads(self._events.put, self._clock, self._say, reading_body)

    def _say(self, text):
        print(text, file=self._out, flush=True)

    def run(self, stop_event):
        """Run until ``stop_event`` is set; then stop the lines and the runtime.

        Raises:
            ConcentratorError: the archive or ledger cannot be used, is empty,
                or a line cannot be driven; a line thread died.
            edge.EdgeError: the identity or outbox cannot be opened, or an
                append to the outbox failed.
        """
        cfg = self.config
        try:
            archive = Archive(cfg.db_path, create=False)
        except ArchiveError as exc:
            raise ConcentratorError("%s; import the meters with `concentrator archive import FILE --db %s`"
                                    % (exc, cfg.db_path)) from exc
        try:
            with archive:
                meters, lines = archive.meters(), archive.lines()
        except ArchiveError as exc:
            raise ConcentratorError(str(exc)) from exc
        if not meters:
            raise ConcentratorError("the archive in %s has no meters" % cfg.db_path)
        self._meters = {meter_text(m.key): m for m in meters}
        drivers = [(line, make_driver(line, cfg.lines.get(line.name))) for line in lines]
        cfg.search.check_lines({line.name for line in lines}, cfg.source)
        self.ledger = Ledger(cfg.db_path, clock=self._clock)
        try:
            self.runtime = edge.DeviceRuntime(cfg.device, "concentrator", clock=self._quality.now,
                                              on_command=self.ondemand.receive)
            try:
                self.runtime.start()
                self._start_reports(lines)
                self._start_lines(drivers)
                self._say("agent %s: %d meters on %d line%s, ledger %s" % (
                    self.runtime.device_id, len(meters), len(lines), "" if len(lines) == 1 else "s", cfg.db_path))
                try:
                    self._resume()
                    while not stop_event.is_set():
                        self._step(meters, stop_event)
                finally:
                    try:
                        stop_all(list(self._runners.values()))
                    finally:
                        self._drain(block_s=0)      # reads finished while stopping are kept
            finally:
                self.runtime.stop()
        finally:
            try:
                if self.state is not None:
                    self.state.close()
            finally:
                self.ledger.close()
        self._say("agent stopped")

    # The agent's own clock quality for meter clocks: None = the system's
    # (edge.clock); tests set a ``() -> tq`` here.
    own_tq = None
    state = reports = clocksync = search = None

    def _start_reports(self, lines):
        """Frozen, anomaly and line-loss records, and meter time sync (closed with the ledger)."""
        quality = self.own_tq or (lambda: self._quality.now()[1])
        self.state = AgentState(self.config.db_path)
        err_ms = lambda: (quality() or {}).get("err_ms")  # noqa: E731
        self.reports = AgentReports(self.config, self._meters, self.ledger, self.runtime.outbox, self.state,
                                    err_ms, self._say)
        self.reports.retire_missing(self._clock())
        rc = self.config.reports
        self.clocksync = AgentClockSync(rc.clocksync, rc.clock_enabled, rc.clock_cycle, self._runners,
                                        {line.name: line.meters for line in lines}, self._meters, self.state,
                                        self._clock, quality, self._say)
        self.search = AgentSearch(self.config.search, self.config.cycles.tz, self._runners,
                                  {line.name: line.meters for line in lines}, self.reports, self.state,
                                  self.runtime.outbox, self._clock, self._say)
        self.ondemand.handlers[SEARCH_LINE] = self.search.command

    def _line_settings(self, name):
        """The line's ``ScheduleSettings``: the agent's (or the defaults with the agent's retry
        delay), with the line's ``retry_delay_s`` from the config file over them."""
        base = self._settings.as_dict() if self._settings is not None else {"retry_delay_s": DEFAULT_RETRY_DELAY_S}
        own = self.config.lines.get(name, {})
        if "retry_delay_s" in own:
            base["retry_delay_s"] = own["retry_delay_s"]
        return ScheduleSettings(**base)

    def _start_lines(self, drivers):
        for line, driver in drivers:
            runner = LineRunner(driver, line.name, on_event=lambda _runner, event: self._events.put(event),
                                settings=self._line_settings(line.name))
            self._runners[line.name] = runner.start()

    def _resume(self):
        """Submit the pending items of open cycles again; resend recent cycle records."""
        now = self._clock()
        for s in self.ledger.summaries(limit=1 << 30):
            self._last.add(s.cycle_id)
            if not s.closed:
                self._open.add(s.cycle_id)
            elif s.closed_ms >= now - _RESEND_CLOSED_MS:
                self._send_cycle(s, say=False)
        again = 0
        for cycle_id, meter, items, deadline_ms in self.ledger.pending_jobs():
            again += self._submit(cycle_id, meter, items, deadline_ms, now)
        if again:
            self._say("resumed %d pending items of %d open cycles" % (again, len(self._open)))
        self.reports.resume(now)

    def _submit(self, cycle_id, meter, items, deadline_ms, now_ms):
        """Queue one meter's items; returns how many. Leftovers past their deadline are the ledger's."""
        if deadline_ms is not None and deadline_ms <= now_ms:
            return 0
        archived = self._meters.get(meter)
        if archived is None or archived.line not in self._runners:
            for item in items:
                self.ledger.record_failed(cycle_id, meter, item, "not_in_archive",
                                          "meter %s is no longer in the archive" % meter, t_ms=now_ms)
            return 0
        timeout_s = None if deadline_ms is None else (deadline_ms - now_ms) / 1000.0
        try:
            self._runners[archived.line].submit(meter, list(items), cycle_id, timeout_s=timeout_s)
        except ScheduleError as exc:
            if self._runners[archived.line].running:
                raise
            raise ConcentratorError("line %s stopped: %s" % (archived.line, exc)) from exc
        return len(items)

    def _step(self, meters, stop_event):
        now = self._clock()
        due = plan_due(self.config.cycles, meters, now, self._last)
        for gap in due.gaps:
            self._say("gap: %s cycles %s..%s (%d) cannot be read: %s" % (gap.kind, gap.first, gap.last, gap.count,
                                                                          gap.reason))
        for plan in due:
            self._last.add(plan.cycle_id)
            if not self.ledger.open_cycle(plan.cycle_id, plan.kind, plan.planned_ms, plan.expected(),
                                          deadline_ms=plan.deadline_ms, started_ms=now):
                continue
            self._open.add(plan.cycle_id)
            n = sum(self._submit(plan.cycle_id, meter_text(key), items, plan.deadline_ms, now)
                    for key, items in plan.jobs)
            note = ", %d meters not planned" % len(plan.not_planned) if plan.not_planned else ""
            self._say("cycle %s: opened, %d items of %d meters%s" % (plan.cycle_id, n, len(plan.jobs), note))
        for name, runner in self._runners.items():
            if not runner.running and not stop_event.is_set():
                runner.stop()       # raises the line's error
                raise ConcentratorError("line %s stopped" % name)
        self._drain(self.config.poll_s)
        self._close_cycles()
        self.clocksync.poll()
        self.search.poll()

    def _drain(self, block_s):
        """Handle the events waiting (waiting up to ``block_s`` for the first)."""
        try:
            event = self._events.get(timeout=block_s) if block_s else self._events.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(event)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, event):
        if self.ondemand.claims(event):     # commands, and on-demand reads: no cycle, not the ledger's
            self.ondemand.handle(event, self._meters, self._runners, self.runtime.outbox)
            return
        if isinstance(event, ItemRead):
            job = event.job
            meter = self._meters.get(job.meter)
            if meter is None:
                raise ConcentratorError("read of meter %s, which is not in the archive" % job.meter)
            # The runner's time is monotonic seconds: turn it into wall time by its age.
            read_ms = self._clock() - max(0, int((time.monotonic() - event.at) * 1000))
            if sends_reading(job.tag, job.item):    # else frozen, sent from the ledger once noted
                body = reading_body(meter, job.item, job.tag, event.value, read_ms)
                key = "%s|%s|%s" % (job.tag, job.meter, job.item)
                self.runtime.outbox.append_many([("reading", body)], keys=[key])
            self.ledger.record(event)
            self.reports.item_ended(job.tag, job.meter)
        elif isinstance(event, ItemFailed):
            self.ledger.record(event)
            self.reports.item_ended(event.job.tag, event.job.meter)
        elif isinstance(event, MeterQuarantined):
            self._say("meter %s quarantined: %s" % (event.meter, event.message))
        elif isinstance(event, MeterRecovered):
            self._say("meter %s answers again" % event.meter)

    def _close_cycles(self):
        self.ledger.close_due(self._clock())
        for cycle_id in sorted(self._open):
            summary = self.ledger.cycle(cycle_id)
            if summary is not None and summary.closed:
                self._send_cycle(summary)
                self.clocksync.observe(cycle_id, self.reports.cycle_closed(summary))
                self._open.discard(cycle_id)

    def _send_cycle(self, summary, say=True):
        items = self.ledger.items(summary.cycle_id)
        body = cycle_body(summary, items, self._meters)
        self.runtime.outbox.append_many([("cycle", body)], keys=["cycle|%s" % summary.cycle_id])
        if say:
            self._say(progress_line(summary, items, self._meters))


def progress_line(summary, items, meters):
    """``cycle rt-2026-11-23T10:15: 198/200 read, 2 failed (202311150036 timeout, ...)``."""
    failed = [row for row in items if row["state"] == "failed"]
    text = "cycle %s: %d/%d read, %d failed" % (summary.cycle_id, summary.read, summary.expected, summary.failed)
    if failed:
        shown = ["%s %s %s" % (_address(r["meter"], meters), r["item"], r["reason"]) for r in failed[:_FAILED_SHOWN]]
        if len(failed) > _FAILED_SHOWN:
            shown.append("...")
        text += " (%s)" % ", ".join(shown)
    return text


__all__ = ["Agent", "AgentConfig", "AgentConfigError", "ModbusDriver", "load_agent_config", "make_driver",
           "cycle_body", "progress_line", "reading_body"]
