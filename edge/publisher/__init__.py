"""The publisher: drains the outbox to the hall's MQTT broker and applies the hall's signed controls.

``PublisherCore`` (what to send next, what a PUBACK completes), ``Backoff``
(reconnect delays) and ``CommandGate`` (the command replay rule) are pure;
``Publisher`` runs them over one paho-mqtt client (``_mqtt``, the only module
that imports paho). See docs/edge.md, "Publisher".
"""

from .._errors import BrokerRefused, ClientError, ConnectFailed, ConnectionLost, PublisherError
from ._backoff import Backoff
from ._core import PublisherCore
from ._publisher import Publisher
from ._replay import CommandGate
from ._status import STATUS_VERSION, birth_payload, offline_payload, parse_status
from ._values import (CommandFailed, CommandRefused, Connected, ControlApplied, ControlRefused, Disconnected,
                      Figures, PublishRefused)

__all__ = [
    "Publisher", "PublisherCore", "Backoff", "CommandGate",
    "STATUS_VERSION", "birth_payload", "offline_payload", "parse_status",
    "Connected", "Disconnected", "PublishRefused", "ControlApplied", "ControlRefused", "CommandRefused",
    "CommandFailed", "Figures",
    "PublisherError", "ConnectFailed", "ConnectionLost", "BrokerRefused", "ClientError",
]
