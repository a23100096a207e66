"""The values the outbox core and adapter exchange: configuration, depth, events, decisions, items.

Plain classes with no behaviour beyond their fields, so the core stays one
concept (decisions) and the adapter another (SQLite).
"""


BILLING = "billing"
KEPT = "kept"
DROPPABLE = "droppable"
STORAGE_CLASSES = (BILLING, KEPT, DROPPABLE)


class Limits:
    """The outbox's configuration.

    Args:
        max_records: the most records the store may hold, or None for no limit.
        max_bytes: the most record bytes (the sum of encoded record sizes, not
            the file size) the store may hold, or None for no limit.
        alarm_at: the fill level (0..1] at which the alarm is raised.
        alarm_clear_at: the fill level below which it is cleared again
            (default ``alarm_at - 0.1``).
        window: the most sequence numbers in flight (published, not acked).
        billing_reserve: the fraction of the bound that only batches holding
            billing records may use (rule 5).
        shed_droppable: shed the oldest droppable records at the bound (rule
            5). Off by default: nothing is ever deleted unacked, and a droppable
            record that does not fit is refused like any other (the health
            producer skips it). Shedding leaves holes (``Gap``) that the hall
            cannot ack past until devices send signed gap notices and the hall
            accepts them (docs/decisions.md).
        key_retention_s: how long producer keys (``append_many(keys=)``) are
            remembered: 8 days, longer than a reading cycle's catch-up window.
    """

    def __init__(self, max_records=None, max_bytes=None, alarm_at=0.9, alarm_clear_at=None, window=1000,
                 billing_reserve=0.05, shed_droppable=False, key_retention_s=8 * 86400):
        for name, value in (("max_records", max_records), ("max_bytes", max_bytes)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError("%s must be a positive int or None, got %r" % (name, value))
        if not 0 < alarm_at <= 1:
            raise ValueError("alarm_at must be in (0, 1], got %r" % (alarm_at,))
        if alarm_clear_at is None:
            alarm_clear_at = max(alarm_at - 0.1, 0.0)
        if not 0 <= alarm_clear_at <= alarm_at:
            raise ValueError("alarm_clear_at must be in [0, alarm_at], got %r" % (alarm_clear_at,))
        if not isinstance(window, int) or window < 1:
            raise ValueError("window must be a positive int, got %r" % (window,))
        if not 0 <= billing_reserve < 1:
            raise ValueError("billing_reserve must be in [0, 1), got %r" % (billing_reserve,))
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.alarm_at = alarm_at
        self.alarm_clear_at = alarm_clear_at
        self.window = window
        self.billing_reserve = billing_reserve
        self.shed_droppable = bool(shed_droppable)
        if not isinstance(key_retention_s, (int, float)) or key_retention_s <= 0:
            raise ValueError("key_retention_s must be a positive number, got %r" % (key_retention_s,))
        self.key_retention_s = key_retention_s

    def bound(self, billing):
        """(max_records, max_bytes) for a batch with (``billing``) or without billing records."""
        if billing or not self.billing_reserve:
            return self.max_records, self.max_bytes
        keep = 1.0 - self.billing_reserve
        return (None if self.max_records is None else int(self.max_records * keep),
                None if self.max_bytes is None else int(self.max_bytes * keep))

    def __repr__(self):
        return ("Limits(max_records=%r, max_bytes=%r, alarm_at=%r, alarm_clear_at=%r, window=%r, "
                "billing_reserve=%r, shed_droppable=%r)" % (
                    self.max_records, self.max_bytes, self.alarm_at, self.alarm_clear_at, self.window,
                    self.billing_reserve, self.shed_droppable))


class Depth:
    """What the store holds: all records, and the droppable ones among them."""

    __slots__ = ("records", "bytes", "droppable_records", "droppable_bytes")

    def __init__(self, records=0, nbytes=0, droppable_records=0, droppable_bytes=0):
        self.records = records
        self.bytes = nbytes
        self.droppable_records = droppable_records
        self.droppable_bytes = droppable_bytes

    def __eq__(self, other):
        return isinstance(other, Depth) and all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self):
        return "Depth(records=%d, bytes=%d, droppable_records=%d, droppable_bytes=%d)" % (
            self.records, self.bytes, self.droppable_records, self.droppable_bytes)


# Events the core returns; the adapter hands them to the ``on_event`` callback
# (the health module publishes them).

