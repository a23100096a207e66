"""The agent's meter time sync: one ``ClockSyncPolicy`` per DL/T 645 line, broadcasts through its runner.

A thin adapter (STYLE.md) around ``_clocksync``: the policy decides, this
module feeds it and carries out what it says.

* Meter clocks are the ``date`` and ``time`` items of the cycle kind
  ``[clocksync] check_in`` names, checked when such a cycle closes. The
  meter's clock is taken at the ``time`` read (the ledger's read time), with
  one second of window before it for the request and the reply.
* ``poll`` runs every agent step: on ``BroadcastDue`` the 08H broadcast is
  queued as a ``Broadcast`` job of the line's runner (so it never overlaps a
  read on the wire, rule 1 of ``_schedule.py``) and sent with the agent's
  clock read just before the frame goes out. Only when the agent's own clock
  is good (decision 19): the policy withholds it otherwise, said once.
* Each line's last broadcast is stored (``AgentState`` "clocksync") as soon
  as it is sent, so rule 2 (once a day) survives a restart.

Modbus lines have no broadcast time sync here; their meters are not checked.
"""

import datetime
import queue

from ._anomalies_rules import Point, meter_clock_ms
from ._clocksync import BroadcastDue, ClockSyncPolicy, MeterClockReading, SyncWithheld, local_time
from ._cycles import cycle_id_kind
from ._cycles_config import STD_1997, STD_2007
from ._schedule_events import Broadcast, ItemRead

_STATE = "clocksync"
# The meter's clock is sampled between our request and its reply: one
# exchange, well under a second at 2400 bit/s with a short reply delay.
_READ_WINDOW_MS = 1000
_BROADCAST_TIMEOUT_S = 30.0


class AgentClockSync:
    """Clock checks and broadcasts for the DL/T 645 lines of one agent run.

    Args:
        settings: a ``SyncSettings``; enabled: broadcasts allowed at all;
            check_in: the cycle kind whose clock reads are checked, or "none".
        runners: {line name: LineRunner} (may be filled later); line_meters:
            {line name: [ArchiveMeter]}.
        meters: {ledger meter text: ArchiveMeter}.
        state: an ``AgentState``; clock_ms: ``() -> UTC ms``;
        own_tq: ``() -> {"src", "err_ms"}``; say: a progress line writer.
    """

    def __init__(self, settings, enabled, check_in, runners, line_meters, meters, state, clock_ms, own_tq, say):
        self.settings = settings
        self.enabled = enabled
        self.check_in = check_in
        self.meters = meters
        self.state = state
        self._clock_ms, self._own_tq, self._say = clock_ms, own_tq, say
        self._done = queue.Queue()      # (line, event) from the runner threads
        self._sending = set()
        self.sent = []                  # (line, local time sent), for progress and tests
        stored = state.get(_STATE, {}) or {}
        self.runners = runners          # filled when the lines start
        self.policies = {}
        for name, line_of in sorted(line_meters.items()):
            if not line_of or not all(m.protocol in (STD_2007, STD_1997) for m in line_of):
                continue
            last = stored.get(name)
            last = datetime.datetime.fromisoformat(last) if isinstance(last, str) else None
            self.policies[name] = ClockSyncPolicy(settings, name, last_sync=last)

    def _now_local(self):
        return local_time(self._clock_ms(), self.settings.utc_offset_s)

    def observe(self, cycle_id, rows):
        """Check the meter clocks read in a closed cycle (``Ledger.items`` rows)."""
        if self.check_in == "none" or cycle_id_kind(cycle_id) != self.check_in:
            return
        tq = self._own_tq()
        own_err = None if tq is None or tq.get("src") == "none" else tq.get("err_ms")
        clock = {}
        for r in rows:
            if r["item"] in ("date", "time") and r["state"] == "read" and isinstance(r["value"], str):
                clock.setdefault(r["meter"], {})[r["item"]] = Point(r["value"], r["read_ms"], cycle_id)
        offset_s = self.settings.utc_offset_s
        for text, points in sorted(clock.items()):
            meter = self.meters.get(text)
            if meter is None or meter.line not in self.policies or len(points) != 2:
                continue
            meter_ms = meter_clock_ms(points["date"], points["time"], offset_s // 60)
            if meter_ms is None:
                continue
            at_ms = points["time"].read_t
            shown = local_time(meter_ms, offset_s).replace(microsecond=0)
            reading = MeterClockReading(meter.address, shown, local_time(at_ms - _READ_WINDOW_MS, offset_s),
                                        local_time(at_ms, offset_s), own_err)
            check, needs = self.policies[meter.line].check(reading)
            if check.status in ("drifted", "beyond-broadcast", "sync-not-taken"):
                self._say(check.message)

    def poll(self):
        """Carry out finished broadcasts, then ask each line's policy whether one is due now."""
        while True:
            try:
                line, event = self._done.get_nowait()
            except queue.Empty:
                break
            self._sending.discard(line)
            if isinstance(event, ItemRead):
                self.policies[line].broadcast_sent(event.value)
                self.sent.append((line, event.value))
                self.state.commit({_STATE: {n: p.last_sync.isoformat() for n, p in self.policies.items()
                                            if p.last_sync is not None}})
                self._say("line %s: broadcast time sync %s" % (line, event.value.isoformat()))
            else:
                self._say("line %s: time sync not sent: %s" % (line, event.message))
        if not self.enabled:
            return
        tq = self._own_tq()
        now_local = self._now_local()
        for line, policy in self.policies.items():
            if line in self._sending or line not in self.runners:
                continue
            decision = policy.poll(now_local, tq)
            if isinstance(decision, SyncWithheld):
                if decision.first:
                    self._say(decision.message)
            elif isinstance(decision, BroadcastDue):
                self._send(line, decision)

    def _send(self, line, decision):
        def send(driver):
            inner = getattr(driver, "driver", driver)       # the agent wraps DLT645Driver
            return inner.time_sync(self._now_local)

        def done(event):
            self._done.put((line, event))
        self._sending.add(line)
        self._say(decision.message)
        self.runners[line].broadcast(Broadcast("time-sync", send), done, timeout_s=_BROADCAST_TIMEOUT_S)


__all__ = ["AgentClockSync"]
