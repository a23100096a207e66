"""When to broadcast a time sync (08H) to a line, and the adapters that do it.

The policy (``ClockSyncPolicy``, one per line) is sans-I/O: it is given the
concentrator's local time, its clock quality ``tq`` (edge.clock) and checked
meter clocks, and answers with decisions; it never reads a clock or a port.
``read_meter_clock`` and ``broadcast_time_sync`` at the end are the thin
adapters over ``concentrator.read`` and ``Line.broadcast``.

Rules (DL/T 645 reference §8 "08 broadcast time sync": "meters commonly refuse
large or frequent corrections (grid rule of thumb: <= 5 min, once a day, not
around midnight) and ignore them silently; verify by reading
04000101/04000102 afterwards"; docs/clock.md):

1. Never broadcast while the concentrator's own clock is unknown (tq "none")
   or its bound exceeds ``max_own_err_ms``: every meter on the line would take
   the bad time, and billing freezes and tariff switching follow the meter
   clock. The refusal is an event (``SyncWithheld`` reason "own-clock").
2. At most one broadcast per line per local calendar day (§8 "once a day"):
   a broadcast reaches every meter of the line, so per line is per meter.
3. No broadcast within ``midnight_guard_s`` of local midnight, by the
   concentrator's clock or by a drifted meter's clock (§8 "not around
   midnight"): the daily freeze and the monthly settlement happen at 00:00
   on the meter clock, and a step across it would skip or repeat them.
4. A broadcast is due at ``daily_at`` local time each day, or as soon as a
   meter's clock is found off by more than ``drift_limit_s`` (counting the
   read's uncertainty in the meter's favour).
5. A meter off by more than ``max_correction_s`` (§8 "<= 5 min"), beyond any
   doubt, would ignore the broadcast: it gets ``NeedsTimeSetting`` (addressed
   write of 04000101/04000102 with a password, or on site) and does not
   trigger a broadcast. So does a meter still off after today's broadcast
   (it refused it), since a second broadcast today is not allowed.

Times are naive ``datetime`` in the meters' local time (the hall's zone; the
meters keep local time, DL/T 645 has no zone field).
"""

import datetime
import time

from ._errors import ConcentratorError

DAY = datetime.timedelta(days=1)
SETTINGS = {
    # key: (default, meaning)
    "daily_at": ("03:00", "local time of the daily broadcast, HH:MM"),
    "drift_limit_s": (30.0, "a meter further off than this triggers a broadcast"),
    "max_correction_s": (300.0, "largest correction a meter takes by broadcast (§8: 5 min)"),
    "midnight_guard_s": (300.0, "no broadcast this close to local midnight (§8)"),
    "max_own_err_ms": (500, "own clock bound above which nothing is synced"),
    "utc_offset_s": (28800, "the meters' local time minus UTC (Beijing +8 h)"),
}


class ClockSyncError(ConcentratorError):
    """A clock-sync setting or a meter's clock reading is unusable.

    Attributes:
        key: the setting or item at fault, or None.
    """

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key = key


def _number(key, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ClockSyncError("clocksync.%s must be a number %s..%s, got %r" % (key, low, high, value), key)
    return value


def _daily_at(value):
    try:
        hh, mm = value.split(":")
        at = datetime.time(int(hh), int(mm))
    except (AttributeError, ValueError) as exc:
        raise ClockSyncError("clocksync.daily_at must be a local time HH:MM, got %r" % (value,),
                             "daily_at") from exc
    return at


class SyncSettings:
    """The policy's settings (see ``SETTINGS`` for keys, defaults and meaning).

    Raises:
        ClockSyncError: unknown key, bad value, or a ``daily_at`` inside the midnight guard.
    """

    def __init__(self, **values):
        unknown = sorted(set(values) - set(SETTINGS))
        if unknown:
            raise ClockSyncError("clocksync.%s is not a clock-sync setting (expected one of %s)"
                                 % (unknown[0], ", ".join(sorted(SETTINGS))), unknown[0])
        get = lambda key: values.get(key, SETTINGS[key][0])  # noqa: E731
        self.daily_at = _daily_at(get("daily_at"))
        self.drift_limit_s = float(_number("drift_limit_s", get("drift_limit_s"), 1, 3600))
        self.max_correction_s = float(_number("max_correction_s", get("max_correction_s"), 1, 86400))
        self.midnight_guard_s = float(_number("midnight_guard_s", get("midnight_guard_s"), 0, 3600))
        self.max_own_err_ms = int(_number("max_own_err_ms", get("max_own_err_ms"), 0, 60000))
        self.utc_offset_s = int(_number("utc_offset_s", get("utc_offset_s"), -50400, 50400))
        if self.drift_limit_s >= self.max_correction_s:
            raise ClockSyncError("clocksync.drift_limit_s %.0f s must be below max_correction_s %.0f s"
                                 % (self.drift_limit_s, self.max_correction_s), "drift_limit_s")
        if _near_midnight(datetime.datetime.combine(datetime.date(2000, 1, 1), self.daily_at),
                          self.midnight_guard_s):
            raise ClockSyncError("clocksync.daily_at %s is within %d s of midnight, when meters refuse a "
                                 "broadcast (§8)" % (self.daily_at.strftime("%H:%M"), self.midnight_guard_s),
                                 "daily_at")

    @classmethod
    def from_table(cls, table):
        """Settings from a ``[clocksync]`` config table (missing keys take defaults)."""
        return cls(**dict(table or {}))


def local_time(t_ms, utc_offset_s):
    """A UTC ms time as a naive local datetime (the meters' zone)."""
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=t_ms, seconds=utc_offset_s)