class AlarmRaised:
    """The store reached ``alarm_at`` of its bound."""

    def __init__(self, level, depth_records, depth_bytes, max_records, max_bytes):
        self.level = level
        self.depth_records = depth_records
        self.depth_bytes = depth_bytes
        self.max_records = max_records
        self.max_bytes = max_bytes

    def __repr__(self):
        return "%s(level=%.3f, depth_records=%d, depth_bytes=%d)" % (
            type(self).__name__, self.level, self.depth_records, self.depth_bytes)


class AlarmCleared(AlarmRaised):
    """The store fell below ``alarm_clear_at`` of its bound."""


class RecordsShed:
    """Droppable records were deleted unacknowledged to make room.

    Attributes: count, nbytes, seqs (the sequence numbers shed, oldest first).
    """

    def __init__(self, seqs, nbytes):
        self.seqs = seqs
        self.count = len(seqs)
        self.nbytes = nbytes

    def __repr__(self):
        return "RecordsShed(count=%d, nbytes=%d, seqs=%r)" % (self.count, self.nbytes, self.seqs[:8])


# Answers to the hall's control messages.

class AckAccepted:
    """Delete every record (and hole) of the epoch up to ``through_seq``."""

    def __init__(self, through_seq):
        self.through_seq = through_seq

    def __repr__(self):
        return "AckAccepted(through_seq=%d)" % self.through_seq


class ResendAccepted:
    """Records ``from_seq .. to_seq`` (clamped to what is unacked) will be published again."""

    def __init__(self, from_seq, to_seq):
        self.from_seq = from_seq
        self.to_seq = to_seq

    def __repr__(self):
        return "ResendAccepted(from_seq=%d, to_seq=%d)" % (self.from_seq, self.to_seq)


class Ignored:
    """A control message that changes nothing, and why (``reason`` is a short code, ``message`` text)."""

    def __init__(self, reason, message):
        self.reason = reason
        self.message = message

    def __repr__(self):
        return "Ignored(%r, %r)" % (self.reason, self.message)


class Admission:
    """An append that fits once ``shed_records``/``shed_bytes`` of droppable records are shed (0, 0: as is)."""

    def __init__(self, add_records, add_bytes, add_droppable_records, add_droppable_bytes, shed_records,
                 shed_bytes):
        self.add_records = add_records
        self.add_bytes = add_bytes
        self.add_droppable_records = add_droppable_records
        self.add_droppable_bytes = add_droppable_bytes
        self.shed_records = shed_records
        self.shed_bytes = shed_bytes

    @property
    def must_shed(self):
        return self.shed_records > 0 or self.shed_bytes > 0


class Figures:
    """Health figures of the outbox (see ``OutboxCore.figures``)."""

    __slots__ = ("epoch", "last_seq", "acked_seq", "depth_records", "depth_bytes", "in_flight",
                 "oldest_unacked_age_s", "appended", "acked", "shed", "refused", "alarm", "level")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "Figures(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict().items())


# Items ``Outbox.next_to_publish`` returns.

class Pending:
    """A record to publish: ``epoch``, ``seq``, ``kind``, ``t_ms`` and ``data`` (the signed bytes)."""

    __slots__ = ("epoch", "seq", "kind", "t_ms", "data")

    def __init__(self, epoch, seq, kind, t_ms, data):
        self.epoch = epoch
        self.seq = seq
        self.kind = kind
        self.t_ms = t_ms
        self.data = data

    @property
    def from_seq(self):
        return self.seq

    @property
    def to_seq(self):
        return self.seq

    def __repr__(self):
        return "Pending(epoch=%d, seq=%d, kind=%r, %d bytes)" % (self.epoch, self.seq, self.kind, len(self.data))


class Gap:
    """Sequence numbers ``from_seq .. to_seq`` of ``epoch`` whose records were shed (droppable kinds).

    The publisher tells the hall, so it records them as shed, not lost.
    """

    __slots__ = ("epoch", "from_seq", "to_seq")

    def __init__(self, epoch, from_seq, to_seq):
        self.epoch = epoch
        self.from_seq = from_seq
        self.to_seq = to_seq

    def __eq__(self, other):
        return isinstance(other, Gap) and (self.epoch, self.from_seq, self.to_seq) == (
            other.epoch, other.from_seq, other.to_seq)

    def __repr__(self):
        return "Gap(epoch=%d, from_seq=%d, to_seq=%d)" % (self.epoch, self.from_seq, self.to_seq)
