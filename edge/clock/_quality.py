"""Clock quality decisions: kernel NTP state, RTC and hall time -> ``tq`` (pure).

Records carry ``t`` (UTC ms) and ``tq`` = ``{"src", "err_ms"}`` (docs/records.md):
``err_ms`` is the device's *bound* on ``|t - true UTC|`` and is null exactly when
``src`` is "none". Nothing here reads a clock or a file: the kernel's state, the
presence of an RTC and monotonic readings are passed in, so every rule can be
tested with made-up values. ``ClockQuality`` (in ``_source``) feeds it.

Rules (docs/clock.md gives the reasons):

1. The kernel says synchronised (``STA_UNSYNC`` clear and the call did not
   return ``TIME_ERROR``): src "ntp", err_ms = ``maxerror`` rounded up to ms.
   ``maxerror`` is the kernel's bound (the NTP daemon sets it to root
   dispersion + half the root delay and the kernel grows it by 500 ppm a
   second); ``esterror`` is only an estimate, so it is kept for diagnostics.
2. Not synchronised, the machine has a battery RTC and the time is not before
   ``PLAUSIBLE_AFTER_S``: src "rtc", err_ms = the configured ``rtc_err_ms``
   (the kernel cannot bound a free-running clock, so the operator states it).
3. Otherwise src "none", err_ms null: a board without an RTC (a Raspberry Pi
   with fake-hwclock) boots with a stale time and nothing bounds it.
4. A hall-time estimate (``HallTime``) replaces rules 1-3 whenever its bound
   is smaller than theirs (or they say "none").
"""

import math

# <sys/timex.h>
STA_UNSYNC = 0x0040
TIME_ERROR = 5
# The kernel caps maxerror at NTP_PHASE_LIMIT (16 s) and then sets STA_UNSYNC.
NTP_PHASE_LIMIT_US = 16000000
# Growth of an unsynchronised oscillator's error: the kernel's own figure
# (MAXFREQ, 500 ppm = 0.5 ms per second), used for the cache age and for a
# hall-time estimate between refreshes.
DRIFT_PPM = 500
# Before this UTC time (2024-01-01) the wall clock is certainly unset: an RTC
# that reads 1970 or 2000 lost its battery.
PLAUSIBLE_AFTER_S = 1704067200
MAX_ERR_MS = 2147483647     # records.md: above 2^31-1 ms a device reports "none"
SOURCES = ("gps", "ntp", "hall", "rtc", "none")
NONE = {"src": "none", "err_ms": None}


class KernelClock:
    """What ``adjtimex(2)`` (modes 0: read only) reported.

    Attributes:
        state: the call's return value (TIME_OK 0 ... TIME_ERROR 5).
        status: the ``status`` flags (STA_*).
        maxerror_us, esterror_us: maximum and estimated error, microseconds.
    """

    def __init__(self, state, status, maxerror_us, esterror_us):
        self.state = state
        self.status = status
        self.maxerror_us = maxerror_us
        self.esterror_us = esterror_us

    @property
    def synchronised(self):
        return not (self.status & STA_UNSYNC) and self.state != TIME_ERROR

    def __repr__(self):
        return "KernelClock(state=%d, status=0x%04x, maxerror_us=%d, esterror_us=%d)" % (
            self.state, self.status, self.maxerror_us, self.esterror_us)


def _tq(src, err_ms):
    if err_ms is None or err_ms > MAX_ERR_MS:
        return dict(NONE)
    return {"src": src, "err_ms": int(err_ms)}


def kernel_quality(kernel, has_rtc, wall_s, rtc_err_ms, age_s=0.0):
    """``tq`` from the kernel's discipline state (rules 1-3 above).

    Args:
        kernel: a ``KernelClock``, or None when the kernel could not be asked.
        has_rtc: the machine has a battery-backed RTC.
        wall_s: the system UTC time now, seconds.
        rtc_err_ms: the bound stated for a free-running RTC.
        age_s: how old ``kernel`` is (a cached read); the bound grows by
            ``DRIFT_PPM`` over it.

    Returns:
        a tq dict.
    """
    if kernel is not None and kernel.synchronised and 0 <= kernel.maxerror_us < NTP_PHASE_LIMIT_US:
        grown_us = kernel.maxerror_us + max(0.0, age_s) * DRIFT_PPM
        return _tq("ntp", math.ceil(grown_us / 1000.0))
    if has_rtc and wall_s >= PLAUSIBLE_AFTER_S:
        return _tq("rtc", rtc_err_ms)
    return dict(NONE)


class HallTime:
    """The hall's time learned over one round trip, as a clock source ("hall").

    The hall stamped ``hall_t_ms`` at some instant between the device's request
    leaving (``sent_mono_s``) and the answer arriving (``received_mono_s``), so
    at arrival true time lies in ``[hall_t, hall_t + rtt]``: the midpoint is the
    estimate and half the round trip (plus the hall's own bound) the error.
    Afterwards the bound grows by ``drift_ppm`` of the time elapsed on the
    device's monotonic clock.

    Only a round trip bounds the delay: a one-way message (a command pushed by
    the hall) says nothing about how long it travelled and must not be used.

    Attributes:
        anchor_mono_s, anchor_t_ms, anchor_err_ms, rtt_ms, drift_ppm.
    """

    def __init__(self, anchor_mono_s, anchor_t_ms, anchor_err_ms, rtt_ms, drift_ppm=DRIFT_PPM):
        self.anchor_mono_s = anchor_mono_s
        self.anchor_t_ms = anchor_t_ms
        self.anchor_err_ms = anchor_err_ms
        self.rtt_ms = rtt_ms
        self.drift_ppm = drift_ppm

    def at(self, mono_s):
        """(t_ms, tq) at the device's monotonic time ``mono_s``."""
        elapsed_s = max(0.0, mono_s - self.anchor_mono_s)
        t_ms = int(self.anchor_t_ms + elapsed_s * 1000.0)
        err_ms = math.ceil(self.anchor_err_ms + elapsed_s * self.drift_ppm / 1000.0)
        return t_ms, _tq("hall", err_ms)

    def __repr__(self):
        return "HallTime(t_ms=%d, err_ms=%d, rtt_ms=%d)" % (self.anchor_t_ms, self.anchor_err_ms, self.rtt_ms)


def hall_time_estimate(hall_t_ms, sent_mono_s, received_mono_s, hall_err_ms=0, drift_ppm=DRIFT_PPM):
    """Estimate true time from a hall message that answers one of ours.

    Args:
        hall_t_ms: the ``t`` of the hall's verified, signed ack or reply (UTC ms).
        sent_mono_s: device monotonic time when the message it answers was sent.
        received_mono_s: device monotonic time when the answer arrived.
        hall_err_ms: the hall's own bound on its time (0 if it does not say).
        drift_ppm: how fast the bound grows afterwards.

    Returns:
        a ``HallTime``.

    Raises:
        ValueError: the answer arrived before the request left, or a bound is negative.
    """
    rtt_s = received_mono_s - sent_mono_s
    if rtt_s < 0:
        raise ValueError("hall answer received at monotonic %.3f s, before its request was sent at %.3f s"
                         % (received_mono_s, sent_mono_s))
    if hall_err_ms < 0:
        raise ValueError("hall_err_ms must be >= 0, got %r" % (hall_err_ms,))
    half_ms = rtt_s * 500.0
    return HallTime(received_mono_s, hall_t_ms + half_ms, math.ceil(half_ms + hall_err_ms),
                    int(round(rtt_s * 1000.0)), drift_ppm)
