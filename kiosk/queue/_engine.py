"""The queue engine: tickets, counters and the records they produce (sans-I/O).

Every action takes ``now_ms`` (UTC milliseconds) from the caller and returns
an ``Outcome``: the ticket it concerned and the record bodies to append to
the outbox, each with its time. No clock reads, no files, no logging. The
same sequence of actions always gives the same state and records, which is
what lets the journal (``_journal.py``) rebuild the engine after a crash.

Invariants (each tested in tests/kiosk):

* A ticket number is issued once per category and business day; numbers
  run 1, 2, 3... per prefix and restart with ``begin_day``.
* A "take a ticket" key issues at most one ticket a day; the same key with
  the same request returns that ticket and no record.
* A ticket is at one counter at most, and a counter holds one ticket at most.
* Every ticket ends served ("done"), "no-show", "left" or "expired": the
  next ``begin_day`` (or ``end_day``) expires whatever is still waiting.
* A refused action raises ``ActionRefused`` and changes nothing.

KPIs come from the records' times (``_kpi.py``): wait = call - issued,
service = finish - start, the same way on the kiosk and the hall (promise 7).
"""

import collections
import re

from ._config import CHANNELS
from ._errors import ActionRefused, KeyConflict
from ._estimate import estimate_wait, mean_service_s
from ._policy import call_key, is_eligible
from ._values import (ACTIVE, CALLED, CLOSED, DONE, EXPIRED, LEFT, NO_SHOW, OPEN, PAUSED, SERVING, WAITING,
                      CounterView, Out, Outcome, TicketView, local_day, local_minute)

_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")     # TICKET_V1 "key"
_STAFF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")

class _Ticket:
    __slots__ = TicketView._fields + ("key", "last_call_ms", "start_ms", "issued_business")

    def view(self):
        return TicketView(*(getattr(self, f) for f in TicketView._fields))


