"""Identifiers that appear in topics (and in records): halls, devices, kinds.

Rule: lower-case ``[a-z0-9][a-z0-9-]{0,62}``. Such a name is always one MQTT
topic level: it has no ``/``, no wildcard (``+``, ``#``), cannot start with
``$`` (reserved for broker topics, MQTT 3.1.1 §4.7.2), has no NUL or white
space, and is at most 63 bytes, so a whole topic stays far below the 65,535
byte limit of MQTT strings. The same rule names devices in records (``src``),
so a record's source can always be put into, and read back from, a topic.
"""

import re

IDENTIFIER_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)

# The device kinds the topic scheme knows; each kind publishes its own records.
DEVICE_KINDS = ("concentrator", "kiosk")


def is_identifier(value):
    """True when ``value`` is a ``str`` that follows the identifier rule."""
    return type(value) is str and _IDENTIFIER.fullmatch(value) is not None
