"""One RS-485 line opened through a pyserial URL: send a request, get its reply.

This is the thin I/O adapter of the read path: it writes request bytes, feeds
whatever comes back into the codec's ``FrameExtractor``, and hands parsed
frames to an ``Expectation``. Timing follows DL/T 645 §16:

* the reply timeout counts from the end of the request on the wire (its
  bytes take 11 bits each at the line's rate), and covers the meter's reply
  delay (≤ 500 ms by the standard) plus the reply's own wire time;
* after every exchange the line rests ``pacing_s`` (≥ 20 ms) before the next
  request; after a broadcast it rests the worst-case reply delay (500 ms);
* a frame that stalls longer than the inter-byte timeout (500 ms) is dropped.

Port URLs are what pyserial understands: ``/dev/ttyUSB0``, a pty path,
``socket://host:port`` (TCP-to-serial gateways), ``rfc2217://host:port``.
"""

import os
import termios
import time

import serial

from protocols.dlt645 import DLT645Error, FrameExtractor, parse_frame

from ._errors import AbnormalReply, BadReply, ChecksumFailure, LineError, ReplyTimeout

BITS_PER_BYTE = 11          # 1 start + 8 data + even parity + 1 stop (§1)
DEFAULT_TIMEOUT_S = 1.0     # §16: 500 ms reply delay + reply wire time, with margin
DEFAULT_PACING_S = 0.02     # §16: >= 20 ms between a reply and the next request
BROADCAST_REST_S = 0.5      # §16: worst-case Td after a broadcast
# Read poll interval. Fixed, because changing a pyserial timeout reconfigures
# the port (a tcsetattr per call on a real serial port).
_POLL_S = 0.005
_PARITIES = {"E": serial.PARITY_EVEN, "N": serial.PARITY_NONE, "O": serial.PARITY_ODD}


def _is_pty(url):
    """True for a pseudo-terminal path (the simulator's --pty line)."""
    return "://" not in url and os.path.realpath(url).startswith("/dev/pts/")


class Exchange:
    """What came back for one request: the accepted frame and what else was seen.

    Attributes:
        frame: the accepted reply (a parsed Frame) or None.
        others: other valid frames seen (echo, other meters), parsed.
        bad: frames that passed the envelope but not the codec (content errors), as
            (bytes, error) pairs.
        discards: the extractor's discard counters during this exchange.
        elapsed_s: from the end of writing the request to the accepted reply.
    """

    def __init__(self):
        self.frame = None
        self.frames = []
        self.others = []
        self.bad = []
        self.discards = {}
        self.elapsed_s = 0.0

    @property
    def garbage(self):
        """Bytes or candidate frames lost to noise, collisions or bad checksums (FE excluded)."""
        return sum(v for k, v in self.discards.items() if k != "preamble")


