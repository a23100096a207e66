"""The rating pad's line protocol (sans-I/O): bytes in, events out; commands to the pad.

The pad (a keypad with a small display, firmware_sim/ratingpad simulates
one) and the kiosk exchange UTF-8 lines ending in LF (a CR before it is
ignored), at most ``MAX_LINE`` bytes:

====================  =========================================================
pad -> kiosk          meaning
====================  =========================================================
``K<1-5>``            the customer pressed level 1..5 (5 = very satisfied)
``R<1-9>``            reason number n of the configured list (levels 1 and 2)
``T<text>``           a typed reason (1..256 characters)
====================  =========================================================

====================  =========================================================
kiosk -> pad          meaning
====================  =========================================================
``A <number>``        ask: rate the service of ticket <number>
``Q``                 a reason is needed (after K1 or K2)
``D``                 done, thank you
``C``                 the prompt ended unanswered (timeout or superseded)
====================  =========================================================

Anything else is a ``BadLine`` event with the reason; an over-long line is
dropped up to its LF. Bounded memory: at most ``MAX_LINE`` bytes are kept.
"""

import collections

MAX_LINE = 300      # a typed reason of 256 characters, mostly ASCII, fits; longer is noise

KeyPress = collections.namedtuple("KeyPress", "level")
ReasonPick = collections.namedtuple("ReasonPick", "index")
ReasonText = collections.namedtuple("ReasonText", "text")
BadLine = collections.namedtuple("BadLine", "line why")
BadLine.__doc__ = "A line that is not a pad message: its bytes (up to 64) and why."


class PadParser:
    """Split the pad's byte stream into events.

    Attributes:
        errors: bad lines seen so far.
    """

    def __init__(self):
        self._buf = bytearray()
        self._skipping = False
        self.errors = 0

    def feed(self, data):
        """Take bytes; return the events of the complete lines among them (a list)."""
        events = []
        for byte in data:
            if byte == 0x0A:
                if self._skipping:
                    self._skipping = False
                else:
                    events.append(self._line(bytes(self._buf)))
                self._buf.clear()
            elif not self._skipping:
                self._buf.append(byte)
                if len(self._buf) > MAX_LINE:
                    events.append(self._bad(bytes(self._buf), "a line longer than %d bytes" % MAX_LINE))
                    self._buf.clear()
                    self._skipping = True
        return events

    def _bad(self, line, why):
        self.errors += 1
        return BadLine(line[:64], why)

    def _line(self, raw):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._bad(raw, "not UTF-8")
        if not line:
            return self._bad(raw, "an empty line")
        tag, rest = line[0], line[1:]
        if tag == "K":
            if len(rest) == 1 and rest in "12345":
                return KeyPress(int(rest))
            return self._bad(raw, "a key is K1..K5")
        if tag == "R":
            if len(rest) == 1 and rest in "123456789":
                return ReasonPick(int(rest))
            return self._bad(raw, "a reason pick is R1..R9")
        if tag == "T":
            text = rest.strip()
            if 1 <= len(text) <= 256 and text.isprintable():
                return ReasonText(text)
            return self._bad(raw, "a typed reason is 1..256 printable characters")
        return self._bad(raw, "unknown message %r (K, R or T)" % tag)


def ask_line(number):
    """The command that lights the pad for ticket ``number``."""
    return ("A %s\n" % number).encode("ascii")


NEED_REASON = b"Q\n"
THANKS = b"D\n"
CANCELLED = b"C\n"
