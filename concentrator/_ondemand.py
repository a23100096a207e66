"""On-demand reads: the hall's signed ``read-meter`` command, answered as records.

The hall publishes a command ``{id, name: "read-meter", args: {meter, items}}``
on the device's command topic; the publisher verifies it and applies the
replay rule, then calls ``OnDemandReads.receive``. The agent checks the
arguments against its archive, queues the items on the meter's line with
on-demand priority (ahead of every cycle job, docs/scheduling.md) and
answers:

* each item read: a ``reading`` record whose ``cycle`` is ``od-<id>``;
* each item that could not be read: an ``event`` record, code
  ``command-failed``, naming the meter, the item and why;
* a command it will not run (unknown name, meter not in the archive, item
  not valid for the meter's protocol, ...): one ``event`` record, code
  ``command-refused``, whose detail names what was wrong; nothing is read.

Every event detail starts with ``command <id>:`` so the hall can tie it to
the command (docs/records.md, "On-demand reads").

Invariants:

* One thread does the work. ``receive`` runs on the publisher's thread and
  only puts a ``CommandReceived`` on the agent's event queue; checking,
  submitting to runners and appending to the outbox happen in ``handle`` on
  the agent's thread, where cycle reads are appended too.
* Validate before submitting: a refused command queues nothing.
* Answers are appended under producer keys (``od-<id>|<meter>|<item>`` for
  a reading, the same plus ``|failed`` for a failure, ``od-<id>|refused``).
  The publisher forgets the ids it ran when the process restarts, so a
  command replayed after a restart is run again; the keys keep the hall
  from getting a second answer (within the outbox's key retention).
* On-demand jobs belong to no cycle: their events never reach the ledger.
  The agent passes every event to ``claims`` first.
"""

import re
import time

from ._cycles_config import CycleConfigError, resolve_item
from ._errors import ConcentratorError
from ._schedule_events import DEMAND, ItemFailed, ItemRead, ScheduleError

READ_METER = "read-meter"
CYCLE_PREFIX = "od-"
REFUSED = "command-refused"
FAILED = "command-failed"
# A reading's cycle is text of at most 64 characters (CYCLE in the record schemas);
# the command id may use what is left after the prefix.
MAX_ID_CHARS = 64 - len(CYCLE_PREFIX)
# One command reads one meter; 32 items is more than any screen of a meter holds,
# and keeps the line free for the cycle (each item is one exchange, about 0.3 s at 2400 baud).
MAX_ITEMS = 32
MAX_ITEM_CHARS = 64     # a reading's ``name`` field
_ARGS = ("meter", "items")
_ADDRESS = re.compile(r"[0-9]{12}")
DETAIL_MAX = 512        # an event's detail (EVENT_V1)


class CommandRefused(ConcentratorError):
    """A command the agent will not run.

    Attributes:
        command_id: the command's id; key: the argument at fault ("name",
        "id", "meter", "items", or an unknown key); meter: the 12-digit
        address asked for, when it is one (None otherwise).
    """

    def __init__(self, message, command_id, key, meter=None):
        super().__init__(message)
        self.command_id = command_id
        self.key = key
        self.meter = meter


class ReadRequest:
    """A checked ``read-meter`` command.

    Attributes:
        command_id: the id; cycle_id: ``od-<id>``; meter: the ``ArchiveMeter``;
        meter_text: its ledger text (what runners and drivers take); items:
        the item names, in the order asked.
    """

    __slots__ = ("command_id", "cycle_id", "meter", "meter_text", "items")

    def __init__(self, command_id, meter, meter_text, items):
        self.command_id = command_id
        self.cycle_id = CYCLE_PREFIX + command_id
        self.meter = meter
        self.meter_text = meter_text
        self.items = items

    def __repr__(self):
        return "ReadRequest(%s %s %r)" % (self.command_id, self.meter.address, self.items)


class CommandReceived:
    """A verified command, waiting on the agent's queue. Attributes: control."""

    __slots__ = ("control",)

    def __init__(self, control):
        self.control = control

    def __repr__(self):
        return "CommandReceived(%s)" % self.control.fields.get("id")


