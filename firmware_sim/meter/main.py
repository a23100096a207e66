# MicroPython-compatible: see STYLE.md
"""Meter firmware main loop: UART bytes in, DL/T 645 replies out.

``run(uart, meter, now_fn)`` reads the UART, cuts frames with the codec's
``FrameExtractor`` (by the length byte, §17), asks ``meter.handle`` for each,
waits the meter's ``reply_delay_ms`` counted from the request's last byte
(§16: 20-500 ms) and writes the reply. After a 17H/0CH rate change the UART
is re-initialised once the reply is out (§8). It returns at end of input.

Entry point::

    micropython -X heapsize=256K -m firmware_sim.meter.main CONFIG.json
    python -m firmware_sim.meter.main CONFIG.json

CONFIG.json is the meter config dict (see ``firmware_sim/meter/__init__.py``
and ``sample.json``) plus optional keys read here: ``start_utc_s``
(simulation UTC epoch seconds at start; default the real clock), ``port``
(a pyserial port or URL, CPython only) and ``uart_id`` (a board UART).
Without them the meter talks on stdin/stdout: on the MicroPython unix port
(no ``machine.UART``) through ``StdioUART`` with ``select.poll`` timeouts, on
CPython through the ``machine`` stub over file descriptors 0 and 1.
A bad config prints one line ``Error: ...`` on stderr and exits 1.
"""

import sys
import time

from protocols.dlt645 import FrameExtractor

from firmware_sim.meter import Meter, MeterError

_READ_TIMEOUT_MS = 50
_CHUNK = 64


def _time_api():
    """The module with ticks_ms/ticks_diff/sleep_ms: ``time`` on MicroPython, the stub on CPython."""
    if hasattr(time, "ticks_ms"):
        return time
    _stubs_on_path()
    import utime
    return utime


def _stubs_on_path():
    if sys.implementation.name == "micropython":
        return
    stubs = __file__.replace("\\", "/").rsplit("/", 2)[0] + "/stubs"
    if stubs not in sys.path:
        sys.path.append(stubs)


class SimClock:
    """Simulation time: ``start_s`` plus the ticks elapsed since creation.

    Wrap-safe as long as it is called at least every few days (ticks wrap
    after 2**30 ms); ``run`` calls it on every read timeout.
    """

    def __init__(self, ticks, start_s):
        self._ticks = ticks
        self._last = ticks.ticks_ms()
        self._elapsed_ms = 0
        self._start_s = start_s

    def __call__(self):
        t = self._ticks.ticks_ms()
        self._elapsed_ms += self._ticks.ticks_diff(t, self._last)
        self._last = t
        return self._start_s + self._elapsed_ms / 1000.0


class StdioUART:
    """A UART over two stream objects (MicroPython unix: sys.stdin.buffer / sys.stdout.buffer).

    ``read`` waits up to ``timeout`` ms with ``select.poll``, then takes the
    bytes that are ready, one ``readinto`` each (a FileIO read of more would
    block until all arrive). None on timeout, b"" at end of input.
    """

    def __init__(self, rx, tx, timeout=_READ_TIMEOUT_MS):
        import select
        self._rx = rx
        self._tx = tx
        self.timeout = timeout
        self._poll = select.poll()
        self._poll.register(rx, select.POLLIN)
        self._buf = bytearray(_CHUNK)
        self._view = memoryview(self._buf)

    def _ready(self, ms):
        return bool(self._poll.poll(ms))

    def any(self):
        """1 if a byte (or end of input) is waiting, else 0."""
        return 1 if self._ready(0) else 0

    def read(self, nbytes=_CHUNK):
        """Up to ``nbytes`` (at most 64) bytes, None on timeout, b"" at end of input."""
        if not self._ready(self.timeout):
            return None
        n = 0
        limit = min(nbytes, _CHUNK)
        while n < limit:
            try:
                got = self._rx.readinto(self._view[n:n + 1])
            except OSError:     # pty closed on the other side (EIO)
                got = 0
            if not got:
                break
            n += 1
            if not self._ready(0):
                break
        return bytes(self._view[:n])

    def write(self, data):
        """Write all of ``data``; returns its length."""
        n = self._tx.write(data)
        if hasattr(self._tx, "flush"):
            self._tx.flush()
        return n


def open_uart(port=None, uart_id=None, baud=2400):
    """The meter's serial line: a board UART, a pyserial port (CPython), or stdin/stdout."""
    _stubs_on_path()
    try:
        import machine
    except ImportError:
        machine = None
    if machine is not None and hasattr(machine, "UART"):
        if port is not None:
            return machine.UART(None, baudrate=baud, parity=0, timeout=_READ_TIMEOUT_MS, port=port)
        if uart_id is not None:
            return machine.UART(uart_id, baudrate=baud, bits=8, parity=0, stop=1, timeout=_READ_TIMEOUT_MS)
        if sys.implementation.name != "micropython":
            return machine.UART(None, baudrate=baud, timeout=_READ_TIMEOUT_MS)
    return StdioUART(sys.stdin.buffer, sys.stdout.buffer)


def run(uart, meter, now_fn, ticks=None, max_frames=0):
    """Serve requests until end of input (or ``max_frames`` frames when > 0).

    Args:
        uart: object with ``read(n)`` (None on timeout, b"" at end) and ``write(b)``.
        meter: a ``Meter``.
        now_fn: callable giving the simulation's UTC epoch seconds.
        ticks: module with ticks_ms/ticks_diff/sleep_ms (default: ``time`` or the stub).
        max_frames: stop after this many frames (0 = never).

    Returns:
        the number of frames handled.
    """
    t = ticks or _time_api()
    extractor = FrameExtractor()
    handled = 0
    while True:
        chunk = uart.read(_CHUNK)
        now_s = now_fn()
        if chunk is None:
            extractor.expire(int(now_s * 1000))
            continue
        if not chunk:
            return handled
        for frame in extractor.feed(chunk, int(now_s * 1000)):
            t0 = t.ticks_ms()
            baud = meter.baud
            reply = meter.handle(frame, now_s)
            handled += 1
            if reply is not None:
                wait = meter.reply_delay_ms - t.ticks_diff(t.ticks_ms(), t0)
                if wait > 0:
                    t.sleep_ms(wait)
                uart.write(reply)
                if meter.baud != baud and hasattr(uart, "init"):
                    uart.init(meter.baud)
            if max_frames and handled >= max_frames:
                return handled


def _die(message):
    sys.stderr.write("Error: %s\n" % message)
    sys.exit(1)


def main(argv=None):
    """``main.py CONFIG.json``: build the meter from the file and serve stdin/stdout."""
    import json
    argv = sys.argv if argv is None else argv
    if len(argv) != 2:
        _die("usage: firmware_sim.meter.main CONFIG.json")
    t = _time_api()
    try:
        with open(argv[1]) as fh:
            config = json.load(fh)
    except (OSError, ValueError) as exc:
        _die("cannot read meter config %s: %s" % (argv[1], exc))
    if not isinstance(config, dict):
        _die("meter config %s must hold a JSON object" % argv[1])
    start = config.pop("start_utc_s", None)
    port = config.pop("port", None)
    uart_id = config.pop("uart_id", None)
    clock = SimClock(t, t.time() if start is None else float(start))
    try:
        meter = Meter(config, clock())
    except MeterError as exc:
        _die("%s: %s" % (argv[1], exc))
    run(open_uart(port, uart_id, meter.baud), meter, clock, t)


if __name__ == "__main__":
    main()
