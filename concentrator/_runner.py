"""LineRunner: the thread that carries out one line's schedule.

A thin adapter (STYLE.md): it owns one driver (one ``Line``, or a Modbus
client), asks the ``LineSchedule`` what to do, does it, translates the
driver's answer or error into an ``Outcome``, and hands every event to
``on_event``. All policy (order, retries, quarantine, deadlines) is in
``_schedule.py``; the only clock and the only waiting are here.

Several runners run side by side, one per line, each in its own thread;
they share nothing but the ``on_event`` callable (which must therefore be
thread-safe: a ``queue.Queue.put`` or a ``Ledger.record`` are).

Driver interface (DL/T 645 here; a Modbus driver plugs in the same way)::

    driver.read(meter, item) -> Reading      # one attempt, no retries of its own
    driver.close()

``read`` raises concentrator errors: ``ReplyTimeout`` for silence,
``ChecksumFailure`` or ``BadReply`` for a garbled reply, ``AbnormalReply``
(or any ``ConcentratorError`` with a true ``refused`` attribute) for a
meter's refusal, ``LineError`` when the port itself fails. Anything else
that is a ``ConcentratorError`` counts as garbled.
"""

import queue
import threading
import time

from protocols.dlt645 import DLT645Error, parse_di

from ._errors import AbnormalReply, BadReply, ConcentratorError, LineError, ReplyTimeout
from ._line import DEFAULT_PACING_S, DEFAULT_TIMEOUT_S, Line
from ._reader import read as read_item
from ._schedule import LineSchedule
from ._schedule_events import (ABNORMAL, BROADCAST_ADDRESS, CYCLE, DEMAND, GARBLED, LINE, TIMEOUT, Broadcast, Idle,
                               ItemFailed, ItemRead, Outcome, Request, ScheduleError)

# A stop or a submit wakes the thread at once; this only bounds a sleep, as
# a guard against a clock that jumps (a test's fake clock).
_MAX_IDLE_S = 5.0


class DLT645Driver:
    """DL/T 645 reads on one line, one attempt each (the schedule does the retries).

    Args:
        url: pyserial URL of the line.
        stds: {address: "2007" or "1997"} for meters that are not 2007.
        baud, parity, timeout_s, pacing_s: as ``Line``.

    The line is opened at the first read; after a ``LineError`` it is
    closed, and the next read opens it again (a USB adapter unplugged and
    plugged back in, a TCP gateway restarted).

    Items are DIs as int, or text the meter's edition knows: a name such as
    "forward_active_total" or hex digits such as "00010000".
    """

    def __init__(self, url, stds=None, baud=2400, parity="E", timeout_s=DEFAULT_TIMEOUT_S,
                 pacing_s=DEFAULT_PACING_S):
        self.url = url
        self.stds = dict(stds or {})
        self._line_args = (baud, parity, timeout_s, pacing_s)
        self._line = None

    def _open(self):
        if self._line is None:
            baud, parity, timeout_s, pacing_s = self._line_args
            self._line = Line(self.url, baud=baud, parity=parity, timeout_s=timeout_s, pacing_s=pacing_s)
        return self._line

    def read(self, meter, item):
        """One attempt to read ``item`` from ``meter``; see the module doc for errors."""
        std = self.stds.get(meter, "2007")
        di = item
        if not isinstance(item, int):
            try:
                di = parse_di(str(item), std)
            except DLT645Error as exc:
                raise BadReply("item %r is not a DL/T 645-%s data identifier: %s" % (item, std, exc)) from exc
        try:
            return read_item(self._open(), meter, di, std, retries=0)
        except LineError:
            self.close()
            raise

    def time_sync(self, now_local):
        """Broadcast the 08H time sync (``_clocksync.broadcast_time_sync``); for a ``Broadcast`` job.

        Args:
            now_local: ``() -> naive local datetime``, read just before sending.

        Returns:
            the local time sent (whole seconds).

        Raises:
            LineError: the port failed (the line is closed, and opened again next time).
        """
        from ._clocksync import broadcast_time_sync

        try:
            return broadcast_time_sync(self._open(), now_local())
        except LineError:
            self.close()
            raise

    def search(self, std, window_s=None):
        """Search the line for meters of edition ``std`` (``_searcher.search``); for a ``Broadcast`` job.

        Returns:
            a ``SearchResult``.

        Raises:
            LineError: the port failed (the line is closed, and opened again next time).
        """
        from ._searcher import search

        try:
            return search(self._open(), std, window_s)
        except LineError:
            self.close()
            raise

    def close(self):
        if self._line is not None:
            line, self._line = self._line, None
            line.close()