def _near_midnight(when, guard_s):
    since = (when - datetime.datetime.combine(when.date(), datetime.time())).total_seconds()
    return since < guard_s or 86400 - since < guard_s


# ---- values -------------------------------------------------------------------------------------

class MeterClockReading:
    """A meter's clock as read, with the concentrator's time around the read.

    Attributes:
        address: the meter.
        meter_time: its clock (naive local datetime, whole seconds as shown).
        before, after: the concentrator's local time just before the first and
            after the last request of the read.
        own_err_ms: the concentrator's clock bound then (None = unknown).
    """

    def __init__(self, address, meter_time, before, after, own_err_ms):
        self.address = address
        self.meter_time = meter_time
        self.before = before
        self.after = after
        self.own_err_ms = own_err_ms

    @property
    def drift_s(self):
        """How far the meter is ahead (+) or behind (-): its shown second plus 0.5 against the midpoint."""
        middle = self.before + (self.after - self.before) / 2
        return (self.meter_time - middle).total_seconds() + 0.5

    @property
    def uncertainty_s(self):
        """Bound on the error of ``drift_s``: half the read window, half a displayed second, own bound."""
        if self.own_err_ms is None:
            return None
        return (self.after - self.before).total_seconds() / 2 + 0.5 + self.own_err_ms / 1000.0


class MeterClockCheck:
    """A judged meter clock.

    Attributes:
        address, drift_s, uncertainty_s: see ``MeterClockReading``.
        status: "ok", "drifted" (a broadcast is due), "beyond-broadcast",
            "sync-not-taken" or "unjudged" (own clock unknown).
        message: one line saying why.
    """

    def __init__(self, address, drift_s, uncertainty_s, status, message):
        self.address = address
        self.drift_s = drift_s
        self.uncertainty_s = uncertainty_s
        self.status = status
        self.message = message

    def __repr__(self):
        return "MeterClockCheck(%s, %+.1f s, %s)" % (self.address, self.drift_s, self.status)


class BroadcastDue:
    """Broadcast 08H on the line now. ``reason`` "schedule" or "drift"; ``meters`` the drifted ones."""

    def __init__(self, reason, meters, message):
        self.reason = reason
        self.meters = tuple(meters)
        self.message = message


class SyncWithheld:
    """A broadcast is due but not allowed now.

    Attributes:
        reason: "own-clock" (unknown or too poor: an alarm-worthy event),
            "midnight" (wait a few minutes) or "once-a-day" (already synced today).
        message: one line; ``first``: True the first time in a row this reason is given.
    """

    def __init__(self, reason, message, first):
        self.reason = reason
        self.message = message
        self.first = first


class NeedsTimeSetting:
    """A meter a broadcast cannot fix: set its time by an addressed write or on site.

    Attributes:
        address, drift_s, reason ("beyond-broadcast" or "sync-not-taken"), message.
    """

    def __init__(self, address, drift_s, reason, message):
        self.address = address
        self.drift_s = drift_s
        self.reason = reason
        self.message = message


# ---- the policy ---------------------------------------------------------------------------------

