"""edge.clock: the tq rules with made-up kernel values, the hall estimate, and the real adjtimex."""

import sys
import time

import pytest

from edge import ConfigError
from edge.clock import (PLAUSIBLE_AFTER_S, STA_UNSYNC, TIME_ERROR, ClockQuality, KernelClock,
                        hall_time_estimate, kernel_quality, read_kernel_clock)

NOW_S = 1795453743.0          # 2026-11-23
SYNCED = KernelClock(0, 0x2001, 12345, 800)         # TIME_OK, STA_PLL | STA_NANO
UNSYNCED = KernelClock(TIME_ERROR, STA_UNSYNC, 16000000, 16000000)


class FakeKernel:
    def __init__(self, answer):
        self.answer = answer
        self.reads = 0
        self.last_error = None

    def read(self):
        self.reads += 1
        return self.answer


class Ticks:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_synchronised_kernel_is_ntp_with_maxerror_rounded_up():
    assert kernel_quality(SYNCED, False, NOW_S, 300000) == {"src": "ntp", "err_ms": 13}


def test_cached_kernel_read_grows_its_bound_by_500_ppm():
    assert kernel_quality(SYNCED, False, NOW_S, 300000, age_s=0.9) == {"src": "ntp", "err_ms": 13}
    assert kernel_quality(SYNCED, False, NOW_S, 300000, age_s=10.0) == {"src": "ntp", "err_ms": 18}


def test_unsync_flag_or_time_error_means_not_synchronised():
    flagged = KernelClock(0, STA_UNSYNC, 1000, 10)
    error_state = KernelClock(TIME_ERROR, 0, 1000, 10)
    for kernel in (flagged, error_state, UNSYNCED):
        assert kernel_quality(kernel, False, NOW_S, 300000) == {"src": "none", "err_ms": None}


def test_unsynchronised_with_rtc_is_rtc_with_the_stated_bound():
    assert kernel_quality(UNSYNCED, True, NOW_S, 300000) == {"src": "rtc", "err_ms": 300000}
    assert kernel_quality(None, True, NOW_S, 60000) == {"src": "rtc", "err_ms": 60000}


def test_rtc_showing_an_impossible_date_is_none():
    assert kernel_quality(UNSYNCED, True, PLAUSIBLE_AFTER_S - 1, 300000)["src"] == "none"
    assert kernel_quality(UNSYNCED, True, 946684800.0, 300000)["src"] == "none"   # 2000-01-01


def test_no_kernel_no_rtc_is_none():
    assert kernel_quality(None, False, NOW_S, 300000) == {"src": "none", "err_ms": None}


def test_saturated_maxerror_is_never_claimed_as_ntp():
    saturated = KernelClock(0, 0, 16000000, 0)
    assert kernel_quality(saturated, False, NOW_S, 300000)["src"] == "none"


def test_hall_estimate_is_the_midpoint_with_half_the_round_trip():
    est = hall_time_estimate(1795453743000, sent_mono_s=10.0, received_mono_s=10.2, hall_err_ms=5)
    assert est.rtt_ms == 200
    t_ms, tq = est.at(10.2)
    assert t_ms == 1795453743100 and tq == {"src": "hall", "err_ms": 105}
    t_ms, tq = est.at(110.2)                         # 100 s later: +50 ms at 500 ppm
    assert t_ms == 1795453843100 and tq == {"src": "hall", "err_ms": 155}


def test_hall_estimate_refuses_an_answer_before_its_request():
    with pytest.raises(ValueError, match="before its request was sent"):
        hall_time_estimate(1, sent_mono_s=5.0, received_mono_s=4.0)
    with pytest.raises(ValueError, match="hall_err_ms"):
        hall_time_estimate(1, 1.0, 2.0, hall_err_ms=-1)


def test_clock_quality_caches_the_kernel_for_a_second():
    kernel, mono = FakeKernel(SYNCED), Ticks()
    clock = ClockQuality(kernel=kernel, has_rtc=False, wall_ms=lambda: 1795453743000, monotonic=mono)
    assert clock.now() == (1795453743000, {"src": "ntp", "err_ms": 13})
    mono.t += 0.5
    clock.now()
    assert kernel.reads == 1
    mono.t += 0.6
    clock.now()
    assert kernel.reads == 2


def test_clock_quality_prefers_hall_time_only_while_its_bound_is_smaller():
    kernel, mono = FakeKernel(UNSYNCED), Ticks(50.0)
    clock = ClockQuality(kernel=kernel, has_rtc=True, rtc_err_ms=300000, wall_ms=lambda: 1795453000000,
                         monotonic=mono)
    assert clock.now()[1]["src"] == "rtc"
    clock.set_hall_time(hall_time_estimate(1795453743000, 49.5, 50.0))
    t_ms, tq = clock.now()
    assert tq == {"src": "hall", "err_ms": 250} and t_ms == 1795453743250
    kernel.answer = SYNCED                           # NTP comes back: 13 ms beats the hall's 250+
    mono.t += 2.0
    assert clock.now() == (1795453000000, {"src": "ntp", "err_ms": 13})   # a fresh read
    clock.set_hall_time(None)
    with pytest.raises(TypeError):
        clock.set_hall_time({"t": 1})


def test_clock_settings_from_a_table():
    clock = ClockQuality.from_config({"rtc_err_ms": 60000, "cache_s": 2}, has_rtc=True,
                                     kernel=FakeKernel(None))
    assert clock.rtc_err_ms == 60000 and clock.cache_s == 2.0
    with pytest.raises(ConfigError, match="clock.rtc_ms is not a clock setting") as info:
        ClockQuality.from_config({"rtc_ms": 1}, path="device.toml")
    assert info.value.key == "clock.rtc_ms" and info.value.path == "device.toml"
    with pytest.raises(ConfigError, match=r"clock.rtc_err_ms must be an integer 1..2147483647 ms, got 0"):
        ClockQuality.from_config({"rtc_err_ms": 0})


def test_real_adjtimex_on_this_machine_gives_a_sane_answer():
    if not sys.platform.startswith("linux"):
        pytest.skip("adjtimex is Linux only")
    kernel = read_kernel_clock()
    assert kernel is not None, "adjtimex could not be called"
    assert 0 <= kernel.state <= TIME_ERROR
    assert 0 <= kernel.maxerror_us <= 16000000 and kernel.esterror_us >= 0
    clock = ClockQuality()
    before = time.time() * 1000
    t_ms, tq = clock.now()
    assert before - 5 <= t_ms <= time.time() * 1000 + 5
    if kernel.synchronised and kernel.maxerror_us < 16000000:
        assert tq["src"] == "ntp" and 0 <= tq["err_ms"] <= 16000
    elif clock.has_rtc:
        assert tq == {"src": "rtc", "err_ms": 300000}
    else:
        assert tq == {"src": "none", "err_ms": None}
    started = time.perf_counter()
    for _ in range(1000):
        clock.now()
    assert time.perf_counter() - started < 0.5      # cached: no syscall storm, no subprocess
    assert clock.kernel_reads <= 2