def parse_read_command(fields, meters):
    """Check a command's body against the archive.

    Args:
        fields: the verified command body ``{id, name, args}``.
        meters: {meter text: ArchiveMeter}, the agent's archive.

    Returns:
        a ``ReadRequest``.

    Raises:
        CommandRefused: the name is not ``read-meter``; the id is too long
            for a cycle id; ``args`` has another key or lacks one; ``meter``
            is not a 12-digit address, is not in the archive or is there
            more than once; ``items`` is not a list of 1 to ``MAX_ITEMS``
            distinct names that the meter's protocol knows.
    """
    cid = fields["id"]
    if fields["name"] != READ_METER:
        raise CommandRefused("command %s: unknown command %r (this concentrator runs: %s)"
                             % (cid, fields["name"], READ_METER), cid, "name")
    if len(cid) > MAX_ID_CHARS:
        raise CommandRefused("command %s: id has %d characters, at most %d fit in a cycle id"
                             % (cid, len(cid), MAX_ID_CHARS), cid, "id")
    args = fields["args"]
    for key in sorted(args):
        if key not in _ARGS:
            raise CommandRefused("command %s: unknown argument %r (read-meter takes %s)"
                                 % (cid, key, ", ".join(_ARGS)), cid, key)
    for key in _ARGS:
        if key not in args:
            raise CommandRefused("command %s: argument %r is missing" % (cid, key), cid, key)
    address = args["meter"]
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise CommandRefused("command %s: meter: expected a 12-digit address, got %r" % (cid, address), cid, "meter")
    found = [(text, m) for text, m in meters.items() if m.address == address]
    if not found:
        raise CommandRefused("command %s: meter %s is not in the archive" % (cid, address), cid, "meter", address)
    if len(found) > 1:
        raise CommandRefused("command %s: meter %s is in the archive %d times (%s); cannot tell which to read"
                             % (cid, address, len(found), ", ".join(sorted(t for t, _m in found))), cid, "meter",
                             address)
    text, meter = found[0]
    items = _items(cid, args["items"], meter)
    return ReadRequest(cid, meter, text, items)


def _items(cid, items, meter):
    def refuse(message):
        raise CommandRefused("command %s: items: %s" % (cid, message), cid, "items", meter.address)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        refuse("expected a list of 1 to %d item names, got %r" % (MAX_ITEMS, items))
    for name in items:
        if not isinstance(name, str) or not 0 < len(name) <= MAX_ITEM_CHARS:
            refuse("expected item names of 1 to %d characters, got %r" % (MAX_ITEM_CHARS, name))
        try:
            resolve_item(meter.protocol, name)
        except CycleConfigError as exc:
            refuse("%r is not an item of meter %s (protocol %s): expected %s"
                   % (name, meter.address, meter.protocol, exc.expected))
    if len(set(items)) != len(items):
        refuse("%s asked twice" % sorted(n for n in set(items) if items.count(n) > 1)[0])
    return list(items)


def event_body(code, detail, meter=None):
    """An EVENT_V1 body answering a command (``detail`` is cut to the schema's limit)."""
    body = {"code": code, "severity": "warning", "state": "once", "detail": detail[:DETAIL_MAX]}
    if meter is not None:
        body["meter"] = meter
    return body


