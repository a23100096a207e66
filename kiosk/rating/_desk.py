"""Rating prompts per counter (sans-I/O): ask after a service act, take a key, end in one record.

Rules (R-01, R-04, queue-systems.md "Ratings"; each tested in tests/kiosk):

* A prompt is bound to one service act: ticket number, business day,
  counter, staff number and business, taken from the queue's ``finish``
  call record. Only the pad answers it: staff cannot rate.
* One rating per ticket per day: a ticket that was asked before (whatever
  its outcome) is refused (reason "already-rated").
* Every prompt ends in exactly one ``rating`` record (body version 2):
  ``rated`` with a level, ``timeout`` when nobody answered within
  ``timeout_s``, or ``superseded`` when the counter finished its next
  ticket first. So "not rated" is counted, never silently missing.
* Levels 1 and 2 need a reason (picked by number from the configured list,
  or typed); the prompt waits ``timeout_s`` again for it. Without one it
  ends ``timeout`` and carries no level: the standard wants a reason with
  every dissatisfied rating, so half a rating is not counted as one.

Every action takes ``now_ms``; refused actions raise ``RatingRefused`` and
change nothing. The journal (``_store.py``) rebuilds this state after a restart.
"""

import collections
import re

from ._errors import RatingRefused

BODY_VERSION = 2
_TICKET = re.compile(r"[A-Z]{0,3}[0-9]{1,5}\Z")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_COUNTER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")                 # record ID
_STAFF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")            # record STAFF, never a name
_BUSINESS = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)?\Z")           # record BUSINESS

Out = collections.namedtuple("Out", "kind body t_ms v")
Out.__doc__ = "A record to append: kind \"rating\", its body, its time (UTC ms) and body version."

Prompt = collections.namedtuple("Prompt", "number day counter staff business asked_ms deadline_ms level")
Prompt.__doc__ = "A pending prompt: the service act, when it was asked, until when it waits, the level chosen so far."


