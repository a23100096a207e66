"""Wire model of one half-duplex RS-485 line: transmissions, characters, collisions.

Sans I/O: times are integer nanoseconds on the caller's monotonic clock, given
by the caller; nothing here reads a clock or sleeps. Integer time keeps byte
slots exactly back to back (float slots drift apart by rounding).

Invariants:

1. A transmission of n bytes that starts at ``t`` occupies ``[t, t + n*b)``;
   its byte i owns the slot ``[t + i*b, t + (i+1)*b)``, where ``b`` is the
   byte time (bits per character / baud; 11 bits for 8E1, DL/T 645 §1). A
   byte exists for a listener only when its slot has ended (its stop bit has
   been clocked out), never earlier.
2. A listener (``Receiver``) frames characters the way a UART does, at byte
   level: it starts a character at the earliest byte slot, among the
   transmitters it listens to, that begins after its previous character
   ended; bytes that start while it is inside a character are swallowed (a
   UART is not looking for a start bit then).
3. The value of a character is the AND of every byte, from every transmitter
   including ones the listener does not frame on, whose slot overlaps the
   character's slot: an idle RS-485 line is mark (1) and a driven space (0)
   wins, which is how two drivers fighting read at the receiver. The even
   parity bits are ANDed the same way; if the result fails the parity check
   the character is delivered as 0x00, what a Linux UART with input parity
   checking (INPCK, no PARMRK) hands to the reader. A character nobody
   overlapped is delivered unchanged.
4. Two transmissions collide when their time ranges overlap; each
   transmission added over one already on the line counts one collision.
"""

PARITY_BITS = 11    # 1 start + 8 data + even parity + 1 stop (DL/T 645 §1)


def _parity(byte):
    """Even-parity bit of a byte: 1 when it has an odd number of ones."""
    return bin(byte).count("1") & 1


class Transmission:
    """One uninterrupted run of bytes put on the line by one transmitter.

    Attributes:
        source: who sends it: "master", "noise", or a meter address.
        kind: "request", "reply", "noise" or "babble".
        start_ns: start of the first byte's slot.
        data: the bytes (a bytearray; a master transmission may grow while
            the master keeps writing back to back).
        byte_ns: slot length of one byte.
    """

    __slots__ = ("source", "kind", "start_ns", "data", "byte_ns")

    def __init__(self, source, kind, start_ns, data, byte_ns):
        self.source = source
        self.kind = kind
        self.start_ns = start_ns
        self.data = bytearray(data)
        self.byte_ns = byte_ns

    @property
    def end_ns(self):
        return self.start_ns + len(self.data) * self.byte_ns

    def __repr__(self):
        return "Transmission(%s %s, %d bytes at %d ns)" % (self.kind, self.source, len(self.data), self.start_ns)


class Character:
    """One character as a listener's UART delivers it.

    Attributes:
        end_ns: when its stop bit ended (the earliest it can be delivered).
        value: the byte delivered.
        original: the byte the framing transmitter sent.
        source, kind: the framing transmission's source and kind.
        collided: another transmitter's byte overlapped it.
        parity_error: the ANDed parity failed (value is then 0x00).
    """

    __slots__ = ("end_ns", "value", "original", "source", "kind", "collided", "parity_error")

    def __init__(self, end_ns, value, original, source, kind, collided, parity_error):
        self.end_ns = end_ns
        self.value = value
        self.original = original
        self.source = source
        self.kind = kind
        self.collided = collided
        self.parity_error = parity_error

    @property
    def garbled(self):
        """The delivered byte differs from the one sent."""
        return self.value != self.original


