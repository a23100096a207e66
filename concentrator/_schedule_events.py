"""Values of the line scheduler: jobs, outcomes, settings, decisions and events.

These are plain data. ``LineSchedule`` (``_schedule.py``) makes and consumes
them; the runner (``_runner.py``) turns ``Request`` into a driver call and the
driver's answer or error into an ``Outcome``.
"""

from ._errors import ConcentratorError

# Job kinds. An on-demand read (an operator or the hall asking "now") outranks
# the reading cycle; a cycle job that failed once is retried before fresh ones.
DEMAND = "demand"
CYCLE = "cycle"
KINDS = (DEMAND, CYCLE)

# Priority classes, lower first: on-demand > retry > cycle.
CLASS_DEMAND = 0
CLASS_RETRY = 1
CLASS_CYCLE = 2
CLASS_NAMES = ("demand", "retry", "cycle")

# Outcome kinds of one attempt.
OK = "ok"
TIMEOUT = "timeout"         # silence: nothing acceptable arrived in time
GARBLED = "garbled"         # something arrived but failed its checksum or is malformed
ABNORMAL = "abnormal"       # the meter answered with an error reply: alive, but refuses the item
LINE = "line"               # the port itself failed: nobody's fault on the wire
OUTCOME_KINDS = (OK, TIMEOUT, GARBLED, ABNORMAL, LINE)

# Why an item failed (``ItemFailed.reason``): the attempt kinds that end a
# job, plus what the schedule itself decides.
DEADLINE = "deadline"
CANCELLED = "cancelled"
QUARANTINED = "quarantined"
FAILURE_REASONS = (TIMEOUT, GARBLED, ABNORMAL, DEADLINE, CANCELLED, QUARANTINED)


# The DL/T 645 broadcast address (§7.1): every meter acts, none replies.
BROADCAST_ADDRESS = "999999999999"


class Broadcast:
    """A job item that is not a read: one frame to every meter of the line, with no reply.

    It is queued like an on-demand read (``LineRunner.broadcast``), so it
    waits for the request in flight and never overlaps another frame on the
    wire (rule 1 of ``_schedule.py``). The runner calls ``send(driver)``
    instead of ``driver.read``; what it returns is the ``ItemRead`` value.

    Attributes:
        name: what it is, for messages ("time-sync").
        send: ``send(driver) -> value``; raises as a driver read does
            (``LineError`` when the port failed: the job is put back).
    """

    __slots__ = ("name", "send")

    def __init__(self, name, send):
        self.name = name
        self.send = send

    def __repr__(self):
        return "Broadcast(%s)" % self.name


class ScheduleError(ConcentratorError):
    """The schedule was used wrongly (bad setting, duplicate job, outcome for no request).

    Attributes:
        key: the setting or argument at fault, or None.
    """

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key = key


class ScheduleSettings:
    """The policy's knobs; the defaults and their reasons are in docs/scheduling.md.

    Args:
        max_attempts: attempts per item before it fails (DL/T 645 §16 suggests 2-3).
        quarantine_after: consecutive failed attempts (silence or garbage, any
            item) after which a meter is quarantined.
        backoff_s: the first quarantine period; each failed probe multiplies it
            by ``backoff_factor`` up to ``backoff_max_s``.
        backoff_factor, backoff_max_s: see above.
        retry_delay_s: rest before a failed item is tried again (0: at once,
            before any fresh cycle item).
        line_retry_s: how long the line rests after the port itself failed.
        demand_deadline_s: deadline of an on-demand read submitted without one.

    Raises:
        ScheduleError: a value out of range, naming it.
    """

    __slots__ = ("max_attempts", "quarantine_after", "backoff_s", "backoff_factor", "backoff_max_s",
                 "retry_delay_s", "line_retry_s", "demand_deadline_s")

    def __init__(self, max_attempts=3, quarantine_after=3, backoff_s=60.0, backoff_factor=2.0,
                 backoff_max_s=1800.0, retry_delay_s=0.0, line_retry_s=1.0, demand_deadline_s=30.0):
        _whole("max_attempts", max_attempts, 1, 100)
        _whole("quarantine_after", quarantine_after, 1, 1000)
        _number("backoff_s", backoff_s, 0.001, 7 * 86400.0)
        _number("backoff_factor", backoff_factor, 1.0, 100.0)
        _number("backoff_max_s", backoff_max_s, backoff_s, 7 * 86400.0)
        _number("retry_delay_s", retry_delay_s, 0.0, 3600.0)
        _number("line_retry_s", line_retry_s, 0.0, 3600.0)
        _number("demand_deadline_s", demand_deadline_s, 0.001, 86400.0)
        self.max_attempts = max_attempts
        self.quarantine_after = quarantine_after
        self.backoff_s = float(backoff_s)
        self.backoff_factor = float(backoff_factor)
        self.backoff_max_s = float(backoff_max_s)
        self.retry_delay_s = float(retry_delay_s)
        self.line_retry_s = float(line_retry_s)
        self.demand_deadline_s = float(demand_deadline_s)

    def backoff(self, level):
        """Quarantine period after the ``level``-th failure in a row of a quarantined meter (level >= 1)."""
        return min(self.backoff_max_s, self.backoff_s * self.backoff_factor ** (level - 1))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}


