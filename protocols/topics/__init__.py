"""The MQTT topic scheme, in one place.

Public API:

* builders: ``record_topic``, ``ack_topic``, ``resend_topic``,
  ``command_topic``, ``status_topic``;
* filters: ``records_subscription`` (every record topic of a hall),
  ``device_records_filter`` (one device's record topics, for broker ACLs),
  ``device_subscriptions`` (what a device subscribes to),
  ``shared_subscription`` and ``check_filter``;
* ``parse_topic(topic) -> Topic`` and ``TopicError``;
* the identifier rule shared with records: ``is_identifier``,
  ``IDENTIFIER_PATTERN``, ``DEVICE_KINDS``, ``CHANNELS``.

Pure functions over text, no I/O. See docs/records.md, "Topics".
"""

from ._errors import TopicError
from ._ids import DEVICE_KINDS, IDENTIFIER_PATTERN, is_identifier
from ._scheme import (CHANNELS, CONTROL_CHANNELS, Topic, ack_topic, check_filter, command_topic,
                      device_records_filter, device_subscriptions, parse_topic, record_topic, records_subscription,
                      resend_topic, shared_subscription, status_topic)

__all__ = [
    "CHANNELS", "CONTROL_CHANNELS", "DEVICE_KINDS", "IDENTIFIER_PATTERN", "Topic", "TopicError", "ack_topic",
    "check_filter", "command_topic", "device_records_filter", "device_subscriptions", "is_identifier",
    "parse_topic", "record_topic", "records_subscription", "resend_topic", "shared_subscription",
    "status_topic",
]
