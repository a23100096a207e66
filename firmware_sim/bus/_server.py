"""BusServer: runs one simulated line on a pty or a TCP port in a thread.

The thread is a selector loop. It sleeps until the core's next due time or
until the master writes (never spinning), feeds what the master wrote to the
core stamped with ``time.monotonic()``, and writes every byte that is due in
one go. The selector's timeout has millisecond resolution (epoll rounds up),
so the loop waits the whole milliseconds in the selector and the remainder
in ``time.sleep``, which is precise to tens of microseconds; bytes due
together go out in one write.

All access to the core goes through one lock: the public methods may be
called from any thread and wake the loop, through a pipe, so a new fault or
a stop takes effect at once.
"""

import math
import os
import selectors
import threading
import time

from ._config import build_meters, check_address
from ._errors import BusConfigError, BusError, FaultError
from ._line import Bus
from ._transport import PtyEndpoint, TcpEndpoint

# Below this the loop sleeps instead of selecting: a master byte that arrives
# meanwhile waits at most this long, well under one character time (1.1 ms at
# 9600 bit/s, 8E1).
_FINE_SLEEP_S = 0.0015


class BusServer:
    """A simulated RS-485 line with meters, served on a pty or a TCP port.

    Use as a context manager (``with BusServer(...) as bus:``) or call
    ``start()`` and ``stop()``.

    Args:
        meters: meter config dicts (for ``firmware_sim.meter.Meter``) or
            meter objects.
        baud: line rate in bit/s (wire timing; a pty or socket has none).
        transport: "tcp" or "pty".
        port: TCP port, 0 for one the OS chooses (``url`` tells which).
        host: TCP address to listen on.
        time_scale: simulated seconds per real second, for the meters' clocks
            and energy; wire timing is always real time.
        start_utc: simulation start, epoch seconds; None: now.
        bits_per_byte: 11 for 8E1 (DL/T 645), 10 for 8N1.
        seed: fault RNG seed (None: random; see ``seed``).
        faults: initial faults, dicts with ``kind``, ``address`` (omitted for
            line-level kinds) and the kind's parameters.
        source: file the configuration came from, for error messages.

    Raises:
        BusConfigError: bad settings or meter configs, or a bad initial fault.
        TransportError: the pty or port cannot be opened.
    """

    def __init__(self, meters, baud=2400, transport="tcp", port=0, host="127.0.0.1", time_scale=1.0,
                 start_utc=None, bits_per_byte=11, seed=None, faults=(), source=None):
        if transport not in ("tcp", "pty"):
            raise BusConfigError("transport must be \"tcp\" or \"pty\", got %r" % (transport,), key="transport")
        self.start_utc = time.time() if start_utc is None else float(start_utc)
        built = build_meters(meters, self.start_utc, source)
        for i, meter in enumerate(built):
            check_address(meter.address, source, i)
        self._core = Bus(built, baud=baud, bits_per_byte=bits_per_byte, t0=time.monotonic(),
                         start_utc=self.start_utc, time_scale=time_scale, seed=seed)
        for i, fault in enumerate(faults):
            params = dict(fault)
            kind = params.pop("kind", None)
            address = params.pop("address", None)
            try:
                self._core.set_fault(address, kind, self._core.t0, **params)
            except FaultError as exc:
                raise BusConfigError("fault %d: %s" % (i, exc), path=source, index=i, address=address,
                                     key=exc.key) from exc
        self.transport = transport
        self._endpoint = TcpEndpoint(host, port) if transport == "tcp" else PtyEndpoint()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = None
        self._stopping = False
        self.error = None

    # ---- lifecycle ------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Start serving (idempotent). Returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bus %s" % self.url, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s=5.0):
        """Stop serving and close the endpoint (idempotent).

        Raises:
            BusError: the serving thread had died of an unexpected error.
        """
        self._stopping = True
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._wake_w is not None:
            self._endpoint.close()
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            self._wake_w = None
        if self.error is not None:
            err, self.error = self.error, None
            raise BusError("bus %s stopped on an error: %r" % (self.url, err)) from err

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    # ---- where and what -------------------------------------------------------

    @property
    def url(self):
        """What a master opens with pyserial: ``socket://127.0.0.1:PORT`` or the pty path."""
        return self._endpoint.url

    @property
    def port(self):
        """The TCP port (None on a pty)."""
        return getattr(self._endpoint, "port", None)

    @property
    def baud(self):
        return self._core.baud

    @property
    def time_scale(self):
        """Simulated seconds per real second."""
        return self._core.time_scale

    @property
    def bits_per_byte(self):
        return self._core.bits_per_byte

    @property
    def seed(self):
        return self._core.seed

    @property
    def byte_time_s(self):
        """Wire time of one character."""
        return self._core.byte_time_s

    def wire_time_s(self, nbytes):
        """Wire time of ``nbytes`` characters."""
        return self._core.wire_time_s(nbytes)

    @property
    def meters(self):
        """The meters by address. They are live: change them only through this class."""
        return self._core.meters

    def sim_now(self):
        """Simulation UTC epoch seconds now."""
        return self._core.sim_now(time.monotonic())

    def advance(self, seconds):
        """Jump the simulation clock ``seconds`` ahead; see ``Bus.advance``.

        Raises:
            BusConfigError: ``seconds`` is not a number from 0 to 10 years.
        """
        with self._lock:
            self._core.advance(seconds)

    @property
    def stats(self):
        """Counters: the core's (``STAT_KEYS``) plus ``connections`` and ``bytes_dropped``."""
        with self._lock:
            out = self._core.stats
        out["connections"] = self._endpoint.connections
        out["bytes_dropped"] = self._endpoint.dropped
        return out

    @property
    def replies_by_meter(self):
        with self._lock:
            return dict(self._core.replies_by_meter)

    @property
    def last_meter_error(self):
        """(address, message) of the last exception a meter raised, or None."""
        return self._core.last_meter_error

    # ---- faults -------------------------------------------------------------

    def set_fault(self, address, kind, **params):
        """Inject a fault now; see ``Bus.set_fault`` and ``FAULT_KINDS``.

        Returns:
            dict describing the fault.

        Raises:
            FaultError: unknown kind or meter, bad parameter.
        """
        with self._lock:
            out = self._core.set_fault(address, kind, time.monotonic(), **params)
        self._wake()
        return out

    def clear_fault(self, address=None, kind=None):
        """Remove faults of one meter (or all, address None), of one kind (or all).

        Returns:
            number removed.

        Raises:
            FaultError: unknown meter or kind.
        """
        with self._lock:
            n = self._core.clear_fault(address, kind, time.monotonic())
        self._wake()
        return n

    def faults(self, address=None):
        """Faults in force or scheduled, as dicts (kind, address, parameters, timing)."""
        with self._lock:
            return self._core.faults(time.monotonic(), address)

    # ---- the loop -------------------------------------------------------------

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass        # already pending, or closed

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._endpoint.register(sel)
        try:
            while not self._stopping:
                with self._lock:
                    due = self._core.next_due()
                wait = None if due is None else due - time.monotonic()
                if wait is not None and wait <= _FINE_SLEEP_S:
                    if wait > 0:
                        time.sleep(wait)
                    events = sel.select(0)
                else:
                    # Whole milliseconds only: epoll rounds up, we would wake late.
                    events = sel.select(None if wait is None else math.floor(wait * 1000 - 0.5) / 1000)
                for key, _ in events:
                    if key.data is None:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    data = key.data.on_readable(sel, key)
                    if data:
                        now = time.monotonic()
                        with self._lock:
                            self._core.feed(data, now)
                now = time.monotonic()
                with self._lock:
                    out = self._core.pop_due(now)
                if out:
                    self._endpoint.write(out)
        except Exception as exc:    # reported by stop(); the line is dead either way
            self.error = exc
        finally:
            sel.close()