class RatingDesk:
    """The rating pads of a hall's counters.

    Args:
        config: a ``RatingConfig``.
    """

    def __init__(self, config):
        self.config = config
        self._pending = {}      # counter -> Prompt
        self._asked = set()     # (day, number) of every ticket asked, pending or ended

    # ------------------------------------------------------------ queries

    def pending(self, counter):
        """The pending ``Prompt`` at ``counter``, or None."""
        return self._pending.get(counter)

    def prompts(self):
        """Every pending prompt, by counter."""
        return dict(self._pending)

    def was_asked(self, day, number):
        """True when ticket ``number`` of ``day`` has been asked (one rating per ticket)."""
        return (day, number) in self._asked

    def next_deadline_ms(self):
        """The earliest deadline of a pending prompt, or None."""
        return min((p.deadline_ms for p in self._pending.values()), default=None)

    # ------------------------------------------------------------ restore

    def restore(self, asked, pending):
        """Load state from the journal: the (day, number) pairs asked and the pending prompts."""
        self._asked = set(asked)
        self._pending = {p.counter: p for p in pending}

    # ------------------------------------------------------------ actions

    def ask(self, now_ms, number, day, counter, staff=None, business=None):
        """The counter finished a service act: the pad asks the customer.

        Returns:
            A tuple of ``Out``: a ``superseded`` record when the counter's
            previous prompt was still open, else empty.

        Raises:
            RatingRefused: bad ticket or day ("ticket"), or this ticket was
                asked before today ("already-rated").
        """
        if not (_ok(_TICKET, number) and _ok(_DAY, day) and _ok(_COUNTER, counter)
                and (staff is None or _ok(_STAFF, staff)) and (business is None or _ok(_BUSINESS, business))):
            raise RatingRefused("ask", number, "ticket", "a prompt needs a ticket number, a day YYYY-MM-DD, a "
                                "counter id and optionally a staff number and business code; got %r"
                                % ((number, day, counter, staff, business),))
        if (day, number) in self._asked:
            raise RatingRefused("ask", number, "already-rated", "ticket %s of %s was asked for a rating already; "
                                "one rating per ticket" % (number, day))
        records = ()
        old = self._pending.get(counter)
        if old is not None:
            records = (self._end(old, "superseded", now_ms),)
        prompt = Prompt(number, day, counter, staff, business, now_ms, now_ms + int(self.config.timeout_s * 1000),
                        None)
        if old is not None:
            del self._pending[counter]
        self._pending[counter] = prompt
        self._asked.add((day, number))
        return records

    def ask_after(self, now_ms, call_body):
        """``ask`` for the service act of a queue ``call`` record with action "finish".

        Raises:
            RatingRefused: not a finish record ("ticket"), or as ``ask``.
        """
        if not isinstance(call_body, dict) or call_body.get("action") != "finish":
            number = call_body.get("number") if isinstance(call_body, dict) else None
            raise RatingRefused("ask", number, "ticket", "a rating follows a finished service act (a call "
                                "record with action finish)")
        return self.ask(now_ms, call_body["number"], call_body["day"], call_body["counter"],
                        call_body.get("staff"), call_body.get("business"))

    def press(self, now_ms, counter, level):
        """The customer pressed level ``level`` (1..5) on the pad of ``counter``.

        Returns:
            ``(records, needs_reason)``: a ``rated`` record for levels 3..5;
            for 1 and 2 no record yet and ``needs_reason`` True.

        Raises:
            RatingRefused: no prompt at the counter ("no-prompt"), a level
                outside 1..5 ("level"), or the prompt's time is up ("no-prompt").
        """
        prompt = self._live("press", counter, now_ms)
        if type(level) is not int or not 1 <= level <= 5:
            raise RatingRefused("press", counter, "level", "a level is 1..5, got %r" % (level,))
        if level >= 3:
            del self._pending[counter]
            return (self._end(prompt._replace(level=level), "rated", now_ms),), False
        deadline = now_ms + int(self.config.timeout_s * 1000)
        self._pending[counter] = prompt._replace(level=level, deadline_ms=deadline)
        return (), True

    def give_reason(self, now_ms, counter, reason):
        """The reason for a level 1 or 2: a number of the configured list (1-based) or typed text.

        Returns:
            A tuple with the ``rated`` record.

        Raises:
            RatingRefused: no prompt ("no-prompt"), no level 1-2 chosen
                ("no-level"), an unknown number or bad text ("reason").
        """
        prompt = self._live("reason", counter, now_ms)
        if prompt.level is None or prompt.level > 2:
            raise RatingRefused("reason", counter, "no-level", "a reason follows level 1 or 2; no such level chosen")
        reasons = self.config.reasons
        if type(reason) is int:
            if not 1 <= reason <= len(reasons):
                raise RatingRefused("reason", counter, "reason", "reason %d is not on the list of %d"
                                    % (reason, len(reasons)))
            text = reasons[reason - 1]
        elif isinstance(reason, str) and 1 <= len(reason.strip()) <= 256 and reason.isprintable():
            text = reason.strip()
        else:
            raise RatingRefused("reason", counter, "reason", "a typed reason is 1..256 printable characters")
        del self._pending[counter]
        return (self._end(prompt, "rated", now_ms, reason=text),)

    def expire(self, now_ms):
        """End every prompt whose time is up with a ``timeout`` record ("not rated").

        Returns:
            A tuple of ``Out``, by counter.
        """
        records = []
        for counter in sorted(self._pending):
            prompt = self._pending[counter]
            if prompt.deadline_ms <= now_ms:
                del self._pending[counter]
                records.append(self._end(prompt, "timeout", now_ms))
        return tuple(records)

    # ------------------------------------------------------------ helpers

    def _live(self, action, counter, now_ms):
        prompt = self._pending.get(counter)
        if prompt is None:
            raise RatingRefused(action, counter, "no-prompt", "no rating prompt open at counter %s" % counter)
        if prompt.deadline_ms <= now_ms:
            raise RatingRefused(action, counter, "no-prompt", "the prompt for %s at counter %s timed out; it is "
                                "recorded as not rated" % (prompt.number, counter))
        return prompt

    @staticmethod
    def _body(prompt, outcome, reason=None):
        body = {"number": prompt.number, "day": prompt.day, "counter": prompt.counter, "outcome": outcome,
                "level": prompt.level if outcome == "rated" else None, "asked_t": prompt.asked_ms}
        if prompt.staff is not None:
            body["staff"] = prompt.staff
        if prompt.business is not None:
            body["business"] = prompt.business
        if reason is not None:
            body["reason"] = reason
        return body

    def _end(self, prompt, outcome, now_ms, reason=None):
        return Out("rating", self._body(prompt, outcome, reason), now_ms, BODY_VERSION)


def _ok(pattern, value):
    return isinstance(value, str) and pattern.match(value) is not None


def as_v1(body):
    """The version 1 body of a ``rated`` version 2 body (same facts), or None for other outcomes."""
    if body.get("outcome") != "rated":
        return None
    return {k: v for k, v in body.items() if k not in ("outcome", "asked_t")}