class ClockSyncPolicy:
    """The time-sync decisions for one line.

    Args:
        settings: ``SyncSettings`` (default: all defaults).
        line: a name for messages (the port URL).
        last_sync: local datetime of the line's last broadcast, if the caller
            kept it across a restart (rule 2 must survive restarts).

    Feed each meter clock read to ``check``; call ``poll`` on a timer (every
    minute is plenty); after sending a broadcast, call ``broadcast_sent``.
    """

    def __init__(self, settings=None, line="line", last_sync=None):
        self.settings = settings or SyncSettings()
        self.line = line
        self.last_sync = last_sync
        self.drifted = {}          # address -> drift_s, meters waiting for a broadcast
        self._withheld = None

    def own_clock_problem(self, tq):
        """None when the concentrator's clock may be given to meters, else why not (rule 1)."""
        if tq is None or tq.get("src") == "none" or tq.get("err_ms") is None:
            return ("own clock quality is unknown (tq src %r): syncing the meters to it could move every "
                    "meter clock, and with it daily freezes and tariff switching, to a wrong time"
                    % ((tq or {}).get("src"),))
        if tq["err_ms"] > self.settings.max_own_err_ms:
            return ("own clock error bound %d ms (src %s) exceeds max_own_err_ms %d: syncing the meters to it "
                    "would spread that error to every meter" % (tq["err_ms"], tq["src"],
                                                                 self.settings.max_own_err_ms))
        return None

    def synced_today(self, now_local):
        return self.last_sync is not None and self.last_sync.date() == now_local.date()

    def check(self, reading):
        """Judge one meter's clock; remember it if it needs the next broadcast.

        Args:
            reading: a ``MeterClockReading``.

        Returns:
            (``MeterClockCheck``, ``NeedsTimeSetting`` or None).
        """
        s = self.settings
        drift, unc = reading.drift_s, reading.uncertainty_s
        addr = reading.address
        if unc is None:
            self.drifted.pop(addr, None)
            return MeterClockCheck(addr, drift, None, "unjudged",
                                   "meter %s clock not judged: own clock quality unknown" % addr), None
        least = abs(drift) - unc          # the drift is at least this, whatever the read's timing
        if least <= s.drift_limit_s:
            self.drifted.pop(addr, None)
            return MeterClockCheck(addr, drift, unc, "ok", "meter %s clock %+.1f s (+-%.1f s) is within %.0f s"
                                   % (addr, drift, unc, s.drift_limit_s)), None
        self.drifted.pop(addr, None)
        if least > s.max_correction_s:
            message = ("meter %s clock is %+.0f s off (+-%.1f s), beyond the %.0f s a broadcast may correct "
                       "(DL/T 645 §8): needs an addressed time setting (04000101/04000102 with a password) "
                       "or on-site setting" % (addr, drift, unc, s.max_correction_s))
            return (MeterClockCheck(addr, drift, unc, "beyond-broadcast", message),
                    NeedsTimeSetting(addr, drift, "beyond-broadcast", message))
        if self.last_sync is not None and reading.before >= self.last_sync and self.synced_today(reading.before):
            message = ("meter %s clock is still %+.0f s off (+-%.1f s) after today's broadcast at %s: it did not "
                       "take it, and a second broadcast today is not allowed (DL/T 645 §8, once a day): needs an "
                       "addressed time setting or on-site setting"
                       % (addr, drift, unc, self.last_sync.strftime("%H:%M:%S")))
            return (MeterClockCheck(addr, drift, unc, "sync-not-taken", message),
                    NeedsTimeSetting(addr, drift, "sync-not-taken", message))
        self.drifted[addr] = drift
        return MeterClockCheck(addr, drift, unc, "drifted", "meter %s clock is %+.0f s off (+-%.1f s), beyond "
                               "%.0f s: broadcast due" % (addr, drift, unc, s.drift_limit_s)), None

    def poll(self, now_local, tq):
        """Is a broadcast due now, and allowed?

        Args:
            now_local: the concentrator's local time (naive datetime).
            tq: its clock quality ({"src", "err_ms"}).

        Returns:
            ``BroadcastDue``, ``SyncWithheld``, or None when nothing is due.
        """
        s = self.settings
        if self.synced_today(now_local):
            if self.drifted:
                return self._withhold("once-a-day", "line %s already had its broadcast today at %s (DL/T 645 §8, "
                                      "once a day); %d drifted meter(s) wait for tomorrow"
                                      % (self.line, self.last_sync.strftime("%H:%M:%S"), len(self.drifted)))
            self._withheld = None
            return None
        scheduled = now_local.time() >= s.daily_at
        if not scheduled and not self.drifted:
            self._withheld = None
            return None
        reason = "drift" if self.drifted else "schedule"
        problem = self.own_clock_problem(tq)
        if problem is not None:
            return self._withhold("own-clock", "time sync of line %s withheld: %s" % (self.line, problem))
        worst = max(self.drifted.values(), key=abs) if self.drifted else 0.0
        for when in (now_local, now_local + datetime.timedelta(seconds=worst)):
            if _near_midnight(when, s.midnight_guard_s):
                return self._withhold("midnight", "time sync of line %s waits: %s is within %d s of midnight, "
                                      "when meters freeze and refuse a broadcast (DL/T 645 §8)"
                                      % (self.line, when.strftime("%H:%M:%S"), s.midnight_guard_s))
        self._withheld = None
        if reason == "drift":
            meters = sorted(self.drifted)
            return BroadcastDue("drift", meters, "line %s: broadcast time sync for %d drifted meter(s), worst "
                                "%s at %+.0f s" % (self.line, len(meters), max(meters, key=lambda a: abs(
                                    self.drifted[a])), worst))
        return BroadcastDue("schedule", (), "line %s: daily broadcast time sync (due at %s)"
                            % (self.line, s.daily_at.strftime("%H:%M")))

    def broadcast_sent(self, when_local):
        """Record a broadcast sent at ``when_local``: today's allowance is used, the drift list is cleared."""
        self.last_sync = when_local
        self.drifted.clear()
        self._withheld = None

    def _withhold(self, reason, message):
        first = self._withheld != reason
        self._withheld = reason
        return SyncWithheld(reason, message, first)


