# MicroPython-compatible: see STYLE.md
"""The one exception family of the DL/T 645 codec.

Every bad input the codec sees (a short frame, a wrong checksum, a digit that
is not BCD, an unknown control code, a value that does not fit its format)
raises a subclass of ``DLT645Error``. The message says what was wrong, where,
and what was expected; the same facts are kept on the exception as
``offset``, ``expected`` and ``got`` so callers need not parse messages.
"""


class DLT645Error(Exception):
    """Base of every error the codec raises.

    Attributes:
        offset: byte offset in the input where the problem was found, or None.
        expected: what the codec expected there, or None.
        got: what it found, or None.
    """

    def __init__(self, message, offset=None, expected=None, got=None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.expected = expected
        self.got = got


class FrameError(DLT645Error):
    """The frame envelope is wrong: start bytes, length, end byte, checksum."""


class LengthError(FrameError):
    """The frame, or a field inside it, has the wrong number of bytes."""


class ChecksumError(FrameError):
    """The CS byte does not match the sum from the first 0x68 to the last data byte."""


class EndByteError(FrameError):
    """The byte after the checksum is not 0x16."""


class ControlCodeError(DLT645Error):
    """The control code names no function of the edition, or has impossible flags."""


class BCDError(DLT645Error):
    """A numeric field holds a nibble above 9 or a field is out of its range."""


class AddressError(DLT645Error):
    """A meter address is not 12 decimal digits (with optional AA wildcard pairs)."""


class ValueFormatError(DLT645Error):
    """A value cannot be encoded in, or decoded from, its data format."""


class DataIdentifierError(DLT645Error):
    """A data-identifier name or number is unknown or malformed."""
