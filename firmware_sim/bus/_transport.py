"""Endpoints a master connects to: a pseudo-terminal or a TCP port.

Thin adapters (STYLE.md): they read bytes, write bytes and say where to
connect; the wire model lives in ``_line.py``. Both are non-blocking and are
driven by the selector loop in ``_server.py``. A byte the master's side
cannot take at once (nobody reading the pty, a stalled socket) is dropped and
counted, as a real line would lose it: the bus never blocks on the master.
"""

import errno
import os
import selectors
import socket
import tty

from ._errors import TransportError


class PtyEndpoint:
    """A pty pair: the master connects to the slave path (``/dev/pts/N``) with pyserial.

    The bus keeps the slave open too, so the pty lives while masters come
    and go, and reads of our side never fail with EIO. The slave is raw (no
    echo, no line editing); ptys ignore baud and parity, so run them 8N1.
    """

    transport = "pty"

    def __init__(self):
        try:
            self._fd, self._slave_fd = os.openpty()
            tty.setraw(self._slave_fd)
            self.path = os.ttyname(self._slave_fd)
        except OSError as exc:
            raise TransportError("cannot open a pseudo-terminal: %s" % exc) from exc
        os.set_blocking(self._fd, False)
        self.dropped = 0
        self.connections = 0

    @property
    def url(self):
        return self.path

    def register(self, sel):
        sel.register(self._fd, selectors.EVENT_READ, self)

    def on_readable(self, sel, key):
        """Bytes the master wrote (b"" when there were none)."""
        try:
            return os.read(self._fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:     # no slave open; we keep one, so only at close
                return b""
            raise

    def write(self, data):
        try:
            n = os.write(self._fd, data)
        except BlockingIOError:
            n = 0
        self.dropped += len(data) - n

    def close(self):
        for fd in (self._fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class TcpEndpoint:
    """A TCP listener on ``host:port`` for one master at a time (``socket://host:port``).

    While a master is connected the listener is not polled, so a second
    master waits in the backlog until the first disconnects.
    """

    transport = "tcp"

    def __init__(self, host="127.0.0.1", port=0):
        try:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            self._listener.listen(4)
        except OSError as exc:
            raise TransportError("cannot listen on %s:%s: %s" % (host, port, exc)) from exc
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._conn = None
        self.dropped = 0
        self.connections = 0

    @property
    def url(self):
        return "socket://%s:%d" % (self.host, self.port)

    @property
    def connected(self):
        return self._conn is not None

    def register(self, sel):
        sel.register(self._listener, selectors.EVENT_READ, self)

    def on_readable(self, sel, key):
        """Accept a master, or return the bytes it wrote (b"" when none)."""
        if key.fileobj is self._listener:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return b""
            conn.setblocking(False)
            # Our replies go out a byte or a few at a time at wire speed;
            # Nagle would hold them for the master's ACK.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.unregister(self._listener)
            sel.register(conn, selectors.EVENT_READ, self)
            self._conn = conn
            self.connections += 1
            return b""
        try:
            data = self._conn.recv(4096)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            self._drop_conn(sel)
        return data

    def _drop_conn(self, sel):
        sel.unregister(self._conn)
        self._conn.close()
        self._conn = None
        sel.register(self._listener, selectors.EVENT_READ, self)

    def write(self, data):
        if self._conn is None:
            self.dropped += len(data)
            return
        try:
            n = self._conn.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            n = 0       # reset by the peer: the read side notices and closes
        self.dropped += len(data) - n

    def close(self):
        for s in (self._conn, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._conn = None
