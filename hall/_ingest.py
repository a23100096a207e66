"""What the hall server does with each message it receives, sans I/O.

``Ingest.receive(topic, raw, now_ms)`` decides, for one MQTT message, whether
its record is stored, held, a duplicate, or quarantined, and returns events
saying so. The adapter (``hall serve``) writes ``Stored`` records and
``Quarantined`` items to the database, commits, and only then publishes the
acks from ``Ingest.acks()`` and the resend requests from
``Ingest.resend_requests(now_ms)``. Nothing here reads a clock, a socket or a
file; keys and enrolled device kinds come in as callables.

Rules (ARCHITECTURE "Hall server", promises 2 and 3):

* A record is accepted only from the topic of its own device, kind and
  device kind, in this hall, with a valid signature of an enrolled device,
  and chained: its ``prev`` is the hash of the record before it.
* Per source and epoch, records are stored exactly once and in order. The
  high-water mark ``hw`` is the highest sequence number such that 1..hw are
  all stored; the ack says ``(epoch, hw)``.
* A record beyond ``hw + 1`` (the broker dropped something) is held, its
  signature already checked, and a resend of the gap is requested; when the
  gap fills the held records are chained and stored in order. Holding is
  bounded per source: beyond the bound a record is let go, to come back with
  the resend, never quarantined for it.
* A record at or below ``hw`` is a duplicate (a re-send after a lost ack):
  not stored again, but acked again. If its bytes differ from what was
  stored under that number, it is a forgery or a device bug: quarantined.
* Anything else is quarantined with the reason, never stored as valid.

Several hall server instances sharing one database (PostgreSQL) each see
only part of a device's records. An instance's marks then fall behind what
the others committed; before writing a batch the adapter reads the database's
marks of every chain with a gap and calls ``advance``, so what the others
stored fills the gap instead of a resend the device would refuse (it ignores
resend requests for records already acked).

If the adapter's commit fails after ``receive`` returned ``Stored`` events,
the in-memory marks are ahead of the database: the adapter must call
``restore`` from the database before going on.
"""

from protocols.records import GENESIS_PREV, RecordError, verify_record
from protocols.topics import TopicError, parse_topic


class Stored:
    """A record to write, in order. Attributes: record, topic."""

    def __init__(self, record, topic):
        self.record = record
        self.topic = topic

    def __repr__(self):
        return "Stored(%s, %d, %d)" % (self.record.src, self.record.epoch, self.record.seq)


class Duplicate:
    """A record already stored (re-sent after a lost ack). Attributes: src, epoch, seq."""

    def __init__(self, src, epoch, seq):
        self.src = src
        self.epoch = epoch
        self.seq = seq

    def __repr__(self):
        return "Duplicate(%s, %d, %d)" % (self.src, self.epoch, self.seq)


class Held:
    """A record past a gap, kept until the gap fills. Attributes: src, epoch, seq."""

    def __init__(self, src, epoch, seq):
        self.src = src
        self.epoch = epoch
        self.seq = seq


class Quarantined:
    """A message that cannot be accepted.

    Attributes:
        topic, raw: what arrived.
        reason: a short stable code (a RecordError reason, or "wrong-topic",
            "topic-mismatch", "conflicting-duplicate", "broken-chain").
        detail: a sentence saying what was wrong.
        src: the claimed source if it could be read, else None.
    """

    def __init__(self, topic, raw, reason, detail, src=None):
        self.topic = topic
        self.raw = raw
        self.reason = reason
        self.detail = detail
        self.src = src

    def __repr__(self):
        return "Quarantined(%s: %s)" % (self.reason, self.detail)


class Ack:
    """Tell ``src`` that ``epoch`` is stored up to and including ``seq``."""

    def __init__(self, src, epoch, seq):
        self.src = src
        self.epoch = epoch
        self.seq = seq

    def __eq__(self, other):
        return isinstance(other, Ack) and (self.src, self.epoch, self.seq) == (other.src, other.epoch, other.seq)

    def __repr__(self):
        return "Ack(%s, %d, %d)" % (self.src, self.epoch, self.seq)