def _whole(key, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ScheduleError("%s must be a whole number in %d..%d, got %r" % (key, lo, hi, value), key)


def _number(key, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ScheduleError("%s must be a number in %s..%s, got %r" % (key, lo, hi, value), key)


class Job:
    """One item to read from one meter, for one cycle or on-demand request.

    Attributes:
        job_id: unique in its schedule, increasing in submission order.
        meter: the meter (a 12-digit address, or whatever the driver takes).
        item: what to read (a DI, a name, a register-map item).
        tag: the cycle id or on-demand request id it belongs to.
        kind: DEMAND or CYCLE.
        deadline: monotonic seconds after which it fails "deadline" (None: none).
        attempts: attempts made so far.
        last_reason, last_message, last_error: the last failed attempt's
            outcome kind, text and exception (None before any).
    """

    __slots__ = ("job_id", "meter", "item", "tag", "kind", "deadline", "attempts", "not_before", "done",
                 "cancelled", "last_reason", "last_message", "last_error")

    def __init__(self, job_id, meter, item, tag, kind, deadline):
        self.job_id = job_id
        self.meter = meter
        self.item = item
        self.tag = tag
        self.kind = kind
        self.deadline = deadline
        self.attempts = 0
        self.not_before = None
        self.done = False
        self.cancelled = False
        self.last_reason = None
        self.last_message = None
        self.last_error = None

    @property
    def priority(self):
        """CLASS_DEMAND, CLASS_RETRY or CLASS_CYCLE."""
        if self.kind == DEMAND:
            return CLASS_DEMAND
        return CLASS_RETRY if self.attempts else CLASS_CYCLE

    def __repr__(self):
        return "Job(#%d %s %r %r %s attempts=%d)" % (self.job_id, self.meter, self.item, self.tag, self.kind,
                                                     self.attempts)


class Outcome:
    """What one attempt gave: ``Outcome.ok(value)`` or ``Outcome.failed(kind, message, error)``.

    Attributes:
        kind: one of OUTCOME_KINDS.
        value: the reading (OK only).
        message: text for a failure.
        error: the exception behind a failure, if any.
    """

    __slots__ = ("kind", "value", "message", "error")

    def __init__(self, kind, value=None, message="", error=None):
        if kind not in OUTCOME_KINDS:
            raise ScheduleError("outcome kind %r is not one of %s" % (kind, ", ".join(OUTCOME_KINDS)), "kind")
        self.kind = kind
        self.value = value
        self.message = message
        self.error = error

    @classmethod
    def ok(cls, value):
        return cls(OK, value=value)

    @classmethod
    def failed(cls, kind, message, error=None):
        if kind == OK:
            raise ScheduleError("a failed outcome cannot have kind ok", "kind")
        return cls(kind, message=message, error=error)

    def __repr__(self):
        return "Outcome(%s%s)" % (self.kind, ", %r" % self.message if self.message else "")


# ---- decisions ------------------------------------------------------------------


class Request:
    """Do this read now; then report its ``Outcome`` with ``LineSchedule.outcome``.

    Attributes:
        job: the Job (meter, item, tag, kind; ``attempts`` already counts this one).
        probe: True when the meter is quarantined and this is its one allowed try.
    """

    __slots__ = ("job", "probe")

    def __init__(self, job, probe=False):
        self.job = job
        self.probe = probe

    @property
    def meter(self):
        return self.job.meter

    @property
    def item(self):
        return self.job.item

    def __repr__(self):
        return "Request(%s %r%s)" % (self.job.meter, self.job.item, " probe" if self.probe else "")


class Idle:
    """Nothing to send before ``until`` (monotonic s; None: until something is submitted)."""

    __slots__ = ("until",)

    def __init__(self, until):
        self.until = until

    def __repr__(self):
        return "Idle(%s)" % (self.until,)


# ---- events ---------------------------------------------------------------------


class ItemRead:
    """A job ended with a value. Attributes: job, value, at (monotonic s)."""

    __slots__ = ("job", "value", "at")

    def __init__(self, job, value, at):
        self.job = job
        self.value = value
        self.at = at

    def __repr__(self):
        return "ItemRead(%s %r %r)" % (self.job.meter, self.job.item, self.job.tag)


class ItemFailed:
    """A job ended without a value.

    Attributes:
        job: the Job (``attempts`` says how many were made).
        reason: one of FAILURE_REASONS.
        message: what happened, for people.
        error: the last attempt's exception, if any.
        at: monotonic s.
    """

    __slots__ = ("job", "reason", "message", "error", "at")

    def __init__(self, job, reason, message, error, at):
        self.job = job
        self.reason = reason
        self.message = message
        self.error = error
        self.at = at

    def __repr__(self):
        return "ItemFailed(%s %r %r %s)" % (self.job.meter, self.job.item, self.job.tag, self.reason)


class MeterQuarantined:
    """A meter failed ``failures`` attempts in a row and is asked again only at ``until``.

    Attributes:
        meter, failures, level (1 on entry, +1 per failed probe), until
        (monotonic s of the next allowed try), reason, message (the last failure).
    """

    __slots__ = ("meter", "failures", "level", "until", "reason", "message", "at")

    def __init__(self, meter, failures, level, until, reason, message, at):
        self.meter = meter
        self.failures = failures
        self.level = level
        self.until = until
        self.reason = reason
        self.message = message
        self.at = at

    def __repr__(self):
        return "MeterQuarantined(%s level=%d until=%.3f)" % (self.meter, self.level, self.until)


class MeterRecovered:
    """A quarantined meter answered. Attributes: meter, since (when it was quarantined), at."""

    __slots__ = ("meter", "since", "at")

    def __init__(self, meter, since, at):
        self.meter = meter
        self.since = since
        self.at = at

    def __repr__(self):
        return "MeterRecovered(%s after %.3f s)" % (self.meter, self.at - self.since)