class Wire:
    """The transmissions on one line and the listeners that frame them.

    Args:
        byte_ns: slot of one character in ns (bits per character / baud).
        parity: the characters carry an even parity bit (8E1).
    """

    def __init__(self, byte_ns, parity=True):
        if byte_ns <= 0:
            raise ValueError("byte time must be positive, got %r ns" % (byte_ns,))
        self.byte_ns = byte_ns
        self.parity = parity
        self.collisions = 0
        self._tx = []

    @property
    def transmissions(self):
        """Transmissions still relevant to some listener, in start order."""
        return list(self._tx)

    def busy_until_ns(self, source):
        """End of the last transmission of ``source`` still on record, or None."""
        end = None
        for tx in self._tx:
            if tx.source == source and (end is None or tx.end_ns > end):
                end = tx.end_ns
        return end

    def add(self, source, kind, start_ns, data):
        """Put bytes on the line starting at ``start_ns``.

        Bytes that continue the sender's own transmission back to back extend
        it (a pty delivers one request in several reads).

        Returns:
            True if the bytes collide with another transmission.
        """
        if not data:
            return False
        end_ns = start_ns + len(data) * self.byte_ns
        collided = False
        joined = None
        for tx in self._tx:
            if tx.source == source and tx.kind == kind and tx.end_ns == start_ns:
                joined = tx
            elif tx.start_ns < end_ns and start_ns < tx.end_ns:
                collided = True
        if collided and (joined is None or not self._overlapped(joined)):
            # A transmission that grows into a collision counts once.
            self.collisions += 1
        if joined is not None:
            joined.data += data
            return collided
        tx = Transmission(source, kind, start_ns, data, self.byte_ns)
        i = len(self._tx)
        while i > 0 and self._tx[i - 1].start_ns > start_ns:
            i -= 1
        self._tx.insert(i, tx)
        return collided

    def _overlapped(self, tx):
        for other in self._tx:
            if other is not tx and other.start_ns < tx.end_ns and tx.start_ns < other.end_ns:
                return True
        return False

    def prune(self, now_ns):
        """Forget transmissions no pending character can overlap any more.

        Every character ending at or before ``now_ns`` must have been taken
        by every listener; undelivered characters then start after
        ``now_ns - byte_ns``, so nothing that ended before that matters.
        """
        limit = now_ns - self.byte_ns
        if self._tx and self._tx[0].start_ns < limit:
            self._tx = [tx for tx in self._tx if tx.end_ns > limit]

    def character(self, start_ns, framing):
        """Compose the character a listener frames at ``start_ns`` on ``framing``'s byte."""
        b = self.byte_ns
        end_ns = start_ns + b
        value = 0xFF
        parity = 1
        overlaps = 0
        original = framing.data[(start_ns - framing.start_ns) // b]
        for tx in self._tx:
            if tx.start_ns >= end_ns or tx.end_ns <= start_ns:
                continue
            first = max(0, (start_ns - tx.start_ns) // b)
            last = min(len(tx.data) - 1, (end_ns - 1 - tx.start_ns) // b)
            for j in range(first, last + 1):
                byte = tx.data[j]
                value &= byte
                parity &= _parity(byte)
                overlaps += 1
        collided = overlaps > 1
        parity_error = False
        if collided and self.parity and _parity(value) != parity:
            parity_error = True
            value = 0x00
        return Character(end_ns, value, original, framing.source, framing.kind, collided, parity_error)


class Receiver:
    """One listener's UART on the line (see the module docstring, rule 2).

    Args:
        wire: the line.
        deaf_to: sources whose bytes this listener never frames (its own
            transmitter: a master's receiver is off while it drives the
            line), though they still garble what it does frame.
    """

    def __init__(self, wire, deaf_to=()):
        self.wire = wire
        self.deaf_to = frozenset(deaf_to)
        self.free_ns = None

    def _next(self):
        """(start_ns, transmission) of the next character to frame, or (None, None)."""
        b = self.wire.byte_ns
        free = self.free_ns
        best = None
        best_tx = None
        for tx in self.wire._tx:
            if tx.source in self.deaf_to:
                continue
            if free is None or tx.start_ns >= free:
                start = tx.start_ns
            else:
                j = -((tx.start_ns - free) // b)     # ceil((free - start) / b)
                if j >= len(tx.data):
                    continue
                start = tx.start_ns + j * b
            if best is None or start < best:
                best = start
                best_tx = tx
        return best, best_tx

    def next_end_ns(self):
        """When the next character can be delivered, or None if none is on its way."""
        start, _ = self._next()
        if start is None:
            return None
        return start + self.wire.byte_ns

    def take(self, now_ns):
        """The next character if it has ended by ``now_ns``, else None."""
        start, tx = self._next()
        if start is None or start + self.wire.byte_ns > now_ns:
            return None
        ch = self.wire.character(start, tx)
        self.free_ns = ch.end_ns
        return ch
