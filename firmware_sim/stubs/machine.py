"""CPython stand-in for MicroPython's ``machine`` module: just ``UART``.

``UART`` behaves like ``machine.UART`` on a board: ``read(n)`` returns up to
``n`` bytes, or None when nothing arrived within ``timeout`` ms; ``any()``
tells how many bytes wait; ``write(buf)`` returns the count written. It runs
over either

* file descriptors (``rx_fd``/``tx_fd``, default stdin/stdout): a pty or a
  pipe, as the tests and ``python -m firmware_sim.meter.main`` use it; or
* a pyserial port or URL (``port="/dev/ttyUSB0"``, ``"socket://host:port"``):
  real RS-485 adapters. pyserial is imported only then.

End of input (the other side closed) makes ``read`` return ``b""``, which a
board never does; the firmware loop stops on it.
"""

import errno
import fcntl
import os
import select
import struct
import termios

PARITY_NONE = None
PARITY_EVEN = 0
PARITY_ODD = 1


class UART:
    """A UART over file descriptors or a pyserial port.

    Args:
        id: ignored (board UART number).
        baudrate, bits, parity, stop: line settings (parity 0 = even, 1 = odd,
            None = none, as MicroPython); applied to pyserial ports only.
        timeout: read timeout in ms (0 = do not wait).
        rx_fd, tx_fd: file descriptors (default 0 and 1).
        port: pyserial port name or URL instead of descriptors.
    """

    def __init__(self, id=None, baudrate=9600, bits=8, parity=None, stop=1, timeout=0,
                 rx_fd=None, tx_fd=None, port=None):
        self.id = id
        self._serial = None
        self.timeout = timeout
        if port is not None:
            import serial  # pyserial: only for real ports (an adapter, STYLE.md)
            self._serial = serial.serial_for_url(port, do_not_open=True)
            self._rx = self._tx = None
        else:
            self._rx = 0 if rx_fd is None else rx_fd
            self._tx = 1 if tx_fd is None else tx_fd
        self.init(baudrate, bits, parity, stop, timeout)
        if self._serial is not None:
            self._serial.open()

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, timeout=None):
        """Change the line settings (e.g. after a 17H rate change)."""
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        if timeout is not None:
            self.timeout = timeout
        if self._serial is not None:
            import serial
            self._serial.baudrate = baudrate
            self._serial.bytesize = bits
            self._serial.parity = {None: serial.PARITY_NONE, 0: serial.PARITY_EVEN,
                                   1: serial.PARITY_ODD}[parity]
            self._serial.stopbits = stop
            self._serial.timeout = self.timeout / 1000.0

    def any(self):
        """Number of bytes waiting to be read (0 when none)."""
        if self._serial is not None:
            return self._serial.in_waiting
        try:
            buf = fcntl.ioctl(self._rx, termios.FIONREAD, b"\0\0\0\0")
            return struct.unpack("i", buf)[0]
        except OSError:
            r, _, _ = select.select([self._rx], [], [], 0)
            return 1 if r else 0

    def read(self, nbytes=None):
        """Up to ``nbytes`` bytes (all waiting when None); None on timeout, b"" at end of input."""
        if self._serial is not None:
            data = self._serial.read(nbytes or max(1, self._serial.in_waiting))
            return data or None
        r, _, _ = select.select([self._rx], [], [], self.timeout / 1000.0)
        if not r:
            return None
        try:
            return os.read(self._rx, nbytes or 4096)
        except OSError as exc:
            if exc.errno == errno.EIO:     # pty master closed
                return b""
            raise

    def readinto(self, buf, nbytes=None):
        """Read into ``buf``; the count, or None on timeout."""
        data = self.read(nbytes or len(buf))
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

    def write(self, buf):
        """Write all of ``buf``; returns its length."""
        if self._serial is not None:
            n = self._serial.write(buf)
            self._serial.flush()
            return n
        view = memoryview(buf)
        while view:
            n = os.write(self._tx, view)
            view = view[n:]
        return len(buf)

    def flush(self):
        """Wait until written bytes are sent (no-op for descriptors)."""
        if self._serial is not None:
            self._serial.flush()

    def deinit(self):
        """Close a pyserial port (descriptors stay open: they are the caller's)."""
        if self._serial is not None:
            self._serial.close()
