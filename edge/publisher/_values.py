"""What the publisher reports: events for ``on_event`` and its health figures. Plain values."""


class _Value:
    __slots__ = ()

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (s, getattr(self, s)) for s in self.__slots__))


class Connected(_Value):
    """An MQTT session is up (CONNACK success); ``reconnects`` counts the ones before it."""

    __slots__ = ("reconnects",)

    def __init__(self, reconnects):
        self.reconnects = reconnects


class Disconnected(_Value):
    """The session ended or could not start; ``error`` (a ``PublisherError``) says why, ``retry_s`` when next."""

    __slots__ = ("error", "retry_s")

    def __init__(self, error, retry_s):
        self.error = error
        self.retry_s = retry_s


class PublishRefused(_Value):
    """The broker's PUBACK for a record carried a failure reason (0x87 not authorized, ...).

    The record stays in the outbox; publishing pauses for ``retry_s``.
    """

    __slots__ = ("seq", "topic", "reason_code", "reason", "retry_s")

    def __init__(self, seq, topic, reason_code, reason, retry_s):
        self.seq = seq
        self.topic = topic
        self.reason_code = reason_code
        self.reason = reason
        self.retry_s = retry_s


class ControlRefused(_Value):
    """A message on a control topic failed verification; ``reason`` is a record reason or ``wrong-channel``."""

    __slots__ = ("topic", "reason", "message")

    def __init__(self, topic, reason, message):
        self.topic = topic
        self.reason = reason
        self.message = message


class ControlApplied(_Value):
    """A verified ack or resend went to the outbox; ``result`` is what the outbox decided."""

    __slots__ = ("kind", "fields", "result")

    def __init__(self, kind, fields, result):
        self.kind = kind
        self.fields = fields
        self.result = result


class CommandRefused(_Value):
    """A verified command was not run by the replay rule: ``reason`` is seen, too-old, from-future or not-newer."""

    __slots__ = ("id", "reason", "message")

    def __init__(self, cid, reason, message):
        self.id = cid
        self.reason = reason
        self.message = message


class CommandFailed(_Value):
    """The ``on_command`` callback raised ``error``; the command counts as run (at most once)."""

    __slots__ = ("id", "name", "error")

    def __init__(self, cid, name, error):
        self.id = cid
        self.name = name
        self.error = error


class Figures(_Value):
    """The publisher's health figures (``Publisher.figures()``).

    Attributes:
        state: "stopped", "connecting", "connected", "paused" (a refused
            publish, waiting ``retry``) or "waiting" (backing off to reconnect).
        connected: True while an MQTT session is up.
        reconnects: sessions established after the first.
        in_flight: records handed to the broker without a PUBACK yet.
        published: records the broker acknowledged (PUBACK), since start.
        publish_rate_per_s: PUBACKs per second over the last ``rate_window_s``.
        refused_publishes, controls_applied, controls_refused, commands_run,
        commands_refused: counters since start.
        ack_timeouts: times unacked records were re-sent because acks stopped.
        last_error: the text of the last error, or None.
        depth_records, depth_bytes, oldest_unacked_age_s, last_seq, acked_seq:
            from the outbox (None if it could not be read).
    """

    __slots__ = ("state", "connected", "reconnects", "in_flight", "published", "publish_rate_per_s",
                 "refused_publishes", "controls_applied", "controls_refused", "commands_run", "commands_refused",
                 "ack_timeouts", "last_error", "depth_records", "depth_bytes", "oldest_unacked_age_s", "last_seq", "acked_seq")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.pop(name, None))
        if fields:
            raise TypeError("unknown figures: %s" % ", ".join(sorted(fields)))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}
