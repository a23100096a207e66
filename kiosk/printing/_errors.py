"""The printing package's exception family.

``PrintingError`` is the base. A configuration error names the file and the
key; a device error says which printer and what happened. The kiosk carries
on after any of them: the caller decides (tell the customer, offer a
reprint, show the ticket on screen). Nothing here swallows an error.
"""


class PrintingError(Exception):
    """Base of every error the printing package raises."""


class PrinterConfigError(PrintingError):
    """The ``[printer]`` table is wrong.

    Attributes:
        source: the file (or "<dict>") the table came from.
        key: the full key, e.g. ``printer.baud``.
        expected: what the key accepts.
        got: what was given.
    """

    def __init__(self, source, key, expected, got):
        super().__init__("%s: %s: expected %s, got %r" % (source, key, expected, got))
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got


class LayoutError(PrintingError):
    """A ticket or receipt cannot be laid out from the values given.

    Attributes:
        field: the value that was wrong ("amount_fen", "number", ...).
    """

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field


class PrinterError(PrintingError):
    """The printer could not print; nothing or only part of the job came out.

    Attributes:
        printer: a description of the printer ("serial /dev/ttyUSB0").
    """

    def __init__(self, printer, message):
        super().__init__("printer %s: %s" % (printer, message))
        self.printer = printer


class PrinterOffline(PrinterError):
    """The printer cannot be reached, reports itself offline or does not answer."""


class PaperOut(PrinterError):
    """The printer reports that its paper roll has run out (the job was not sent)."""
