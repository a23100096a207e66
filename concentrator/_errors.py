"""Errors of the concentrator, one family under ``ConcentratorError``.

Codec errors (``DLT645Error``) are translated at the line boundary so that a
caller of the concentrator library sees only this family; each message says
what happened on which line to which meter.
"""


class ConcentratorError(Exception):
    """Base of every error the concentrator raises."""


class LineError(ConcentratorError):
    """The line (serial port, pty, TCP gateway) cannot be opened or used."""


class ReplyTimeout(ConcentratorError):
    """No acceptable reply arrived in time.

    Attributes:
        address: the meter (or pattern) asked.
        timeout_s: how long the master waited.
        discards: the extractor's discard counters for this exchange, which
            tell silence apart from a reply lost in noise or a bad checksum.
    """

    def __init__(self, message, address=None, timeout_s=None, discards=None):
        super().__init__(message)
        self.address = address
        self.timeout_s = timeout_s
        self.discards = discards or {}


class ChecksumFailure(ReplyTimeout):
    """Something answered, but every candidate frame failed its checksum or end byte."""


class AbnormalReply(ConcentratorError):
    """The meter answered with an abnormal (error) reply (DL/T 645 §10).

    Attributes:
        address, error_bits, meanings (list of text), frame.
    """

    def __init__(self, message, frame):
        super().__init__(message)
        self.frame = frame
        self.address = frame.address
        self.error_bits = frame.error_bits
        self.meanings = frame.errors


class BadReply(ConcentratorError):
    """A reply passed its checksum but its content is malformed (bad BCD, wrong length...)."""
