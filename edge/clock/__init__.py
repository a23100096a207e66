"""Time quality: the device's clock as ``now() -> (t_ms, tq)``.

``ClockQuality`` is the clock the outbox and publisher take (``clock=cq.now``):
it reads the kernel's NTP discipline state with ``adjtimex`` (ctypes, cached a
second) and says "ntp", "rtc" or "none" with an error bound, or "hall" when a
round-trip estimate of the hall's time (``hall_time_estimate``) is better.
The rules are pure functions in ``_quality`` (``kernel_quality``), tested with
made-up kernel values; docs/clock.md explains them.
"""

from ._adjtimex import KernelReader, read_kernel_clock
from ._quality import (DRIFT_PPM, NTP_PHASE_LIMIT_US, PLAUSIBLE_AFTER_S, SOURCES, STA_UNSYNC, TIME_ERROR, HallTime,
                       KernelClock, hall_time_estimate, kernel_quality)
from ._source import (DEFAULT_CACHE_S, DEFAULT_RTC_ERR_MS, DEFAULT_RTC_PATH, ClockQuality, clock_settings)

__all__ = [
    "ClockQuality", "clock_settings", "DEFAULT_CACHE_S", "DEFAULT_RTC_ERR_MS", "DEFAULT_RTC_PATH",
    "KernelClock", "KernelReader", "read_kernel_clock", "kernel_quality", "HallTime", "hall_time_estimate",
    "DRIFT_PPM", "NTP_PHASE_LIMIT_US", "PLAUSIBLE_AFTER_S", "SOURCES", "STA_UNSYNC", "TIME_ERROR",
]
