"""A simulated rating pad: a five-key keypad with a small display, on a pty or a TCP port.

The device speaks the line protocol of docs/kiosk.md ("Rating"): it sends
``K<1-5>`` when a key is pressed, ``R<n>`` for a reason picked from the
list, ``T<text>`` for a typed reason; it shows what the kiosk tells it:
``A <number>`` (asking), ``Q`` (reason needed), ``D`` (thanks), ``C``
(cancelled). ``send_raw`` puts any bytes on the line, for fault tests.

A thread reads the kiosk's commands; ``display`` and ``shown`` say what the
pad showed. The kiosk opens ``url`` with pyserial (a pty path, or
``socket://127.0.0.1:<port>``).
"""

import errno
import os
import selectors
import socket
import threading
import tty

_MAX_LINE = 300


class RatingPadError(Exception):
    """The pad's pty or socket could not be opened or written."""


class RatingPad:
    """One simulated pad.

    Args:
        transport: "pty" (default) or "tcp" (one kiosk at a time on ``host``, an OS-chosen port).
        host: the TCP listening address.

    Attributes:
        url: what the kiosk opens with pyserial.
        display: what the pad shows now: "idle", "ask <number>", "reason", "thanks", "cancelled".
        shown: every command line received, in order.
        bad: lines from the kiosk the pad did not understand.
    """

    def __init__(self, transport="pty", host="127.0.0.1"):
        self.display = "idle"
        self.shown = []
        self.bad = 0
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._conn = None
        self._listener = None
        self._stop_r, self._stop_w = os.pipe()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._stop_r, selectors.EVENT_READ, "stop")
        try:
            if transport == "pty":
                self._fd, self._slave = os.openpty()
                tty.setraw(self._slave)
                self.url = os.ttyname(self._slave)
                self._sel.register(self._fd, selectors.EVENT_READ, "pty")
            elif transport == "tcp":
                self._fd = self._slave = None
                self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._listener.bind((host, 0))
                self._listener.listen(1)
                self.url = "socket://%s:%d" % self._listener.getsockname()
                self._sel.register(self._listener, selectors.EVENT_READ, "accept")
            else:
                raise RatingPadError("transport is 'pty' or 'tcp', got %r" % (transport,))
        except OSError as exc:
            raise RatingPadError("cannot open the pad's %s: %s" % (transport, exc)) from exc
        self._thread = threading.Thread(target=self._run, name="ratingpad", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the customer

    def press(self, level):
        """Press key ``level`` (1..5)."""
        self.send_raw(b"K%d\n" % level)

    def pick_reason(self, index):
        """Pick reason number ``index`` (1..9) of the list."""
        self.send_raw(b"R%d\n" % index)

    def type_reason(self, text):
        """Type a reason."""
        self.send_raw(("T%s\n" % text).encode("utf-8"))

    def send_raw(self, data):
        """Put ``data`` on the line as is (noise, half lines, anything).

        Raises:
            RatingPadError: nothing is connected (TCP) or the write failed.
        """
        try:
            if self._fd is not None:
                os.write(self._fd, data)
            elif self._conn is not None:
                self._conn.sendall(data)
            else:
                raise RatingPadError("no kiosk connected to %s" % self.url)
        except OSError as exc:
            raise RatingPadError("cannot write to %s: %s" % (self.url, exc)) from exc

    def wait_for(self, display, timeout_s=5.0):
        """Wait until the pad shows ``display``; returns True if it did within ``timeout_s``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.display == display, timeout_s)

    # ------------------------------------------------------------ the kiosk's side

    def _run(self):
        while True:
            for key, _ in self._sel.select():
                if key.data == "stop":
                    return
                if key.data == "accept":
                    conn, _ = self._listener.accept()
                    if self._conn is not None:
                        conn.close()       # one kiosk at a time
                        continue
                    self._conn = conn
                    self._sel.register(conn, selectors.EVENT_READ, "tcp")
                    continue
                try:
                    data = os.read(self._fd, 4096) if key.data == "pty" else self._conn.recv(4096)
                except OSError as exc:
                    if exc.errno in (errno.EIO, errno.EAGAIN):
                        data = b""
                    else:
                        raise
                if key.data == "tcp" and not data:
                    self._sel.unregister(self._conn)
                    self._conn.close()
                    self._conn = None
                    continue
                self._take(data)

    def _take(self, data):
        for byte in data:
            if byte != 0x0A:
                if len(self._buf) < _MAX_LINE:
                    self._buf.append(byte)
                continue
            line = self._buf.decode("utf-8", "replace").rstrip("\r")
            self._buf.clear()
            if line.startswith("A "):
                display = "ask " + line[2:]
            else:
                display = {"Q": "reason", "D": "thanks", "C": "cancelled"}.get(line)
            with self._cond:
                self.shown.append(line)
                if display is None:
                    self.bad += 1
                else:
                    self.display = display
                self._cond.notify_all()

    def close(self):
        """Stop the thread and close the pty or socket."""
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for thing in (self._conn, self._listener):
            if thing is not None:
                thing.close()
        for fd in (self._fd, self._slave, self._stop_r, self._stop_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._sel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