def classify(exc):
    """The Outcome for a driver error."""
    if isinstance(exc, LineError):
        kind = LINE
    elif isinstance(exc, AbnormalReply) or getattr(exc, "refused", False):
        kind = ABNORMAL
    elif isinstance(exc, ReplyTimeout) and type(exc) is ReplyTimeout:
        kind = TIMEOUT
    else:
        kind = GARBLED      # ChecksumFailure, BadReply, other concentrator errors
    return Outcome.failed(kind, str(exc), exc)


class LineRunner:
    """One line's thread: takes jobs, reads, reports events.

    Args:
        driver: see the module doc; closed by ``stop``.
        name: the line's name (thread name, messages).
        on_event: ``on_event(runner, event)`` for every schedule event
            (ItemRead, ItemFailed, MeterQuarantined, MeterRecovered), called
            in the runner's thread. Default: put ``(runner, event)`` on
            ``self.events`` (a queue.Queue).
        settings: ScheduleSettings.
        clock: monotonic seconds (default ``time.monotonic``).

    Use ``start()``, ``submit``/``read_now``, ``stop()``; or ``with``.
    """

    def __init__(self, driver, name="line", on_event=None, settings=None, clock=None):
        self.driver = driver
        self.name = name
        self.schedule = LineSchedule(settings, name)
        self.events = queue.Queue()
        self._on_event = on_event or (lambda runner, event: self.events.put((runner, event)))
        self._clock = clock or time.monotonic
        # One lock guards the schedule; it is never held during I/O or while
        # delivering an event, so submit/cancel never wait for the wire.
        self._cond = threading.Condition()
        self._thread = None
        self._stopping = False
        self._delivering = False
        self._waiters = {}
        self._broadcasts = {}       # tag -> on_done of a queued Broadcast
        self._demand_ids = iter(range(1, 1 << 62))
        self.error = None
        self.requests = 0

    # ---- lifecycle ------------------------------------------------------------

    def start(self):
        """Start the thread (idempotent). Returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="line %s" % self.name, daemon=True)
            self._thread.start()
        return self

    def request_stop(self):
        """Ask the thread to stop after the read in progress; do not wait."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def stop(self, timeout_s=10.0):
        """Stop after the read in progress (if any) and close the driver. Jobs left are dropped.

        Raises:
            ConcentratorError: the thread had died of an unexpected error.
        """
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self.driver.close()
        if self.error is not None:
            err, self.error = self.error, None
            raise ConcentratorError("line %s stopped on an error: %r" % (self.name, err)) from err

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    # ---- work -----------------------------------------------------------------

    def submit(self, meter, items, tag, kind=CYCLE, timeout_s=None):
        """Queue reads (thread-safe, does not wait for the wire); results come as events.

        Args:
            meter, items, tag, kind: as ``LineSchedule.submit``.
            timeout_s: the jobs' deadline, seconds from now (None: see
                ``LineSchedule.submit``).

        Returns:
            list of the Jobs.

        Raises:
            ScheduleError: the runner is stopped, or as ``LineSchedule.submit``.
        """
        with self._cond:
            if self._stopping:
                why = " on an error: %s" % (self.error,) if self.error is not None else ""
                raise ScheduleError("line %s is stopped%s; cannot queue reads of %s" % (self.name, why, meter))
            now = self._clock()
            deadline = None if timeout_s is None else now + timeout_s
            jobs = self.schedule.submit(meter, items, tag, now, kind, deadline)
            self._cond.notify_all()
            return jobs

    def cancel(self, tag):
        """End every queued job of ``tag`` as cancelled (thread-safe). Returns how many."""
        with self._cond:
            n = self.schedule.cancel(tag, self._clock())
            self._cond.notify_all()
            return n

    def read_now(self, meter, item, timeout_s=30.0):
        """An on-demand read: ahead of every cycle job; blocks until it ends.

        Returns:
            the Reading.

        Raises:
            the driver's error of the last attempt (ReplyTimeout, AbnormalReply, ...),
            or ScheduleError when it failed without one (quarantined meter,
            deadline, stop).
        """
        tag = ("demand", next(self._demand_ids))
        done = threading.Event()
        box = []
        with self._cond:
            self._waiters[tag] = (done, box)
        try:
            self.submit(meter, [item], tag, DEMAND, timeout_s)
        except ScheduleError:
            with self._cond:
                self._waiters.pop(tag, None)
            raise
        # The schedule ends the job by its deadline; the margin covers a read in progress.
        if not done.wait(timeout_s + 10.0):
            with self._cond:
                self._waiters.pop(tag, None)
            raise ScheduleError("line %s did not end the on-demand read of %s %r in time" % (self.name, meter, item))
        event = box[0]
        if isinstance(event, ItemRead):
            return event.value
        if event.error is not None:
            raise event.error
        err = ScheduleError(event.message, "reason")
        err.reason = event.reason
        raise err

    def broadcast(self, item, on_done, timeout_s=30.0):
        """Queue a ``Broadcast`` ahead of every cycle job; do not wait for it.

        Args:
            item: the ``Broadcast``.
            on_done: ``on_done(event)`` with its ``ItemRead`` (value: what
                ``item.send`` returned) or ``ItemFailed``, called once in the
                runner's thread instead of ``on_event``.
            timeout_s: it fails "deadline" if not sent by then.

        Returns:
            the Job.

        Raises:
            ScheduleError: the runner is stopped, or ``item`` is not a Broadcast.
        """
        if not isinstance(item, Broadcast):
            raise ScheduleError("line %s: expected a Broadcast, got %r" % (self.name, item), "item")
        tag = ("broadcast", next(self._demand_ids))
        with self._cond:
            self._broadcasts[tag] = on_done
        try:
            return self.submit(BROADCAST_ADDRESS, [item], tag, DEMAND, timeout_s)[0]
        except ScheduleError:
            with self._cond:
                self._broadcasts.pop(tag, None)
            raise

    def _quiet(self):
        return self._stopping or (self.schedule.pending == 0 and not self.schedule.events_waiting
                                  and not self._delivering)

    def wait_idle(self, timeout_s=None):
        """Block until every job has ended and its event was delivered. Returns False on timeout."""
        with self._cond:
            return self._cond.wait_for(self._quiet, timeout_s)

    # ---- the thread -----------------------------------------------------------

    def _deliver(self, event):
        if isinstance(event, (ItemRead, ItemFailed)):
            with self._cond:
                waiter = self._waiters.pop(event.job.tag, None)
                on_done = self._broadcasts.pop(event.job.tag, None)
            if on_done is not None:
                on_done(event)
                return
            if waiter is not None:
                waiter[1].append(event)
                waiter[0].set()
        self._on_event(self, event)

    def _run(self):
        schedule = self.schedule
        cond = self._cond
        try:
            while True:
                with cond:
                    self._delivering = False
                    if self._stopping:
                        break
                    now = self._clock()
                    decision = schedule.next_event(now)
                    if isinstance(decision, Idle):
                        cond.notify_all()       # wake wait_idle
                        wait = _MAX_IDLE_S if decision.until is None else min(_MAX_IDLE_S, decision.until - now)
                        if wait > 0:
                            cond.wait(wait)
                        continue
                    if not isinstance(decision, Request):
                        self._delivering = True
                if isinstance(decision, Request):
                    self.requests += 1
                    try:
                        if isinstance(decision.item, Broadcast):
                            outcome = Outcome.ok(decision.item.send(self.driver))
                        else:
                            outcome = Outcome.ok(self.driver.read(decision.meter, decision.item))
                    except ConcentratorError as exc:
                        outcome = classify(exc)
                    with cond:
                        schedule.outcome(decision, outcome, self._clock())
                else:
                    self._deliver(decision)
        except Exception as exc:    # reported by stop(); this line is dead either way
            self.error = exc
        finally:
            with cond:
                self._stopping = True
                waiters = list(self._waiters.values())
                self._waiters.clear()
                self._delivering = False
                cond.notify_all()
            for done, box in waiters:
                box.append(ItemFailed(None, "stopped", "line %s stopped before the read" % self.name, None,
                                      self._clock()))
                done.set()


def stop_all(runners, timeout_s=10.0):
    """Stop several runners in parallel (each finishes its read in progress); raise the first error."""
    for runner in runners:
        runner.request_stop()
    first = None
    for runner in runners:
        try:
            runner.stop(timeout_s)
        except ConcentratorError as exc:
            first = first or exc
    if first is not None:
        raise first


__all__ = ["LineRunner", "DLT645Driver", "classify", "stop_all"]