class ResendRequest:
    """Ask ``src`` to send ``epoch`` records ``from_seq``..``to_seq`` again."""

    def __init__(self, src, epoch, from_seq, to_seq):
        self.src = src
        self.epoch = epoch
        self.from_seq = from_seq
        self.to_seq = to_seq

    def __eq__(self, other):
        return isinstance(other, ResendRequest) and (self.src, self.epoch, self.from_seq, self.to_seq) == (
            other.src, other.epoch, other.from_seq, other.to_seq)

    def __repr__(self):
        return "ResendRequest(%s, %d, %d..%d)" % (self.src, self.epoch, self.from_seq, self.to_seq)


class _Chain:
    """Ingest state of one (source, epoch)."""

    def __init__(self, hw=0, head=GENESIS_PREV):
        self.hw = hw
        self.head = head
        self.held = {}              # seq -> (record, topic), signature verified
        self.asked_ms = None        # when the current gap was last requested
        self.gap = None             # (first missing seq, since when) of the current gap
        self.asked_to = 0


class Ingest:
    """The hall's ingest decisions.

    Args:
        hall: this hall's id; records on other halls' topics are refused.
        public_key_for: callable(src) -> Ed25519PublicKey or None (not enrolled).
        device_kind_for: callable(src) -> "concentrator" / "kiosk" or None.
        stored_hash: optional callable(src, epoch, seq) -> bytes or None, the
            hash stored under that number, to tell a re-send from a forgery.
        hold_max: records held per source beyond a gap.
        resend_after_ms: how long a requested gap may stay open before it is
            requested again.
        resend_grace_ms: how long a gap may be open before the first request; 0 for at
            once. Several instances sharing the records set it, because another instance
            usually fills the gap within milliseconds.
    """

    def __init__(self, hall, public_key_for, device_kind_for, stored_hash=None, hold_max=2048,
                 resend_after_ms=5000, resend_grace_ms=0):
        self.hall = hall
        self._key_for = public_key_for
        self._kind_for = device_kind_for
        self._stored_hash = stored_hash
        self.hold_max = hold_max
        self.resend_after_ms = resend_after_ms
        self.resend_grace_ms = resend_grace_ms
        self._chains = {}
        self._ack_due = set()
        self.counters = {"stored": 0, "duplicates": 0, "held": 0, "let_go": 0, "quarantined": 0}

    # ---- state ------------------------------------------------------------

    def restore(self, src, epoch, hw, head):
        """Set the marks of one (source, epoch) from the database."""
        self._chains[(src, epoch)] = _Chain(hw, head)

    def marks(self):
        """{(src, epoch): hw} for every chain seen."""
        return {key: chain.hw for key, chain in self._chains.items()}

    def gapped(self):
        """[(src, epoch), ...] of the chains holding records past a gap."""
        return sorted(key for key, chain in self._chains.items() if chain.held)

    def advance(self, src, epoch, hw, head):
        """Catch up with marks another hall server instance committed (a shared database).

        Moves the chain forward to ``hw``/``head`` when they are ahead of it, drops held
        records at or below ``hw``, and chains the held records that now follow.

        Returns:
            the ``Stored`` (and ``Quarantined``) events of the held records chained, for the
            adapter to write; an empty list when the chain was not behind.
        """
        chain = self._chains.get((src, epoch))
        if chain is None or hw <= chain.hw:
            return []
        chain.hw = hw
        chain.head = head
        chain.held = {seq: item for seq, item in chain.held.items() if seq > hw}
        chain.asked_ms = None
        self._ack_due.add((src, epoch))
        events = []
        while chain.hw + 1 in chain.held:
            held, held_topic = chain.held.pop(chain.hw + 1)
            if not self._append(chain, held, held_topic, events):
                break
        return events

    def missing(self, src, epoch):
        """Sequence ranges known to be missing: [(from, to), ...] below the highest held record."""
        chain = self._chains.get((src, epoch))
        if chain is None or not chain.held:
            return []
        ranges = []
        expect = chain.hw + 1
        for seq in sorted(chain.held):
            if seq > expect:
                ranges.append((expect, seq - 1))
            expect = seq + 1
        return ranges

    # ---- messages ---------------------------------------------------------

    def receive(self, topic, raw, now_ms):
        """Decide what to do with one message.

        Returns:
            list of Stored / Duplicate / Held / Quarantined events, in the order
            the adapter must apply them.
        """
        def refuse(reason, detail, src=None):
            self.counters["quarantined"] += 1
            return [Quarantined(topic, raw, reason, detail, src)]

        try:
            t = parse_topic(topic)
        except TopicError as exc:
            return refuse("wrong-topic", str(exc))
        if t.channel != "record" or t.hall != self.hall:
            return refuse("wrong-topic", "topic %r is not a record topic of hall %s" % (topic, self.hall))
        try:
            record = verify_record(raw, self._key_for)
        except RecordError as exc:
            return refuse(exc.reason, str(exc), t.device)
        if record.src != t.device or record.kind != t.record_kind:
            return refuse("topic-mismatch", "record of %s, kind %s, arrived on %s"
                          % (record.src, record.kind, topic), record.src)
        enrolled_kind = self._kind_for(record.src)
        if enrolled_kind != t.device_kind:
            return refuse("topic-mismatch", "device %s is enrolled as %s but published as %s"
                          % (record.src, enrolled_kind, t.device_kind), record.src)

        key = (record.src, record.epoch)
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = _Chain()
        if record.seq <= chain.hw:
            return self._duplicate(topic, raw, record)
        if record.seq > chain.hw + 1:
            if record.seq in chain.held:
                return [Duplicate(record.src, record.epoch, record.seq)]
            if len(chain.held) >= self.hold_max:
                self.counters["let_go"] += 1
                return []
            chain.held[record.seq] = (record, topic)
            self.counters["held"] += 1
            return [Held(record.src, record.epoch, record.seq)]
        events = []
        if not self._append(chain, record, topic, events):
            return events
        while chain.hw + 1 in chain.held:
            held, held_topic = chain.held.pop(chain.hw + 1)
            if not self._append(chain, held, held_topic, events):
                break
        return events

    def _append(self, chain, record, topic, events):
        if record.prev != chain.head:
            self.counters["quarantined"] += 1
            events.append(Quarantined(topic, record.raw, "broken-chain",
                                      "%s epoch %d seq %d: prev does not match the hash of seq %d"
                                      % (record.src, record.epoch, record.seq, chain.hw), record.src))
            return False
        chain.hw = record.seq
        chain.head = record.hash
        self._ack_due.add((record.src, record.epoch))
        self.counters["stored"] += 1
        events.append(Stored(record, topic))
        return True

    def _duplicate(self, topic, raw, record):
        if self._stored_hash is not None:
            stored = self._stored_hash(record.src, record.epoch, record.seq)
            if stored is not None and stored != record.hash:
                self.counters["quarantined"] += 1
                return [Quarantined(topic, raw, "conflicting-duplicate",
                                    "%s epoch %d seq %d differs from the record stored under that number"
                                    % (record.src, record.epoch, record.seq), record.src)]
        self.counters["duplicates"] += 1
        self._ack_due.add((record.src, record.epoch))
        return [Duplicate(record.src, record.epoch, record.seq)]

    # ---- what to publish after the commit ------------------------------------

    def acks(self):
        """Acks for every chain that stored or saw a duplicate since the last call."""
        out = [Ack(src, epoch, self._chains[(src, epoch)].hw) for src, epoch in sorted(self._ack_due)]
        self._ack_due.clear()
        return [a for a in out if a.seq > 0]

    def resend_requests(self, now_ms):
        """Resend requests for gaps open ``resend_grace_ms`` or more, repeated after
        ``resend_after_ms``."""
        out = []
        for (src, epoch), chain in sorted(self._chains.items()):
            if not chain.held:
                chain.gap = None
                continue
            # The grace runs per gap: one that moved (partly filled) starts again.
            if chain.gap is None or chain.gap[0] != chain.hw + 1:
                chain.gap = (chain.hw + 1, now_ms)
            if now_ms - chain.gap[1] < self.resend_grace_ms:
                continue
            gap_to = min(chain.held) - 1
            if (chain.asked_ms is None or gap_to != chain.asked_to
                    or now_ms - chain.asked_ms >= self.resend_after_ms):
                chain.asked_ms = now_ms
                chain.asked_to = gap_to
                out.append(ResendRequest(src, epoch, chain.hw + 1, gap_to))
        return out