class OnDemandReads:
    """The agent's handling of ``read-meter`` commands (see the module doc).

    Args:
        post: puts an event on the agent's queue (thread-safe).
        clock: ``() -> UTC ms``, the agent's clock.
        say: writes one progress line.
        reading_body: the agent's ``reading_body(meter, item, cycle_id,
            reading, read_ms)``, so cycle and on-demand readings are made alike.
    """

    def __init__(self, post, clock, say, reading_body):
        self._post = post
        self._clock = clock
        self._say = say
        self._reading_body = reading_body
        self._pending = {}      # cycle id -> [items asked, items still due, items read]
        # Other commands this concentrator runs: {name: handler(control, outbox)}, on the
        # agent's thread (the agent adds ``search-line``, _agent_search.py).
        self.handlers = {}
        self.received = 0
        self.refused = 0

    def receive(self, control):
        """``on_command`` for ``edge.DeviceRuntime``: hand the command to the agent's thread."""
        self._post(CommandReceived(control))

    def claims(self, event):
        """True for what ``handle`` takes: a received command, or the end of an on-demand job."""
        if isinstance(event, CommandReceived):
            return True
        return isinstance(event, (ItemRead, ItemFailed)) and event.job is not None and event.job.kind == DEMAND

    def handle(self, event, meters, runners, outbox):
        """Run a command, or answer an item of one (on the agent's thread).

        Args:
            event: something ``claims`` took.
            meters: {meter text: ArchiveMeter}; runners: {line name: LineRunner};
            outbox: the device's outbox.

        Raises:
            edge.EdgeError: an append to the outbox failed (as for cycle reads).
        """
        if isinstance(event, CommandReceived):
            self._command(event.control, meters, runners, outbox)
            return
        job = event.job
        state = self._pending.get(job.tag)
        meter = meters.get(job.meter)
        if state is None or meter is None:      # a read_now() of someone else, or a command of another run
            return
        cid = job.tag[len(CYCLE_PREFIX):]
        key = "%s|%s|%s" % (job.tag, job.meter, job.item)
        if isinstance(event, ItemRead):
            read_ms = self._clock() - max(0, int((time.monotonic() - event.at) * 1000))
            body = self._reading_body(meter, job.item, job.tag, event.value, read_ms)
            outbox.append_many([("reading", body)], keys=[key])
            state[2] += 1
        else:
            detail = "command %s: meter %s item %s not read: %s: %s" % (cid, meter.address, job.item, event.reason,
                                                                        event.message)
            outbox.append_many([("event", event_body(FAILED, detail, meter.address))], keys=[key + "|failed"])
        state[1] -= 1
        if state[1] == 0:
            asked, _due, read = self._pending.pop(job.tag)
            self._say("command %s: read-meter %s: %d read, %d failed" % (cid, meter.address, read, asked - read))

    def _command(self, control, meters, runners, outbox):
        self.received += 1
        cid = control.fields["id"]
        name = control.fields["name"]
        if name in self.handlers:
            self.handlers[name](control, outbox)
            return
        if name != READ_METER:
            self._answer(outbox, REFUSED, "command %s: unknown command %r (this concentrator runs: %s)"
                         % (cid, name, ", ".join([READ_METER] + sorted(self.handlers))), None, cid)
            return
        try:
            request = parse_read_command(control.fields, meters)
        except CommandRefused as exc:
            self._answer(outbox, REFUSED, str(exc), exc.meter, cid)
            return
        meter = request.meter
        runner = runners.get(meter.line)
        problem = None
        if runner is None or not runner.running:
            problem = "line %s is not running" % meter.line
        else:
            try:
                runner.submit(request.meter_text, request.items, request.cycle_id, kind=DEMAND)
            except ScheduleError as exc:
                problem = str(exc)
        if problem is not None:
            self._answer(outbox, FAILED, "command %s: meter %s not read: %s" % (cid, meter.address, problem),
                         meter.address, cid)
            return
        self._pending[request.cycle_id] = [len(request.items), len(request.items), 0]
        self._say("command %s: read-meter %s %s" % (cid, meter.address, " ".join(request.items)))

    def _answer(self, outbox, code, detail, meter, cid):
        """One event for the whole command: refused, or failed before anything was queued."""
        self.refused += 1
        what = "refused" if code == REFUSED else "failed"
        outbox.append_many([("event", event_body(code, detail, meter))], keys=["%s%s|%s" % (CYCLE_PREFIX, cid, what)])
        self._say("command %s %s: %s" % (cid, what, detail))


__all__ = ["CommandReceived", "CommandRefused", "OnDemandReads", "ReadRequest", "event_body", "parse_read_command",
           "CYCLE_PREFIX", "FAILED", "READ_METER", "REFUSED"]
