"""Errors of the device runtime, one family under ``EdgeError``.

Each message says what failed, on which file or record, and what was
expected; the same facts are attributes, so a caller (the CLI, the health
module) does not have to parse the text.
"""


class EdgeError(Exception):
    """Base of every error the device runtime raises."""


class IdentityError(EdgeError):
    """The device identity (key, device.json, hall.pub, epoch) cannot be made or used.

    Attributes:
        path: the file or directory concerned, or None.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class IdentityExists(IdentityError):
    """``init`` found an identity already there; it never overwrites one."""


class IdentityMissing(IdentityError):
    """No identity in the data directory (run ``identity init`` first)."""


class InsecurePermissions(IdentityError):
    """A key file or the data directory is open to other users.

    Attributes:
        path, mode (the file's permission bits), expected (the bits we want),
        fix (the command that repairs it).
    """

    def __init__(self, message, path, mode, expected):
        super().__init__(message, path)
        self.mode = mode
        self.expected = expected
        self.fix = "chmod %o %s" % (expected, path)


class BadKey(IdentityError):
    """Text or a file that should hold a public or private key does not."""


class OutboxError(EdgeError):
    """The outbox cannot store, read or delete records."""


class StoreMismatch(OutboxError):
    """The outbox file belongs to another device or key, or has an unknown layout.

    Attributes:
        path, field (what differs), expected, got.
    """

    def __init__(self, message, path, field, expected, got):
        super().__init__(message)
        self.path = path
        self.field = field
        self.expected = expected
        self.got = got


class OutboxFull(OutboxError):
    """The storage bound is reached and nothing droppable is left to shed.

    Billing-relevant records are never dropped; the producer gets this instead
    and degrades (a kiosk goes to manual pre-collection, a concentrator keeps
    the reading in its own ledger and retries).

    Attributes:
        kinds: the kinds of the refused record(s).
        depth_records, depth_bytes: what the store holds now.
        max_records, max_bytes: the configured bound (None = unbounded).
        add_records, add_bytes: what the refused append would have added.
    """

    def __init__(self, message, kinds, depth_records, depth_bytes, max_records, max_bytes, add_records,
                 add_bytes):
        super().__init__(message)
        self.kinds = kinds
        self.depth_records = depth_records
        self.depth_bytes = depth_bytes
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.add_records = add_records
        self.add_bytes = add_bytes


class PublisherError(EdgeError):
    """The publisher cannot reach the broker, or the broker or MQTT client refused something.

    Paho's return and reason codes end here: callers see these, never paho's.

    Attributes:
        host, port: the broker, when known.
    """

    def __init__(self, message, host=None, port=None):
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectFailed(PublisherError):
    """No MQTT session: TCP, TLS or CONNECT failed, or the broker did not answer in time."""


class ConnectionLost(PublisherError):
    """An MQTT session ended without the publisher asking (broker gone, network cut, keep-alive missed)."""


class BrokerRefused(PublisherError):
    """The broker answered with a failure reason code (>= 0x80) in a CONNACK, SUBACK or PUBACK.

    Attributes:
        packet ("CONNACK", "SUBACK", "PUBACK"), reason_code (int), reason (its name), topic (or None).
    """

    def __init__(self, message, packet, reason_code, reason, topic=None, host=None, port=None):
        super().__init__(message, host, port)
        self.packet = packet
        self.reason_code = reason_code
        self.reason = reason
        self.topic = topic


class ClientError(PublisherError):
    """The MQTT client refused a call (not connected, queue full, connection lost).

    Attributes:
        call (what was asked), code (the client's error name).
    """

    def __init__(self, message, call, code, host=None, port=None):
        super().__init__(message, host, port)
        self.call = call
        self.code = code


class ConfigError(EdgeError):
    """A device configuration file is missing, unreadable or wrong.

    Attributes:
        path: the file (or None), key: the table.key at fault (or None).
    """

    def __init__(self, message, path=None, key=None):
        super().__init__(message)
        self.path = path
        self.key = key
