"""Build and parse every MQTT topic of the hall system, in one place.

Shapes (each ``{...}`` is one identifier, see _ids.py):

* ``hall/{hall}/{device_kind}/{device}/{kind}``: records a device publishes
  (5 levels; ``device_kind`` is ``concentrator`` or ``kiosk``);
* ``hall/{hall}/ack/{device}``, ``hall/{hall}/resend/{device}``,
  ``hall/{hall}/command/{device}``: signed control messages from the hall
  to one device (4 levels);
* ``hall/{hall}/status/{device}``: the device's retained birth message and
  last will (4 levels).

Invariant: record topics have 5 levels and every other topic 4, and the third
level of a record topic is a device kind, never one of the control or status
words. So ``hall/{hall}/+/+/+`` matches record topics only and a device's
control subscriptions never match a record topic. Builders validate every
identifier, so nothing built here needs escaping or can smuggle a wildcard.
"""

from collections import namedtuple

from ._errors import TopicError
from ._ids import DEVICE_KINDS, IDENTIFIER_PATTERN, is_identifier

ROOT = "hall"
# Channels of the 4-level topics: what the hall sends a device, and its status.
CONTROL_CHANNELS = ("ack", "resend", "command")
CHANNELS = ("record",) + CONTROL_CHANNELS + ("status",)
# MQTT strings carry a 2-byte length (MQTT 3.1.1 §1.5.3, 5.0 §1.5.4).
MAX_TOPIC_BYTES = 65535


class Topic(namedtuple("Topic", "channel hall device_kind device record_kind")):
    """A parsed topic.

    Attributes:
        channel: "record", "ack", "resend", "command" or "status".
        hall: hall id.
        device_kind: "concentrator" or "kiosk" for record topics, else None.
        device: device id.
        record_kind: the record kind of a record topic (e.g. "reading"), else None.
    """

    __slots__ = ()

    def __str__(self):
        if self.channel == "record":
            return "/".join((ROOT, self.hall, self.device_kind, self.device, self.record_kind))
        return "/".join((ROOT, self.hall, self.channel, self.device))


def _check_id(value, what):
    if not is_identifier(value):
        raise TopicError("%s %r is not an identifier: expected lower-case %s" % (what, value, IDENTIFIER_PATTERN),
                         expected=IDENTIFIER_PATTERN, got=value)
    return value


def _check_device_kind(value):
    if value not in DEVICE_KINDS or type(value) is not str:
        raise TopicError("device kind %r is not one of %s" % (value, ", ".join(DEVICE_KINDS)),
                         expected=DEVICE_KINDS, got=value)
    return value


def record_topic(hall, device_kind, device, kind):
    """``hall/{hall}/{device_kind}/{device}/{kind}``, where a device publishes records of one kind.

    Raises:
        TopicError: an identifier or the device kind is not valid.
    """
    return "/".join((ROOT, _check_id(hall, "hall id"), _check_device_kind(device_kind),
                     _check_id(device, "device id"), _check_id(kind, "record kind")))


def _device_topic(channel, hall, device):
    return "/".join((ROOT, _check_id(hall, "hall id"), channel, _check_id(device, "device id")))


def ack_topic(hall, device):
    """``hall/{hall}/ack/{device}``: the hall's signed acknowledgements to one device.

    Raises:
        TopicError: an identifier is not valid.
    """
    return _device_topic("ack", hall, device)


def resend_topic(hall, device):
    """``hall/{hall}/resend/{device}``: the hall's signed resend requests to one device.

    Raises:
        TopicError: an identifier is not valid.
    """
    return _device_topic("resend", hall, device)


def command_topic(hall, device):
    """``hall/{hall}/command/{device}``: signed commands from the hall to one device.

    Raises:
        TopicError: an identifier is not valid.
    """
    return _device_topic("command", hall, device)


def status_topic(hall, device):
    """``hall/{hall}/status/{device}``: the device's retained birth message and last will.

    Raises:
        TopicError: an identifier is not valid.
    """
    return _device_topic("status", hall, device)


def records_subscription(hall):
    """The filter that matches every record topic of a hall and nothing else of the scheme.

    ``hall/{hall}/+/+/+``: five levels, while ack, resend, command and status
    topics have four (and MQTT's ``+`` matches exactly one level), so the hall
    never receives its own control messages or the status messages here.

    Raises:
        TopicError: the hall id is not valid.
    """
    return "/".join((ROOT, _check_id(hall, "hall id"), "+", "+", "+"))


def device_records_filter(hall, device_kind, device):
    """``hall/{hall}/{device_kind}/{device}/+``: every record topic of one device (for broker ACLs).

    Raises:
        TopicError: an identifier or the device kind is not valid.
    """
    return "/".join((ROOT, _check_id(hall, "hall id"), _check_device_kind(device_kind),
                     _check_id(device, "device id"), "+"))


def device_subscriptions(hall, device):
    """The topics a device subscribes to: its ack, resend and command topics, in that order.

    Raises:
        TopicError: an identifier is not valid.
    """
    return tuple(_device_topic(channel, hall, device) for channel in CONTROL_CHANNELS)


