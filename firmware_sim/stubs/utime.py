"""CPython stand-in for MicroPython's ``utime`` / ``time`` tick functions.

Same semantics as MicroPython: ticks wrap at ``TICKS_PERIOD`` (2**30), so
code that handles the wrap with ``ticks_diff`` / ``ticks_add`` is tested with
it. ``time()`` is Unix epoch seconds (float), as on the MicroPython unix port.
"""

import time as _time

TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2

_start_ns = _time.monotonic_ns()


def ticks_ms():
    """Milliseconds from an arbitrary start, wrapping at 2**30."""
    return ((_time.monotonic_ns() - _start_ns) // 1000000) & TICKS_MAX


def ticks_us():
    """Microseconds from an arbitrary start, wrapping at 2**30."""
    return ((_time.monotonic_ns() - _start_ns) // 1000) & TICKS_MAX


def ticks_add(ticks, delta):
    """``ticks + delta`` modulo the tick period (delta may be negative)."""
    return (ticks + delta) & TICKS_MAX


def ticks_diff(ticks1, ticks2):
    """Signed difference ``ticks1 - ticks2``, correct across one wrap."""
    return ((ticks1 - ticks2 + TICKS_HALF) & TICKS_MAX) - TICKS_HALF


def sleep_ms(ms):
    """Sleep ``ms`` milliseconds (negative or zero returns at once)."""
    if ms > 0:
        _time.sleep(ms / 1000.0)


def sleep_us(us):
    """Sleep ``us`` microseconds."""
    if us > 0:
        _time.sleep(us / 1000000.0)


def sleep(seconds):
    """Sleep ``seconds`` (float allowed, as on the unix port)."""
    if seconds > 0:
        _time.sleep(seconds)


def time():
    """Unix epoch seconds as a float."""
    return _time.time()


def time_ns():
    """Unix epoch nanoseconds."""
    return _time.time_ns()


def gmtime(secs=None):
    """(year, month, mday, hour, minute, second, weekday 0=Monday, yearday) in UTC."""
    t = _time.gmtime(secs)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_wday, t.tm_yday)


def localtime(secs=None):
    """Like ``gmtime`` in the host's local zone."""
    t = _time.localtime(secs)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_wday, t.tm_yday)
