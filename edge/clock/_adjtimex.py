"""Read the kernel's NTP discipline state with ``adjtimex(2)`` through ctypes.

A thin adapter: one libc call with ``modes = 0`` (read only, no privilege
needed), no subprocess, about a microsecond. ``struct timex`` is declared with
C ``long`` fields as glibc and musl do for the ``adjtimex`` symbol, so the same
layout serves 64-bit (x86_64, aarch64) and 32-bit (armhf) Linux; spare room
after the declared fields covers the tail the kernel may fill.
"""

import ctypes
import ctypes.util
import os
import sys

from ._quality import KernelClock


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # <sys/timex.h>, in order; the 11 trailing ints and more are reserved.
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int), ("_reserved", ctypes.c_byte * 128),
    ]


def _load():
    if not sys.platform.startswith("linux"):
        return None, "adjtimex is Linux only (platform %s)" % sys.platform
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError as exc:
        return None, "cannot load libc: %s" % exc
    for name in ("adjtimex", "ntp_adjtime"):
        fn = getattr(libc, name, None)
        if fn is not None:
            fn.argtypes = [ctypes.POINTER(_Timex)]
            fn.restype = ctypes.c_int
            return fn, None
    return None, "libc has neither adjtimex nor ntp_adjtime"


_CALL, _LOAD_ERROR = _load()


class KernelReader:
    """``read() -> KernelClock | None``; ``None`` when the kernel cannot be asked.

    Never raises: a clock read sits under every record append. The reason of
    the last failure is kept in ``last_error`` (None after a good read).
    """

    def __init__(self):
        self.last_error = _LOAD_ERROR

    @property
    def available(self):
        return _CALL is not None

    def read(self):
        if _CALL is None:
            return None
        tx = _Timex()
        tx.modes = 0
        state = _CALL(ctypes.byref(tx))
        if state < 0:
            err = ctypes.get_errno()
            self.last_error = "adjtimex failed: %s (errno %d)" % (os.strerror(err), err)
            return None
        self.last_error = None
        return KernelClock(state, tx.status, tx.maxerror, tx.esterror)


def read_kernel_clock():
    """One read of the kernel's state: a ``KernelClock``, or None (see ``KernelReader``)."""
    return KernelReader().read()