class Line:
    """A master's end of one RS-485 line.

    Args:
        url: pyserial port URL.
        baud: bit rate (2400 default for DL/T 645-2007, §1).
        parity: "E" (8E1, the standard), "N" or "O".
        timeout_s: reply timeout after the request has left the wire.
        pacing_s: rest between exchanges.

    Raises:
        LineError: the port cannot be opened.
    """

    def __init__(self, url, baud=2400, parity="E", timeout_s=DEFAULT_TIMEOUT_S, pacing_s=DEFAULT_PACING_S):
        if parity not in _PARITIES:
            raise LineError("parity %r is not one of E, N, O" % (parity,))
        self.url = url
        self.baud = baud
        self.timeout_s = timeout_s
        self.pacing_s = pacing_s
        self.frames_sent = 0
        self._rest_until = 0.0
        if _is_pty(url):
            # A pseudo-terminal carries no parity bits, and Linux refuses the
            # setting on a second open (EINVAL): run it 8N1 (DL/T 645 §1 note).
            parity = "N"
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, parity=_PARITIES[parity], bytesize=8,
                                               stopbits=1, timeout=_POLL_S)
        except (serial.SerialException, ValueError, OSError, termios.error) as exc:
            # termios.error is not an OSError: a device refusing a setting raises it.
            raise LineError("cannot open line %s at %d baud, parity %s: %s" % (url, baud, parity, exc)) from exc

    def close(self):
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wire_time_s(self, nbytes):
        """Seconds ``nbytes`` take on the wire at this line's rate."""
        return nbytes * BITS_PER_BYTE / self.baud

    def _send(self, request):
        delay = self._rest_until - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            self._port.reset_input_buffer()
            self._port.write(request)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LineError("cannot write to line %s: %s" % (self.url, exc)) from exc
        self.frames_sent += 1
        return time.monotonic()

    def _read_some(self, until):
        if until - time.monotonic() <= 0:
            return b""
        try:
            chunk = self._port.read(1)
            if chunk:
                waiting = self._port.in_waiting
                if waiting:
                    chunk += self._port.read(waiting)
        except (serial.SerialException, OSError) as exc:
            raise LineError("cannot read from line %s: %s" % (self.url, exc)) from exc
        return chunk

    def broadcast(self, request):
        """Send a frame no meter answers (08H time sync, broadcast freeze); rest after it."""
        sent = self._send(request)
        self._rest_until = sent + self.wire_time_s(len(request)) + BROADCAST_REST_S

    def exchange(self, request, expectation, timeout_s=None, collect=False):
        """Send ``request`` and wait for the reply ``expectation`` accepts.

        Args:
            request: complete frame bytes.
            expectation: an Expectation.
            timeout_s: overrides the line's reply timeout.
            collect: keep listening for the whole timeout and gather every
                accepted frame in ``Exchange.frames`` (meter search), instead
                of returning at the first.

        Returns:
            Exchange (its ``frame`` is None only when ``collect`` is set).

        Raises:
            ReplyTimeout / ChecksumFailure: nothing acceptable arrived (not with collect).
            LineError: the port failed.
        """
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        extractor = FrameExtractor()
        result = Exchange()
        sent = self._send(request)
        deadline = sent + self.wire_time_s(len(request)) + timeout_s
        while True:
            chunk = self._read_some(deadline)
            now = time.monotonic()
            for raw in extractor.feed(chunk, int(now * 1000)) if chunk else ():
                try:
                    frame = parse_frame(raw)
                except DLT645Error as exc:
                    result.bad.append((raw, exc))
                    continue
                if expectation.accepts(frame):
                    result.frames.append(frame)
                    if not collect:
                        result.frame = frame
                        result.elapsed_s = now - sent
                        result.discards = dict(extractor.discards)
                        self._rest_until = now + self.pacing_s
                        return result
                else:
                    result.others.append(frame)
            if now >= deadline:
                break
        extractor.reset()
        result.discards = dict(extractor.discards)
        result.elapsed_s = time.monotonic() - sent
        self._rest_until = time.monotonic() + self.pacing_s
        if collect:
            return result
        raise self._timeout_error(expectation, timeout_s, result)

    def _timeout_error(self, expectation, timeout_s, result):
        d = result.discards
        rejected = d.get("checksum", 0) + d.get("end_byte", 0)
        if result.bad:
            raw, exc = result.bad[0]
            return BadReply("reply from %s on %s is malformed: %s" % (expectation.address, self.url, exc))
        if rejected:
            return ChecksumFailure(
                "reply from %s on %s failed its checksum (%d candidate frame(s) rejected, %d noise bytes)"
                % (expectation.address, self.url, rejected, d.get("noise", 0)),
                expectation.address, timeout_s, d)
        noise = result.garbage
        detail = " (%d noise byte(s) seen)" % noise if noise else ""
        return ReplyTimeout("no reply from %s on %s within %.2f s%s"
                            % (expectation.address, self.url, timeout_s, detail),
                            expectation.address, timeout_s, d)


def raise_if_abnormal(frame):
    """Raise AbnormalReply for an error reply; return the frame otherwise."""
    if frame.is_error:
        meanings = ", ".join(frame.errors) or "no error bit set"
        raise AbnormalReply("meter %s answered abnormal reply %02XH: %s (error bits 0x%02X)"
                            % (frame.address, frame.control, meanings, frame.error_bits), frame)
    return frame
