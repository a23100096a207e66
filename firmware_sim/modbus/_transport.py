"""A pty pair joined back to back: the serial line of the simulated RTU meters.

``socat pty pty`` in a thread. The server opens one end's path
(``server_path``), the master (the concentrator, any pyserial program)
opens the other (``client_path``), and every byte written on one side comes
out of the other. Both slave ends stay open here too, so the pair lives
while programs open and close their ends, and our reads never fail with
EIO. Ptys carry no baud rate or parity: both ends are raw 8N1, and the
relay adds no wire timing (the meters' reply delay does).
"""

import os
import selectors
import threading
import time
import tty

from ._errors import ModbusTransportError


class PtyPair:
    """Two pseudo-terminals relayed to each other (see the module docstring).

    Raises:
        ModbusTransportError: a pty cannot be opened.
    """

    def __init__(self):
        self._fds = []
        try:
            self._a, a_slave = os.openpty()
            self._fds += [self._a, a_slave]
            self._b, b_slave = os.openpty()
            self._fds += [self._b, b_slave]
            for fd in (a_slave, b_slave):
                tty.setraw(fd)
            self.server_path = os.ttyname(a_slave)
            self.client_path = os.ttyname(b_slave)
            self._wake_r, self._wake_w = os.pipe()
            self._fds += [self._wake_r, self._wake_w]
        except OSError as exc:
            self.close()
            raise ModbusTransportError("cannot open a pseudo-terminal pair: %s" % exc) from exc
        for fd in (self._a, self._b):
            os.set_blocking(fd, False)
        self._thread = None
        self._stopping = False
        self.relayed = 0

    def start(self):
        """Start relaying (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pty pair %s" % self.client_path, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self._a, selectors.EVENT_READ, self._b)
        sel.register(self._b, selectors.EVENT_READ, self._a)
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                for key, _ in sel.select():
                    if key.data is None:
                        continue
                    try:
                        data = os.read(key.fd, 4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self._write_all(key.data, data)
        finally:
            sel.close()

    def _write_all(self, fd, data):
        view = memoryview(data)
        while view and not self._stopping:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return      # the other side is gone: the line drops the bytes
            self.relayed += n
            view = view[n:]

    def close(self):
        """Stop relaying and close every end (idempotent)."""
        self._stopping = True
        if getattr(self, "_thread", None) is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(5)
            self._thread = None
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