# ---- adapters -----------------------------------------------------------------------------------

CLOCK_ITEMS = {"2007": (0x04000101, 0x04000102), "1997": (0xC010, 0xC011)}


def _meter_datetime(address, date_text, time_text):
    try:
        return datetime.datetime.strptime("%s %s" % (date_text, time_text), "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError) as exc:
        raise ClockSyncError("meter %s clock reads date %r time %r, not a valid date and time"
                             % (address, date_text, time_text), "clock") from exc


def read_meter_clock(line, address, clock, std="2007", utc_offset_s=28800, retries=2):
    """Read a meter's date and time (2007 04000101/04000102, 1997 C010/C011).

    The date is read first; if the time then shows the first minute of a day,
    the date is read again (the day may have turned between the two reads).

    Args:
        line: an open ``Line``.
        address: the meter.
        clock: the concentrator's ``() -> (t_ms, tq)`` (an ``edge.clock.ClockQuality``'s ``now``).
        std: "2007" or "1997".
        utc_offset_s: the meters' local time minus UTC.
        retries: as for ``read``.

    Returns:
        a ``MeterClockReading``.

    Raises:
        the ``read`` errors (ReplyTimeout, AbnormalReply, ...); ClockSyncError for an impossible date/time.
    """
    from ._reader import read

    date_di, time_di = CLOCK_ITEMS[std]
    t0, tq0 = clock()
    date_text = read(line, address, date_di, std, retries).value
    time_text = read(line, address, time_di, std, retries).value
    if isinstance(time_text, str) and time_text < "00:01:00":
        date_text = read(line, address, date_di, std, retries).value
    t1, tq1 = clock()
    errs = [q.get("err_ms") for q in (tq0, tq1)]
    own_err = None if None in errs else max(errs)
    return MeterClockReading(address, _meter_datetime(address, date_text, time_text),
                             local_time(t0, utc_offset_s), local_time(t1, utc_offset_s), own_err)


def broadcast_time_sync(line, now_local, monotonic=time.monotonic, sleep=time.sleep):
    """Broadcast 08H so that the frame's last byte arrives on a whole second.

    The frame carries whole seconds (ss mm hh DD MM YY) and meters set their
    clock when it arrives, so it is sent ``wire time`` before the next whole
    second after the line's rest, and carries that second: the meters are set
    within the bus's own latency instead of up to a second behind.

    Args:
        line: an open ``Line``.
        now_local: the concentrator's local time (naive datetime) read just before the call.
        monotonic, sleep: for tests.

    Returns:
        the local time sent (datetime, whole seconds); pass it to ``ClockSyncPolicy.broadcast_sent``.

    Raises:
        LineError: the port failed.
    """
    from protocols.dlt645 import build_time_sync

    called = monotonic()
    frame_len = len(build_time_sync("2000-01-01T00:00:00"))
    wire_s = line.wire_time_s(frame_len)
    ready = max(called, getattr(line, "_rest_until", 0.0))     # the line's rest after the previous frame
    earliest = now_local + datetime.timedelta(seconds=ready - called + wire_s)
    target = earliest.replace(microsecond=0)
    if target < earliest:
        target += datetime.timedelta(seconds=1)
    send_at = called + (target - now_local).total_seconds() - wire_s
    delay = send_at - monotonic()
    if delay > 0:
        sleep(delay)
    line.broadcast(build_time_sync(target.strftime("%Y-%m-%dT%H:%M:%S")))
    return target


__all__ = [
    "SETTINGS", "SyncSettings", "ClockSyncError", "ClockSyncPolicy", "MeterClockReading", "MeterClockCheck",
    "BroadcastDue", "SyncWithheld", "NeedsTimeSetting", "local_time", "read_meter_clock",
    "broadcast_time_sync", "CLOCK_ITEMS",
]
