"""The policy of one RS-485 line: which read goes next, and what an outcome means.

Sans-I/O (STYLE.md): ``LineSchedule`` takes jobs, outcomes and ``now`` (the
caller's monotonic seconds) and returns decisions and events; it never reads
a clock, sleeps, touches a port or logs. ``LineRunner`` (``_runner.py``) is
the thin adapter that does the I/O. The shape follows h11: call
``next_event(now)`` until it says ``Request`` (do it, then ``outcome``) or
``Idle`` (wait until ``until`` or until something is submitted).

Rules (docs/scheduling.md says why):

1. At most one request is in flight: after a ``Request``, ``next_event``
   yields only queued events until ``outcome`` is called, then raises.
2. Priority classes, strictly: on-demand > retry > cycle. A ready on-demand
   job is always the next request, ahead of every queued cycle job.
3. Inside a class, meters take turns (least recently asked first), and a
   meter's jobs go in submission order; so a meter with 40 items cannot
   delay one with 2 by more than one request per turn.
4. A failed attempt (silence, garbage) is retried up to ``max_attempts``; an
   abnormal reply is an answer (DL/T 645 §10) and ends the job at once.
5. ``quarantine_after`` failed attempts in a row put the meter in
   quarantine: it is asked once (a probe) per back-off period, the period
   doubling (by default 1, 2, 4 ... capped at 30 min) while probes fail.
   A dead meter thus costs at most one timeout per period and cannot starve
   the line (Promise 4). A probe that is answered ends the quarantine.
   Jobs of a quarantined meter that cannot be tried before their deadline
   fail at once with reason "quarantined", so a cycle can close.
6. Every job ends exactly once, as ``ItemRead`` or ``ItemFailed`` (deadline,
   cancel, attempts exhausted, quarantine).

A broadcast (a ``Broadcast`` item to ``BROADCAST_ADDRESS``, e.g. the 08H
time sync) is an on-demand job like any other: it obeys rule 1, so it is
never sent while a read waits for its reply.

M-09: "acquisition failure" (采集失败) is what ``ItemFailed`` records; the
ledger (``_ledger.py``) keeps it per cycle, meter and item.
"""

import collections
import heapq

from ._schedule_events import (ABNORMAL, CANCELLED, CLASS_CYCLE, CLASS_DEMAND, CLASS_RETRY, CYCLE, DEADLINE,
                               DEMAND, KINDS, LINE, OK, QUARANTINED, Idle, ItemFailed, ItemRead, Job,
                               MeterQuarantined, MeterRecovered, Outcome, Request, ScheduleError,
                               ScheduleSettings)

_CLASSES = (CLASS_DEMAND, CLASS_RETRY, CLASS_CYCLE)


class MeterState:
    """What the schedule knows of one meter (read-only for callers).

    Attributes:
        meter: its address.
        failures: failed attempts in a row (reset by any answer).
        quarantined: True while in quarantine.
        level: failures in a row while quarantined (1 on entry); sets the back-off.
        since: when it was quarantined (monotonic s) or None.
        probe_at: the earliest next try while quarantined, or None.
        requests: attempts made to it, in all.
        last_reason, last_message: the last failure.
    """

    __slots__ = ("meter", "failures", "quarantined", "level", "since", "probe_at", "requests", "last_reason",
                 "last_message", "turn", "order", "queues", "live")

    def __init__(self, meter, order):
        self.meter = meter
        self.failures = 0
        self.quarantined = False
        self.level = 0
        self.since = None
        self.probe_at = None
        self.requests = 0
        self.last_reason = None
        self.last_message = None
        self.turn = -1              # the schedule's request counter when last asked
        self.order = order          # first-seen order, the tie-breaker
        self.queues = tuple(collections.deque() for _ in _CLASSES)
        self.live = 0               # queued jobs not yet ended

    def as_dict(self):
        return {"meter": self.meter, "failures": self.failures, "quarantined": self.quarantined,
                "level": self.level, "since": self.since, "probe_at": self.probe_at, "requests": self.requests,
                "last_reason": self.last_reason, "last_message": self.last_message, "queued": self.live}

    def head(self, now):
        """The next job of this meter ready at ``now``, or None; drops ended jobs from the fronts."""
        for queue in self.queues:
            while queue and queue[0].done:
                queue.popleft()
            for job in queue:
                # Only a retry waiting out retry_delay_s is not ready; the
                # jobs behind it need not wait for it.
                if not job.done and (job.not_before is None or job.not_before <= now):
                    return job
        return None

    def waiting_until(self):
        """The earliest not_before among queued jobs that are not ready yet."""
        times = [j.not_before for q in self.queues for j in q if not j.done and j.not_before is not None]
        return min(times) if times else None


