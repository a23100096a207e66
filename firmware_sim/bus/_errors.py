"""Errors of the bus simulator: one family under ``BusError``.

Each carries the fields its message names, so callers (the CLI, tests) can
report or check them without parsing text.
"""


class BusError(Exception):
    """Base of every error the bus simulator raises on purpose."""


class BusConfigError(BusError):
    """A bus or meter configuration is unusable.

    Attributes:
        path: the TOML file, or None for in-process configuration.
        index: 0-based position of the offending entry in its list, or None.
        address: the meter address involved, or None.
        key: the offending key (dotted for nested tables), or None.
    """

    def __init__(self, message, path=None, index=None, address=None, key=None):
        super().__init__(message)
        self.path = path
        self.index = index
        self.address = address
        self.key = key


class FaultError(BusError):
    """A fault request names an unknown kind, an unknown meter or a bad parameter.

    Attributes:
        kind: the fault kind asked for.
        address: the meter address, or None for line-level faults.
        key: the offending parameter, or None.
    """

    def __init__(self, message, kind=None, address=None, key=None):
        super().__init__(message)
        self.kind = kind
        self.address = address
        self.key = key


class TransportError(BusError):
    """The pty or TCP endpoint could not be opened."""