class QueueEngine:
    """The queue of one hall for one business day at a time.

    Args:
        config: a ``QueueConfig``.

    Start each day with ``begin_day(now_ms)``; other actions are refused
    (reason "new-day") when ``now_ms`` falls on another day.
    """

    def __init__(self, config):
        self.config = config
        self.day = None
        self.ended = False
        self._numbers = {}
        self._tickets = {}
        self._keys = {}
        self._seq = 0
        self._counters = {cid: [CLOSED, None] for cid in config.counters}
        self._open_ms, self._open_since = dict.fromkeys(config.counters, 0), {}
        self._history = {prefix: collections.deque(maxlen=config.estimate_samples) for prefix in config.categories}

    # ------------------------------------------------------------ queries

    def ticket(self, number):
        """The ``TicketView`` of ``number`` today, or None."""
        t = self._tickets.get(number)
        return t.view() if t else None

    def tickets(self):
        """Every ticket of the day, in issue order."""
        return [t.view() for t in sorted(self._tickets.values(), key=lambda t: t.seq)]

    def counter(self, counter_id):
        """The ``CounterView`` of a counter (KeyError when unknown)."""
        status, number = self._counters[counter_id]
        return CounterView(counter_id, status, number)

    def waiting(self, counter_id=None, now_ms=None):
        """Waiting tickets in call order: all of them (by issue), or those ``counter_id`` would call at ``now_ms``."""
        tickets = [t for t in self._tickets.values() if t.status == WAITING]
        if counter_id is None:
            return [t.view() for t in sorted(tickets, key=lambda t: t.seq)]
        counter = self.config.counters[counter_id]
        mine = [t for t in tickets if is_eligible(counter, t.category, t.priority, t.for_counter)]
        return [t.view() for t in sorted(mine, key=lambda t: self._key(t, now_ms))]

    def snapshot(self):
        """Everything the engine holds, as plain data: equal snapshots are equal states."""
        return {"day": self.day, "ended": self.ended, "numbers": dict(self._numbers), "keys": dict(self._keys),
                "tickets": [tuple(t.view()) + (t.key, t.last_call_ms, t.start_ms) for t in
                            sorted(self._tickets.values(), key=lambda t: t.seq)],
                "counters": {cid: tuple(s) for cid, s in self._counters.items()},
                "open": (dict(self._open_ms), dict(self._open_since)),
                "history": {p: list(h) for p, h in self._history.items()}}

    def estimate(self, now_ms, business, priority="normal"):
        """Estimated wait of a ticket for ``business`` of class ``priority`` taken at ``now_ms``.

        Returns:
            An ``Estimate`` (``_estimate.py``): tickets ahead in call order,
            counters open for the category, expected wait and band.

        Raises:
            ActionRefused: unknown business or class.
        """
        cfg = self.config
        self._check_business("estimate", business)
        self._check_class("estimate", priority)
        category = cfg.businesses[business].category
        rank = cfg.rank(priority)
        newcomer = call_key(cfg.policy, cfg.ageing_bound_s, rank, now_ms, self._seq + 1, now_ms)
        ahead = sum(1 for t in self._tickets.values() if t.status == WAITING and t.category == category
                    and self._key(t, now_ms) < newcomer)
        share, idle = 0.0, 0
        for cid, (status, number) in self._counters.items():
            counter = cfg.counters[cid]
            if status == OPEN and category in counter.categories and priority in counter.classes:
                share += 1.0 / len(counter.categories)
                idle += number is None
        return estimate_wait(category, ahead, share, idle, self.mean_service_s(category, now_ms))

    def mean_service_s(self, category, now_ms):
        """The recent mean time a ticket of ``category`` holds a counter (call to finish or transfer)."""
        cfg = self.config
        priors = [b.service_s for b in cfg.businesses.values() if b.category == category]
        return mean_service_s(self._history[category], sum(priors) / len(priors), now_ms,
                              cfg.estimate_window_s, cfg.estimate_samples)

    def _key(self, t, now_ms):
        cfg = self.config
        return call_key(cfg.policy, cfg.ageing_bound_s, cfg.rank(t.priority), t.arrival_ms, t.seq, now_ms)

    # ------------------------------------------------------------ checks

    def _check_day(self, action, subject, now_ms):
        if self.day is None:
            raise ActionRefused(action, subject, "new-day", "no business day begun; call begin_day first")
        day = local_day(self.config.tz, now_ms)
        if day != self.day:
            raise ActionRefused(action, subject, "new-day", "the time is on %s, the queue is on %s; call "
                                "begin_day first" % (day, self.day))

    def _check_business(self, action, code):
        if code not in self.config.businesses:
            raise ActionRefused(action, code, "business", "unknown business type %r (known: %s)"
                                % (code, ", ".join(sorted(self.config.businesses))))

    def _check_class(self, action, priority):
        if priority not in self.config.order:
            raise ActionRefused(action, priority, "class", "priority class %r is not offered here (classes: %s)"
                                % (priority, ", ".join(self.config.order)))

    def _counter_state(self, action, counter_id):
        if counter_id not in self._counters:
            raise ActionRefused(action, counter_id, "counter", "unknown counter %r (known: %s)"
                                % (counter_id, ", ".join(sorted(self._counters))))
        return self._counters[counter_id]

    def _held(self, action, counter_id, now_ms, allowed):
        """The ticket a counter holds, in one of the ``allowed`` states."""
        self._check_day(action, counter_id, now_ms)
        number = self._counter_state(action, counter_id)[1]
        if number is None:
            raise ActionRefused(action, counter_id, "no-ticket", "counter %s holds no ticket" % counter_id)
        t = self._tickets[number]
        if t.status not in allowed:
            raise ActionRefused(action, number, "state", "ticket %s at counter %s is %s, %s needs %s"
                                % (number, counter_id, t.status, action, " or ".join(allowed)))
        return t

    @staticmethod
    def _staff(action, staff):
        if staff is not None and (not isinstance(staff, str) or not _STAFF.match(staff)):
            raise ActionRefused(action, staff, "staff", "a staff number is 1-32 letters, digits, . _ -; got %r"
                                % (staff,))

    # ------------------------------------------------------------ records

    def _call(self, t, action, counter_id, now_ms, staff=None, **extra):
        body = {"number": t.number, "day": self.day, "action": action, "counter": counter_id,
                "business": t.business}
        if staff is not None:
            body["staff"] = staff
        body.update(extra)
        return Out("call", body, now_ms)

    def _ticket_record(self, t, event, now_ms):
        body = {"number": t.number, "day": self.day, "business": t.business, "priority": t.priority,
                "event": event, "channel": t.channel}
        if t.more:
            body["more"] = list(t.more)
        if t.key is not None and event == "issued":
            body["key"] = t.key
        return Out("ticket", body, now_ms)

    # ------------------------------------------------------------ the day

    def begin_day(self, now_ms):
        """Start the business day of ``now_ms``: expire what is left, close counters, restart numbers.

        Returns:
            An ``Outcome`` with a ticket ``expired`` record for each ticket of
            the previous day not yet ended (none at the first day).

        Raises:
            ActionRefused: ``now_ms`` is on the day already begun or before it.
        """
        day = local_day(self.config.tz, now_ms)
        if self.day is not None and day <= self.day:
            raise ActionRefused("begin_day", day, "same-day", "day %s already begun (queue is on %s)"
                                % (day, self.day))
        records = self._expire_left(now_ms)
        self.day, self.ended = day, False
        self._numbers, self._tickets, self._keys, self._seq = {}, {}, {}, 0
        self._counters = {cid: [CLOSED, None] for cid in self.config.counters}
        self._open_ms, self._open_since = dict.fromkeys(self.config.counters, 0), {}
        for history in self._history.values():
            history.clear()
        return Outcome(None, tuple(records))

    def end_day(self, now_ms):
        """Stop issuing for the rest of the day and expire every ticket still waiting.

        Q-08: closing time never cancels anyone, so this is a staff action
        for when nobody is left in the hall. Tickets at a counter stay.

        Returns:
            An ``Outcome`` with a ticket ``expired`` record per waiting ticket.
        """
        self._check_day("end_day", "day", now_ms)
        self.ended = True
        return Outcome(None, tuple(self._expire_left(now_ms, only_waiting=True)))

    def _expire_left(self, now_ms, only_waiting=False):
        records = []
        for t in sorted(self._tickets.values(), key=lambda t: t.seq):
            if t.status == WAITING or (t.status in ACTIVE and not only_waiting):
                if t.counter is not None:
                    self._counters[t.counter][1] = None
                t.status, t.counter = EXPIRED, None
                records.append(self._ticket_record(t, "expired", now_ms))
        return records

    # ------------------------------------------------------------ tickets

    def issue(self, now_ms, business, priority="normal", channel="kiosk", key=None, more=()):
        """Issue a ticket ("take a ticket").

        Args:
            now_ms: the time; also the ticket's arrival.
            business: a configured business code.
            priority: a class of ``config.order``; classes in ``desk_only``
                need channel "desk" (a guide checks eligibility, Q-10, Q-11).
            channel: "kiosk", "desk" or "app".
            key: the client's idempotency key (1-64 of ``A-Za-z0-9._:-``) or None.
            more: further business codes on the same ticket (Q-05), up to 8.

        Returns:
            ``Outcome(ticket, records)``: one ``ticket`` "issued" record, or
            none when ``key`` already issued this same request today.

        Raises:
            ActionRefused: unknown business or class, class not at this
                channel, before opening or after closing (Q-08), numbers of
                the category used up.
            KeyConflict: ``key`` issued a different request today.
        """
        cfg = self.config
        self._check_day("issue", business, now_ms)
        self._check_business("issue", business)
        self._check_class("issue", priority)
        if channel not in CHANNELS:
            raise ActionRefused("issue", channel, "channel", "channel %r is not one of %s"
                                % (channel, ", ".join(CHANNELS)))
        more = tuple(more)
        for code in more:
            self._check_business("issue", code)
        if len(more) > 8 or len(set(more + (business,))) != len(more) + 1:
            raise ActionRefused("issue", business, "more", "further businesses are up to 8 distinct codes "
                                "other than the first; got %r" % (list(more),))
        if key is not None:
            if not isinstance(key, str) or not _KEY.match(key):
                raise ActionRefused("issue", key, "key", "an idempotency key is 1-64 of A-Z a-z 0-9 . _ : -")
            if key in self._keys:
                t = self._tickets[self._keys[key]]
                if (t.issued_business, t.priority, t.channel, t.more) != (business, priority, channel, more):
                    raise KeyConflict("issue", key, "key-conflict", "key %r issued %s for %s (%s) today; this "
                                      "request is for %s (%s)" % (key, t.number, t.issued_business, t.priority,
                                                                  business, priority))
                return Outcome(t.view(), ())
        if priority in cfg.desk_only and channel != "desk":
            raise ActionRefused("issue", priority, "desk-only", "%s tickets are issued at the guidance desk, "
                                "where staff check eligibility (Q-10, Q-11)" % priority)
        minute = local_minute(cfg.tz, now_ms)
        if minute < cfg.opens_min:
            raise ActionRefused("issue", business, "not-open", "the hall opens at %02d:%02d"
                                % divmod(cfg.opens_min, 60))
        if self.ended or minute >= cfg.closes_min:
            raise ActionRefused("issue", business, "closed", "no tickets after closing at %02d:%02d; those "
                                "waiting are still served (Q-08)" % divmod(cfg.closes_min, 60))
        prefix = cfg.businesses[business].category
        n = self._numbers.get(prefix, 0) + 1
        if n >= 10 ** cfg.digits:
            raise ActionRefused("issue", business, "numbers-used-up", "category %s has issued all %d numbers "
                                "of today" % (prefix, 10 ** cfg.digits - 1))
        self._numbers[prefix] = n
        self._seq += 1
        t = _Ticket()
        t.number = "%s%0*d" % (prefix, cfg.digits, n)
        t.day, t.business, t.category, t.priority = self.day, business, prefix, priority
        t.issued_business = business
        t.status, t.counter, t.for_counter = WAITING, None, None
        t.issued_ms = t.arrival_ms = now_ms
        t.recalls = t.requeues = 0
        t.channel, t.more, t.seq, t.key = channel, more, self._seq, key
        t.last_call_ms = t.start_ms = None
        self._tickets[t.number] = t
        if key is not None:
            self._keys[key] = t.number
        return Outcome(t.view(), (self._ticket_record(t, "issued", now_ms),))

    def reprint(self, now_ms, number):
        """Reprint a waiting or called ticket (queue-systems.md "users ask" 6): a ``reprinted`` record."""
        t = self._waiting_ticket("reprint", number, now_ms, (WAITING, CALLED))
        return Outcome(t.view(), (self._ticket_record(t, "reprinted", now_ms),))

    def cancel(self, now_ms, number):
        """The customer gives up a waiting ticket: it ends "left" with a ``cancelled`` record."""
        t = self._waiting_ticket("cancel", number, now_ms, (WAITING,))
        t.status = LEFT
        return Outcome(t.view(), (self._ticket_record(t, "cancelled", now_ms),))

    def _waiting_ticket(self, action, number, now_ms, allowed):
        self._check_day(action, number, now_ms)
        t = self._tickets.get(number)
        if t is None:
            raise ActionRefused(action, number, "no-ticket", "no ticket %s on %s" % (number, self.day))
        if t.status not in allowed:
            raise ActionRefused(action, number, "state", "ticket %s is %s, %s needs %s"
                                % (number, t.status, action, " or ".join(allowed)))
        return t

    # ------------------------------------------------------------ counters

    def open_counter(self, now_ms, counter_id):
        """Open (or resume) a counter: it may call. No record."""
        return self._set_counter("open_counter", now_ms, counter_id, OPEN)

    def pause_counter(self, now_ms, counter_id):
        """Pause a counter (Q-09: with the head's approval and a sign); it must hold no ticket. No record."""
        return self._set_counter("pause_counter", now_ms, counter_id, PAUSED)

    def close_counter(self, now_ms, counter_id):
        """Close a counter; it must hold no ticket (finish or transfer first, Q-05). No record."""
        return self._set_counter("close_counter", now_ms, counter_id, CLOSED)

    def _set_counter(self, action, now_ms, counter_id, status):
        self._check_day(action, counter_id, now_ms)
        state = self._counter_state(action, counter_id)
        if state[1] is not None and status != OPEN:
            raise ActionRefused(action, counter_id, "busy", "counter %s holds ticket %s; finish, transfer or "
                                "skip it first (Q-05)" % (counter_id, state[1]))
        if state[0] == OPEN and status != OPEN:
            self._open_ms[counter_id] += now_ms - self._open_since.pop(counter_id)
        elif state[0] != OPEN and status == OPEN:
            self._open_since[counter_id] = now_ms
        state[0] = status
        return Outcome(None, ())

    def open_seconds(self, now_ms):
        """Seconds each counter has been open today up to ``now_ms`` (for utilisation, ``_kpi.py``)."""
        return {cid: (self._open_ms[cid] + (now_ms - self._open_since[cid] if cid in self._open_since else 0))
                / 1000.0 for cid in self._counters}

    def call_next(self, now_ms, counter_id, staff=None):
        """The counter calls the first ticket it may call, in policy order (``_policy.py``).

        Returns:
            ``Outcome(ticket, (call record,))``, or ``Outcome(None, ())`` when
            nothing is waiting for this counter.

        Raises:
            ActionRefused: unknown counter, counter not open, or still
                holding a ticket.
        """
        self._check_day("call_next", counter_id, now_ms)
        self._staff("call_next", staff)
        state = self._counter_state("call_next", counter_id)
        if state[0] != OPEN:
            raise ActionRefused("call_next", counter_id, "not-open", "counter %s is %s" % (counter_id, state[0]))
        if state[1] is not None:
            raise ActionRefused("call_next", counter_id, "busy", "counter %s still holds ticket %s"
                                % (counter_id, state[1]))
        counter = self.config.counters[counter_id]
        best = None
        for t in self._tickets.values():
            if t.status == WAITING and is_eligible(counter, t.category, t.priority, t.for_counter):
                if best is None or self._key(t, now_ms) < self._key(best, now_ms):
                    best = t
        if best is None:
            return Outcome(None, ())
        best.status, best.counter, best.for_counter = CALLED, counter_id, None
        best.recalls, best.last_call_ms = 0, now_ms
        state[1] = best.number
        return Outcome(best.view(), (self._call(best, "call", counter_id, now_ms, staff),))

    def recall(self, now_ms, counter_id, staff=None):
        """Call the held ticket again, at most ``config.recalls`` times per call.

        Raises:
            ActionRefused: no called ticket at the counter, or the recall
                limit reached (reason "recall-limit": skip it as a no-show).
        """
        self._staff("recall", staff)
        t = self._held("recall", counter_id, now_ms, (CALLED,))
        if t.recalls >= self.config.recalls:
            raise ActionRefused("recall", t.number, "recall-limit", "ticket %s was recalled %d times, the limit; "
                                "skip it as a no-show" % (t.number, t.recalls))
        t.recalls += 1
        t.last_call_ms = now_ms
        return Outcome(t.view(), (self._call(t, "recall", counter_id, now_ms, staff),))

    def start(self, now_ms, counter_id, staff=None):
        """The called customer has come to the counter: service starts."""
        self._staff("start", staff)
        t = self._held("start", counter_id, now_ms, (CALLED,))
        t.status, t.start_ms = SERVING, now_ms
        return Outcome(t.view(), (self._call(t, "start", counter_id, now_ms, staff),))

    def finish(self, now_ms, counter_id, staff=None):
        """Service is finished: the ticket ends "done" and the counter is free."""
        self._staff("finish", staff)
        t = self._held("finish", counter_id, now_ms, (SERVING,))
        record = self._call(t, "finish", counter_id, now_ms, staff)
        self._release(t, now_ms, DONE)
        return Outcome(t.view(), (record,))

    def no_show(self, now_ms, counter_id, staff=None):
        """Skip the called ticket as a no-show; re-queue it if the rule allows.

        With ``requeue`` "back" or "keep" and fewer than ``max_requeues``
        re-queues so far, the ticket waits again (from now, or in its first
        place) and a ``recycle`` record follows the ``no-show`` one;
        otherwise it ends "no-show".
        """
        self._staff("no_show", staff)
        t = self._held("no_show", counter_id, now_ms, (CALLED,))
        cfg = self.config
        records = [self._call(t, "no-show", counter_id, now_ms, staff)]
        if cfg.requeue != "none" and t.requeues < cfg.max_requeues:
            records.append(self._call(t, "recycle", counter_id, now_ms, staff))
            self._release(t, now_ms, WAITING, held=False)
            t.requeues += 1
            if cfg.requeue == "back":
                t.arrival_ms = now_ms
        else:
            self._release(t, now_ms, NO_SHOW, held=False)
        return Outcome(t.view(), tuple(records))

    def leave(self, now_ms, counter_id, staff=None):
        """The called or served customer left without finishing: the ticket ends "left"."""
        self._staff("leave", staff)
        t = self._held("leave", counter_id, now_ms, ACTIVE)
        record = self._call(t, "leave", counter_id, now_ms, staff)
        self._release(t, now_ms, LEFT, held=t.status == SERVING)
        return Outcome(t.view(), (record,))

    def transfer(self, now_ms, counter_id, to_business=None, to_counter=None, staff=None):
        """Move the held ticket to another business type and/or counter, keeping its arrival (Q-04).

        The ticket waits again with its first arrival time, so it keeps its
        place; with ``to_counter`` only that counter calls it.

        Raises:
            ActionRefused: neither target given, unknown target, the same
                counter, or no ticket held.
        """
        self._staff("transfer", staff)
        t = self._held("transfer", counter_id, now_ms, ACTIVE)
        if to_business is None and to_counter is None:
            raise ActionRefused("transfer", t.number, "target", "a transfer needs to_business or to_counter (Q-04)")
        if to_business is not None:
            self._check_business("transfer", to_business)
        if to_counter is not None:
            self._counter_state("transfer", to_counter)
            if to_counter == counter_id:
                raise ActionRefused("transfer", t.number, "target", "ticket %s is at counter %s already"
                                    % (t.number, counter_id))
        extra = {}
        if to_business is not None:
            extra["to_business"] = to_business
        if to_counter is not None:
            extra["to_counter"] = to_counter
        record = self._call(t, "transfer", counter_id, now_ms, staff, **extra)
        self._release(t, now_ms, WAITING, held=t.status == SERVING)
        if to_business is not None:
            t.business, t.category = to_business, self.config.businesses[to_business].category
        t.for_counter = to_counter
        return Outcome(t.view(), (record,))

    def _release(self, t, now_ms, status, held=True):
        """Free the ticket's counter; a service that ran counts in the estimate's history."""
        if held:
            self._history[t.category].append((now_ms, (now_ms - t.last_call_ms) / 1000.0))
        self._counters[t.counter][1] = None
        t.status, t.counter, t.start_ms = status, None, None


# Every journaled action, by the name the journal stores: built once, never changed.
ACTIONS = {name: getattr(QueueEngine, name) for name in (
    "begin_day", "end_day", "issue", "reprint", "cancel", "open_counter", "pause_counter", "close_counter",
    "call_next", "recall", "start", "finish", "no_show", "leave", "transfer")}
