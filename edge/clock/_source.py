"""``ClockQuality``: the device's clock, ``now() -> (t_ms, tq)``, for the outbox and publisher.

The adapter around ``_quality``: it reads the wall clock on every call (so
``t`` is always fresh), asks the kernel at most once per ``cache_s`` (the
bound grows by 500 ppm over the cached age, so a cached answer never
overstates quality), and checks once at start whether the machine has an RTC.
A ``HallTime`` set with ``set_hall_time`` is used instead whenever its bound is
the smaller one. ``now()`` never raises: it runs under every record append.
"""

import os
import threading
import time

from .._errors import ConfigError
from ._adjtimex import KernelReader
from ._quality import MAX_ERR_MS, HallTime, kernel_quality

DEFAULT_RTC_PATH = "/sys/class/rtc/rtc0"
DEFAULT_RTC_ERR_MS = 300000     # 5 min: see docs/clock.md
DEFAULT_CACHE_S = 1.0
CONFIG_KEYS = {"rtc_err_ms": DEFAULT_RTC_ERR_MS, "cache_s": DEFAULT_CACHE_S, "rtc_path": DEFAULT_RTC_PATH}


def clock_settings(table, path=None):
    """Validate a ``[clock]`` table into ``ClockQuality`` keyword arguments.

    Keys (all optional): ``rtc_err_ms`` (int, 1..2^31-1, default 300000),
    ``cache_s`` (number, 0..60, default 1.0), ``rtc_path`` (text, default
    "/sys/class/rtc/rtc0").

    Raises:
        ConfigError: an unknown key or a bad value (``key`` names it).
    """
    out = dict(CONFIG_KEYS)
    for key, value in (table or {}).items():
        where = "clock.%s" % key
        if key not in CONFIG_KEYS:
            raise ConfigError("%s is not a clock setting (expected one of %s)"
                              % (where, ", ".join(sorted(CONFIG_KEYS))), path, where)
        if key == "rtc_err_ms":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ERR_MS:
                raise ConfigError("%s must be an integer 1..%d ms, got %r" % (where, MAX_ERR_MS, value), path, where)
        elif key == "cache_s":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60:
                raise ConfigError("%s must be a number of seconds 0..60, got %r" % (where, value), path, where)
            value = float(value)
        elif not isinstance(value, str) or not value:
            raise ConfigError("%s must be a path, got %r" % (where, value), path, where)
        out[key] = value
    return out


class ClockQuality:
    """The device's time and its quality.

    Args:
        rtc_err_ms: the bound claimed for a free-running battery RTC (rule 2).
        cache_s: how long one kernel read is reused.
        rtc_path: the RTC's sysfs directory; the machine "has an RTC" when it exists.
        kernel: ``read() -> KernelClock | None`` (default: the real adjtimex).
        has_rtc: overrides the sysfs check (tests; boards whose RTC is elsewhere).
        wall_ms: ``() -> int`` UTC ms (default ``time.time_ns() // 10**6``).
        monotonic: ``() -> float`` seconds (default ``time.monotonic``).

    Use ``clock.now`` as the ``clock`` of ``Outbox``, ``Publisher`` or ``DeviceRuntime``.
    """

    def __init__(self, rtc_err_ms=DEFAULT_RTC_ERR_MS, cache_s=DEFAULT_CACHE_S, rtc_path=DEFAULT_RTC_PATH,
                 kernel=None, has_rtc=None, wall_ms=None, monotonic=None):
        self.rtc_err_ms = rtc_err_ms
        self.cache_s = cache_s
        self._reader = kernel if kernel is not None else KernelReader()
        self.has_rtc = os.path.isdir(rtc_path) if has_rtc is None else bool(has_rtc)
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1000000)
        self._mono = monotonic or time.monotonic
        self._lock = threading.Lock()
        self._kernel = None
        self._kernel_at = None
        self._hall = None
        self.kernel_reads = 0

    @classmethod
    def from_config(cls, table, path=None, **kwargs):
        """A ``ClockQuality`` from a ``[clock]`` table (see ``clock_settings``)."""
        settings = clock_settings(table, path)
        settings.update(kwargs)
        return cls(**settings)

    @property
    def last_error(self):
        """Why the kernel could not be asked last time, or None."""
        return getattr(self._reader, "last_error", None)

    def kernel(self):
        """The kernel state (cached up to ``cache_s``) and its age in seconds."""
        mono = self._mono()
        with self._lock:
            if self._kernel_at is None or mono - self._kernel_at >= self.cache_s or mono < self._kernel_at:
                self._kernel = self._reader.read()
                self._kernel_at = mono
                self.kernel_reads += 1
            return self._kernel, mono - self._kernel_at

    def set_hall_time(self, hall_time):
        """Use a ``HallTime`` (see ``hall_time_estimate``) while its bound beats the kernel's.

        None removes it.
        """
        if hall_time is not None and not isinstance(hall_time, HallTime):
            raise TypeError("set_hall_time takes a HallTime or None, got %r" % (hall_time,))
        with self._lock:
            self._hall = hall_time

    def now(self):
        """(t_ms, tq): UTC milliseconds now and the bound on their error."""
        kernel, age_s = self.kernel()
        t_ms = self._wall_ms()
        tq = kernel_quality(kernel, self.has_rtc, t_ms / 1000.0, self.rtc_err_ms, age_s)
        hall = self._hall
        if hall is not None:
            hall_t_ms, hall_tq = hall.at(self._mono())
            if hall_tq["err_ms"] is not None and (tq["err_ms"] is None or hall_tq["err_ms"] < tq["err_ms"]):
                return hall_t_ms, hall_tq
        return t_ms, tq

    __call__ = now
