"""Errors of the simulated Modbus meters: one family under ``ModbusSimError``.

Each carries the fields its message names, so the CLI and tests can report
or check them without parsing text.
"""


class ModbusSimError(Exception):
    """Base of every error the Modbus meter simulator raises on purpose."""


class ModbusSimConfigError(ModbusSimError):
    """A server or meter configuration is unusable.

    Attributes:
        path: the TOML file, or None for in-process configuration.
        index: 0-based position of the offending entry in its list, or None.
        unit: the Modbus unit id involved, or None.
        key: the offending key, or None.
    """

    def __init__(self, message, path=None, index=None, unit=None, key=None):
        super().__init__(message)
        self.path = path
        self.index = index
        self.unit = unit
        self.key = key


class ModbusFaultError(ModbusSimError):
    """A fault request names an unknown kind, an unknown unit or a bad parameter.

    Attributes:
        kind, unit, key: as named in the message (None when not involved).
    """

    def __init__(self, message, kind=None, unit=None, key=None):
        super().__init__(message)
        self.kind = kind
        self.unit = unit
        self.key = key


class ModbusTransportError(ModbusSimError):
    """The TCP port or the pty pair could not be opened, or the server failed to start."""