def check_filter(topic_filter):
    """Check that ``topic_filter`` is a well-formed MQTT topic filter and return it.

    ``+`` and ``#`` must fill a whole level and ``#`` must be the last level
    (MQTT 3.1.1 §4.7.1); a filter is never empty and holds no NUL.

    Raises:
        TopicError: the filter is malformed.
    """
    if type(topic_filter) is not str or not topic_filter:
        raise TopicError("topic filter must be non-empty text, got %r" % (topic_filter,), topic=topic_filter)
    if "\x00" in topic_filter:
        raise TopicError("topic filter %r holds a NUL character" % topic_filter, topic=topic_filter)
    if len(topic_filter.encode("utf-8", "surrogatepass")) > MAX_TOPIC_BYTES:
        raise TopicError("topic filter is longer than %d bytes" % MAX_TOPIC_BYTES, topic=topic_filter)
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if ("+" in level or "#" in level) and level not in ("+", "#"):
            raise TopicError("topic filter %r: level %d %r mixes a wildcard with text" % (topic_filter, index, level),
                             topic=topic_filter, level=index, expected="'+', '#' or text", got=level)
        if level == "#" and index != len(levels) - 1:
            raise TopicError("topic filter %r: '#' must be the last level, found at level %d" % (topic_filter, index),
                             topic=topic_filter, level=index, expected="'#' last", got=level)
    return topic_filter


def shared_subscription(group, topic_filter):
    """``$share/{group}/{filter}``: an MQTT 5 shared subscription (also Mosquitto 2 and EMQX on 3.1.1).

    Several hall server instances subscribing with the same group share the
    messages of ``topic_filter`` between them, each message going to one.

    Args:
        group: share name, an identifier (so it holds no ``/``, ``+`` or ``#``).
        topic_filter: the filter to share, e.g. ``records_subscription(hall)``.

    Raises:
        TopicError: the group is not an identifier, or the filter is malformed
            or is itself a shared subscription.
    """
    _check_id(group, "share group")
    check_filter(topic_filter)
    if topic_filter.startswith("$share/"):
        raise TopicError("topic filter %r is already a shared subscription" % topic_filter, topic=topic_filter,
                         level=0, expected="a plain filter", got="$share")
    return "$share/%s/%s" % (group, topic_filter)


def _level_error(topic, index, what, expected, got):
    return TopicError("topic %r: level %d %s: expected %s, got %r" % (topic, index, what, expected, got),
                      topic=topic, level=index, expected=expected, got=got)


def parse_topic(topic):
    """Parse a topic of the scheme into a ``Topic``.

    Args:
        topic: the topic a message arrived on (text, as MQTT clients give it).

    Returns:
        Topic with the channel, hall, device kind (records only), device and
        record kind (records only).

    Raises:
        TopicError: the topic is not text, is a filter, is foreign (does not
            start with ``hall/``), has the wrong number of levels, or holds an
            invalid identifier or word; the message names the level.
    """
    if type(topic) is not str:
        raise TopicError("topic must be text, got %s" % type(topic).__name__, topic=topic)
    if "+" in topic or "#" in topic:
        raise TopicError("topic %r holds a wildcard: it is a filter, not a topic" % topic, topic=topic)
    levels = topic.split("/")
    if levels[0] != ROOT:
        raise TopicError("topic %r is not a hall topic: expected first level %r, got %r" % (topic, ROOT, levels[0]),
                         topic=topic, level=0, expected=ROOT, got=levels[0])
    if len(levels) not in (4, 5):
        raise TopicError("topic %r has %d levels: expected 5 (hall/{hall}/{device-kind}/{device}/{kind}) or "
                         "4 (hall/{hall}/ack|resend|command|status/{device})" % (topic, len(levels)),
                         topic=topic, expected="4 or 5 levels", got=len(levels))
    hall = levels[1]
    if not is_identifier(hall):
        raise _level_error(topic, 1, "hall id", IDENTIFIER_PATTERN, hall)
    if len(levels) == 5:
        device_kind, device, kind = levels[2], levels[3], levels[4]
        if device_kind not in DEVICE_KINDS:
            raise _level_error(topic, 2, "device kind", " or ".join(DEVICE_KINDS), device_kind)
        if not is_identifier(device):
            raise _level_error(topic, 3, "device id", IDENTIFIER_PATTERN, device)
        if not is_identifier(kind):
            raise _level_error(topic, 4, "record kind", IDENTIFIER_PATTERN, kind)
        return Topic("record", hall, device_kind, device, kind)
    channel, device = levels[2], levels[3]
    if channel not in CHANNELS or channel == "record":
        raise _level_error(topic, 2, "channel", " or ".join(CONTROL_CHANNELS + ("status",)), channel)
    if not is_identifier(device):
        raise _level_error(topic, 3, "device id", IDENTIFIER_PATTERN, device)
    return Topic(channel, hall, None, device, None)