class LineSchedule:
    """The scheduling state of one line.

    Args:
        settings: a ScheduleSettings (defaults if None).
        name: the line's name, for messages.
    """

    def __init__(self, settings=None, name="line"):
        self.settings = settings or ScheduleSettings()
        self.name = name
        self._meters = {}
        self._jobs = {}             # job_id -> Job, live (queued or in flight)
        self._keys = {}             # (meter, item, tag) -> job_id, live jobs only
        self._deadlines = []        # heap of (deadline, job_id), lazily cleaned
        self._events = collections.deque()
        self._in_flight = None      # the Request awaiting its outcome
        self._next_id = 0
        self._turns = 0
        self._line_hold_until = None

    # ---- queries --------------------------------------------------------------

    @property
    def in_flight(self):
        """The Request awaiting its outcome, or None."""
        return self._in_flight

    @property
    def pending(self):
        """Jobs not yet ended (queued or in flight)."""
        return len(self._jobs)

    @property
    def events_waiting(self):
        """Events queued for ``next_event``."""
        return len(self._events)

    def jobs(self, tag=None):
        """Live jobs (of one tag), in submission order."""
        return sorted((j for j in self._jobs.values() if tag is None or j.tag == tag), key=lambda j: j.job_id)

    def meter_state(self, meter):
        """The MeterState of ``meter``, or None if never seen."""
        return self._meters.get(meter)

    def meters(self):
        """Every MeterState, in first-seen order."""
        return sorted(self._meters.values(), key=lambda m: m.order)

    def quarantined(self):
        """Meters in quarantine."""
        return [m.meter for m in self.meters() if m.quarantined]

    # ---- input ----------------------------------------------------------------

    def submit(self, meter, items, tag, now, kind=CYCLE, deadline=None):
        """Queue reads of ``items`` from ``meter``.

        Args:
            meter: the meter address.
            items: iterable of items (hashable); one job each.
            tag: cycle id or on-demand request id (hashable).
            now: monotonic seconds.
            kind: CYCLE or DEMAND.
            deadline: monotonic seconds; None: none for CYCLE, ``now +
                demand_deadline_s`` for DEMAND.

        Returns:
            list of the new Jobs.

        Raises:
            ScheduleError: unknown kind, no items, or an item already queued
                for the same meter and tag (nothing is queued then).
        """
        if kind not in KINDS:
            raise ScheduleError("job kind %r is not one of %s" % (kind, ", ".join(KINDS)), "kind")
        items = list(items)
        if not items:
            raise ScheduleError("no items to read from meter %s for %r" % (meter, tag), "items")
        seen = set()
        for item in items:
            key = (meter, item, tag)
            if key in self._keys or item in seen:
                raise ScheduleError("item %r of meter %s is already queued for %r on %s"
                                    % (item, meter, tag, self.name), "items")
            seen.add(item)
        if kind == DEMAND and deadline is None:
            deadline = now + self.settings.demand_deadline_s
        state = self._meter(meter)
        cls = CLASS_DEMAND if kind == DEMAND else CLASS_CYCLE
        jobs = []
        for item in items:
            job = Job(self._next_id, meter, item, tag, kind, deadline)
            self._next_id += 1
            self._jobs[job.job_id] = job
            self._keys[(meter, item, tag)] = job.job_id
            state.queues[cls].append(job)
            state.live += 1
            if deadline is not None:
                heapq.heappush(self._deadlines, (deadline, job.job_id))
            jobs.append(job)
        if state.quarantined:
            self._fail_unreachable(state, now)
        return jobs

    def cancel(self, tag, now):
        """End every job of ``tag`` with reason "cancelled".

        A job in flight is left to finish: a value it brings is delivered
        (it is a true reading), a failure ends it as cancelled.

        Returns:
            the number of jobs cancelled now.
        """
        n = 0
        for job in self.jobs(tag):
            if self._in_flight is not None and self._in_flight.job is job:
                job.cancelled = True
                continue
            self._end_failed(job, CANCELLED, "cancelled before it was read", now)
            n += 1
        return n

    def outcome(self, request, outcome, now):
        """Report what the in-flight ``request`` gave.

        Args:
            request: the Request ``next_event`` returned.
            outcome: an Outcome.
            now: monotonic seconds.

        Raises:
            ScheduleError: ``request`` is not the one in flight.
        """
        if self._in_flight is None or request is not self._in_flight:
            raise ScheduleError("outcome for %r, but %s has %s in flight"
                                % (request, self.name, self._in_flight or "nothing"))
        if not isinstance(outcome, Outcome):
            raise ScheduleError("outcome must be an Outcome, got %r" % (outcome,), "outcome")
        self._in_flight = None
        job = request.job
        state = self._meters[job.meter]
        if outcome.kind == LINE:
            # The port failed: no fault of the meter's, and the attempt did
            # not happen on the wire. Put the job back and rest the line.
            job.attempts -= 1
            state.requests -= 1
            job.last_reason, job.last_message, job.last_error = LINE, outcome.message, outcome.error
            self._line_hold_until = now + self.settings.line_retry_s
            if job.cancelled:
                self._end_failed(job, CANCELLED, "cancelled; the line failed: %s" % outcome.message, now)
                return
            self._requeue(state, job)
            self._check_deadline(job, now, outcome.message)
            return
        if outcome.kind == OK or outcome.kind == ABNORMAL:
            self._answered(state, now)
            if outcome.kind == OK:
                self._end(job)
                self._events.append(ItemRead(job, outcome.value, now))
            else:
                job.last_reason, job.last_message, job.last_error = ABNORMAL, outcome.message, outcome.error
                self._end_failed(job, ABNORMAL, outcome.message, now)
            return
        # Silence or garbage: the meter may be gone.
        job.last_reason, job.last_message, job.last_error = outcome.kind, outcome.message, outcome.error
        state.failures += 1
        state.last_reason, state.last_message = outcome.kind, outcome.message
        if job.cancelled:
            self._end_failed(job, CANCELLED, "cancelled; last attempt: %s" % outcome.message, now)
        elif job.attempts >= self.settings.max_attempts:
            self._end_failed(job, outcome.kind, _attempts_text(outcome.message, job.attempts), now)
        else:
            job.not_before = now + self.settings.retry_delay_s if self.settings.retry_delay_s else None
            self._requeue(state, job)
            self._check_deadline(job, now, outcome.message)
        if state.quarantined:
            state.level += 1
            self._quarantine(state, now)
        elif state.failures >= self.settings.quarantine_after:
            state.quarantined = True
            state.level = 1
            state.since = now
            self._quarantine(state, now)

    # ---- output ---------------------------------------------------------------

    def next_event(self, now):
        """The next thing to do or to know.

        Returns:
            a queued event (ItemRead, ItemFailed, MeterQuarantined,
            MeterRecovered) if any; else ``Request`` (the read to do now) or
            ``Idle(until)``.

        Raises:
            ScheduleError: a request is in flight and no events are queued
                (report its outcome first: rule 1).
        """
        self._expire(now)
        if self._events:
            return self._events.popleft()
        if self._in_flight is not None:
            raise ScheduleError("%s has %r in flight; report its outcome before asking for more"
                                % (self.name, self._in_flight))
        if self._line_hold_until is not None:
            if now < self._line_hold_until:
                return Idle(self._idle_until(now))
            self._line_hold_until = None
        best = None
        for state in self._meters.values():
            if not state.live:
                continue
            if state.quarantined and now < state.probe_at:
                continue
            job = state.head(now)
            if job is None:
                continue
            rank = (job.priority, state.turn, state.order)
            if best is None or rank < best[0]:
                best = (rank, state, job)
        if best is None:
            return Idle(self._idle_until(now))
        _rank, state, job = best
        self._take(state, job)
        job.attempts += 1
        state.requests += 1
        state.turn = self._turns
        self._turns += 1
        self._in_flight = Request(job, probe=state.quarantined)
        return self._in_flight

    # ---- internals ------------------------------------------------------------

    def _meter(self, meter):
        state = self._meters.get(meter)
        if state is None:
            state = self._meters[meter] = MeterState(meter, len(self._meters))
        return state

    def _take(self, state, job):
        """Remove ``job`` from its queue for the request (it is at or near the front)."""
        queue = state.queues[job.priority]
        if queue and queue[0] is job:
            queue.popleft()
        else:
            queue.remove(job)

    def _requeue(self, state, job):
        # A retry goes to the front of its class: it was first in line already.
        state.queues[job.priority].appendleft(job)

    def _end(self, job):
        job.done = True
        del self._jobs[job.job_id]
        del self._keys[(job.meter, job.item, job.tag)]
        self._meters[job.meter].live -= 1

    def _end_failed(self, job, reason, message, now):
        self._end(job)
        self._events.append(ItemFailed(job, reason, message, job.last_error, now))

    def _check_deadline(self, job, now, message):
        if job.deadline is not None and now >= job.deadline and not job.done:
            self._end_failed(job, DEADLINE, "deadline passed after %d attempt(s); last: %s"
                             % (job.attempts, message), now)

    def _answered(self, state, now):
        state.failures = 0
        if state.quarantined:
            state.quarantined = False
            self._events.append(MeterRecovered(state.meter, state.since, now))
            state.level = 0
            state.since = None
            state.probe_at = None

    def _quarantine(self, state, now):
        state.probe_at = now + self.settings.backoff(state.level)
        self._events.append(MeterQuarantined(state.meter, state.failures, state.level, state.probe_at,
                                             state.last_reason, state.last_message, now))
        self._fail_unreachable(state, now)

    def _fail_unreachable(self, state, now):
        """Fail the jobs of a quarantined meter that cannot be tried before their deadline."""
        wait_s = state.probe_at - now
        for job in [j for q in state.queues for j in q if not j.done]:
            if job.deadline is not None and job.deadline < state.probe_at:
                self._end_failed(job, QUARANTINED,
                                 "meter %s is quarantined after %d failed attempt(s) in a row (last: %s); "
                                 "next try in %.0f s, after this item's deadline"
                                 % (state.meter, state.failures, state.last_message, wait_s), now)

    def _expire(self, now):
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _deadline, job_id = heapq.heappop(heap)
            job = self._jobs.get(job_id)
            if job is None or job.done:
                continue
            if self._in_flight is not None and self._in_flight.job is job:
                continue    # decided by its outcome
            last = "; last: %s" % job.last_message if job.last_message else ""
            self._end_failed(job, DEADLINE, "deadline passed after %d attempt(s)%s" % (job.attempts, last), now)

    def _idle_until(self, now):
        times = []
        if self._line_hold_until is not None:
            times.append(self._line_hold_until)
        for state in self._meters.values():
            if not state.live:
                continue
            if state.quarantined and now < state.probe_at:
                times.append(state.probe_at)
                continue
            waiting = state.waiting_until()
            if waiting is not None:
                times.append(waiting)
        while self._deadlines and (self._deadlines[0][1] not in self._jobs):
            heapq.heappop(self._deadlines)
        if self._deadlines:
            times.append(self._deadlines[0][0])
        return min(times) if times else None


def _attempts_text(message, attempts):
    return "%s, %d attempt(s)" % (message, attempts) if attempts > 1 else message


__all__ = ["LineSchedule", "MeterState", "ScheduleSettings", "ScheduleError", "Job", "Outcome", "Request",
           "Idle", "ItemRead", "ItemFailed", "MeterQuarantined", "MeterRecovered", "DEMAND", "CYCLE"]
