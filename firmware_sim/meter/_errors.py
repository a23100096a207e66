# MicroPython-compatible: see STYLE.md
"""The exception family of the simulated meter firmware.

Only configuration and injection mistakes raise: ``Meter.handle`` itself
never lets an exception out (a real meter stays silent instead, DL/T 645
§6/§19), it counts them in ``Meter.errors`` and keeps the last one in
``Meter.last_error``.
"""


class MeterError(Exception):
    """Base of the meter firmware's errors.

    Attributes:
        address: the meter address (12-digit text) or None.
        key: the config key or argument at fault, or None.
        expected: what was expected, or None.
        got: what was given, or None.
    """

    def __init__(self, message, address=None, key=None, expected=None, got=None):
        super().__init__(message)
        self.message = message
        self.address = address
        self.key = key
        self.expected = expected
        self.got = got


class MeterConfigError(MeterError):
    """A meter config dict is invalid: unknown key, wrong type or value out of range."""
