# MicroPython-compatible: see STYLE.md
"""Streaming frame extraction from a byte stream (§17).

Feed arbitrary chunks: line noise, FE preambles, partial frames, several
frames at once, the garbage two colliding replies make. Whole frames whose
envelope is valid come out, delimited by the length byte and never by the
first 0x16 (0x16 occurs in addresses, data and checksums).

Rules:

1. Skip to the next 0x68. FE bytes skipped count as ``preamble``, other bytes
   as ``noise``.
2. With 10 bytes from that 0x68, the byte at +7 must be 0x68, else only this
   0x68 is dropped (``bad_header``) and the scan resumes at the next byte.
3. The frame is 12 + L bytes. While it is incomplete, a complete valid frame
   that starts later in the buffer wins over it: a reply that collided with
   noise claiming a long L must not wait for 267 bytes (``superseded``).
4. Checksum and end byte are checked; on failure only the first 0x68 is
   dropped (``checksum`` / ``end_byte``) because a real frame may start
   inside the rejected bytes.
5. Memory is bounded: between calls the buffer never holds more than one
   candidate (at most 12 + 255 bytes); everything before it is gone. A
   candidate idle longer than the inter-byte timeout (§16, 500 ms) is dropped
   (``stale``) when the caller passes ``now_ms``.

Counters in ``discards``: ``preamble`` and ``noise`` count bytes; the other
reasons count rejected candidates (each costs one byte, its 0x68).
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

MAX_FRAME = const(267)          # 12 + 255
INTER_BYTE_TIMEOUT_MS = const(500)

DISCARD_REASONS = ("preamble", "noise", "bad_header", "checksum", "end_byte", "superseded", "stale")


def _valid_at(buf, j, n):
    """Size of a complete valid frame starting at buf[j], else 0."""
    if n - j < 12 or buf[j + 7] != 0x68:
        return 0
    size = 12 + buf[j + 9]
    if n - j < size:
        return 0
    end = j + size - 2
    if sum(buf[j:end]) & 0xFF != buf[end] or buf[end + 1] != 0x16:
        return 0
    return size


class FrameExtractor:
    """Cut whole, envelope-valid frames out of a byte stream.

    Use ``feed(chunk)`` to get the frames completed by that chunk, as bytes
    from the first 0x68 to the 0x16 (no preamble). Parse them with
    ``parse_frame``.

    Attributes:
        discards: dict reason -> count (see the module docstring).
        frames: number of frames emitted so far.
    """

    def __init__(self, inter_byte_timeout_ms=INTER_BYTE_TIMEOUT_MS):
        self._buf = bytearray()
        self._last_ms = None
        self.timeout_ms = inter_byte_timeout_ms
        self.frames = 0
        self.discards = {}
        for reason in DISCARD_REASONS:
            self.discards[reason] = 0

    @property
    def pending(self):
        """Bytes held for an incomplete candidate frame."""
        return len(self._buf)

    def discarded(self):
        """Total bytes discarded so far, whatever the reason."""
        total = 0
        for reason in self.discards:
            total += self.discards[reason]
        return total

    def reset(self):
        """Forget any partial frame (e.g. before sending a new request)."""
        self._count_skipped(self._buf, 0, len(self._buf))
        self._buf = bytearray()

    def expire(self, now_ms):
        """Drop a partial frame idle for longer than the inter-byte timeout."""
        if self._buf and self._last_ms is not None and now_ms - self._last_ms > self.timeout_ms:
            self.discards["stale"] += 1
            self._count_skipped(self._buf, 1, len(self._buf))
            self._buf = bytearray()

    def _count_skipped(self, buf, i, j):
        fe = buf.count(b"\xfe", i, j)
        self.discards["preamble"] += fe
        self.discards["noise"] += j - i - fe

    def feed(self, data, now_ms=None):
        """Add bytes; return the list of frames completed by them.

        Args:
            data: bytes-like chunk of any size (may be empty).
            now_ms: the caller's clock in ms, to expire stale partial frames.

        Returns:
            list of bytes, one per whole frame, in stream order.
        """
        if now_ms is not None:
            self.expire(now_ms)
            if data:
                self._last_ms = now_ms
        buf = self._buf
        buf += data
        n = len(buf)
        out = []
        i = 0
        while i < n:
            j = buf.find(b"\x68", i)
            if j < 0:
                self._count_skipped(buf, i, n)
                i = n
                break
            if j > i:
                self._count_skipped(buf, i, j)
            i = j
            if n - j < 10:
                break
            if buf[j + 7] != 0x68:
                self.discards["bad_header"] += 1
                i = j + 1
                continue
            size = 12 + buf[j + 9]
            if n - j < size:
                # Incomplete. Does a complete valid frame start inside it?
                k = buf.find(b"\x68", j + 1)
                while 0 <= k < n and not _valid_at(buf, k, n):
                    k = buf.find(b"\x68", k + 1)
                if k < 0 or k >= n:
                    break
                self.discards["superseded"] += 1
                self._count_skipped(buf, j + 1, k)
                i = k
                continue
            end = j + size - 2
            if sum(buf[j:end]) & 0xFF != buf[end]:
                self.discards["checksum"] += 1
                i = j + 1
                continue
            if buf[end + 1] != 0x16:
                self.discards["end_byte"] += 1
                i = j + 1
                continue
            out.append(bytes(buf[j:j + size]))
            self.frames += 1
            i = j + size
        if i:
            self._buf = buf[i:]
        return out
