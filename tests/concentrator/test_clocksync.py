"""Broadcast time-sync policy (DL/T 645 §8: <= 5 min, once a day, not around midnight) and its adapters."""

import datetime
import time

import pytest

from concentrator._clocksync import (BroadcastDue, ClockSyncError, ClockSyncPolicy, MeterClockReading,
                                     NeedsTimeSetting, SyncSettings, SyncWithheld, broadcast_time_sync,
                                     local_time, read_meter_clock)
from concentrator._reader import read

NTP = {"src": "ntp", "err_ms": 20}
A07 = "202311150042"
A97 = "000009310421"


def at(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S")


def reading(address, meter_shows, before, after=None, own_err_ms=20):
    return MeterClockReading(address, at(meter_shows), at(before), at(after or before), own_err_ms)


# ---- judging a meter's clock --------------------------------------------------------------------

def test_drift_counts_the_shown_second_and_the_read_window():
    r = reading(A07, "2026-11-23 10:02:00", "2026-11-23 10:00:00.000", "2026-11-23 10:00:00.400")
    assert r.drift_s == pytest.approx(120.3)           # 10:02:00.5 against 10:00:00.2
    assert r.uncertainty_s == pytest.approx(0.2 + 0.5 + 0.02)


def test_meter_within_the_limit_is_ok():
    policy = ClockSyncPolicy()
    check, needs = policy.check(reading(A07, "2026-11-23 10:00:29", "2026-11-23 10:00:00"))
    assert check.status == "ok" and needs is None and not policy.drifted


def test_read_uncertainty_is_counted_in_the_meters_favour():
    policy = ClockSyncPolicy()
    slow = reading(A07, "2026-11-23 10:00:31", "2026-11-23 10:00:00", "2026-11-23 10:00:02")
    check, _ = policy.check(slow)                        # 30.5 s off +-1.52 s: maybe within 30 s
    assert check.status == "ok"


def test_drifted_meter_makes_a_broadcast_due_at_once():
    policy = ClockSyncPolicy(line="socket://x")
    check, needs = policy.check(reading(A07, "2026-11-23 10:02:00", "2026-11-23 10:00:00"))
    assert check.status == "drifted" and needs is None
    decision = policy.poll(at("2026-11-23 10:00:01"), NTP)
    assert isinstance(decision, BroadcastDue) and decision.reason == "drift" and decision.meters == (A07,)
    assert "worst %s at +120 s" % A07 in decision.message


def test_meter_beyond_five_minutes_needs_an_addressed_setting_not_a_broadcast():
    """DL/T 645 §8: meters refuse broadcast corrections over 5 min."""
    policy = ClockSyncPolicy(SyncSettings(daily_at="23:00"))
    check, needs = policy.check(reading(A07, "2026-11-23 10:06:00", "2026-11-23 10:00:00"))
    assert check.status == "beyond-broadcast" and isinstance(needs, NeedsTimeSetting)
    assert "beyond the 300 s a broadcast may correct" in needs.message
    assert "addressed time setting" in needs.message and "on-site" in needs.message
    assert policy.poll(at("2026-11-23 10:00:01"), NTP) is None


def test_meter_behind_is_judged_by_magnitude():
    policy = ClockSyncPolicy()
    check, _ = policy.check(reading(A07, "2026-11-23 09:58:00", "2026-11-23 10:00:00"))
    assert check.status == "drifted" and check.drift_s == pytest.approx(-119.5)


# ---- when to broadcast ----------------------------------------------------------------------------

def test_daily_schedule_at_the_configured_time():
    policy = ClockSyncPolicy(SyncSettings(daily_at="04:30"))
    assert policy.poll(at("2026-11-23 04:29:59"), NTP) is None
    decision = policy.poll(at("2026-11-23 04:30:00"), NTP)
    assert isinstance(decision, BroadcastDue) and decision.reason == "schedule"


def test_once_a_day_per_line():
    """DL/T 645 §8: at most one broadcast a day; a broadcast reaches every meter of the line."""
    policy = ClockSyncPolicy()
    policy.broadcast_sent(at("2026-11-23 03:00:00"))
    assert policy.poll(at("2026-11-23 15:00:00"), NTP) is None
    policy.check(reading(A07, "2026-11-22 23:00:00", "2026-11-22 22:58:00"))    # an old read, before the sync
    decision = policy.poll(at("2026-11-23 15:00:00"), NTP)
    assert isinstance(decision, SyncWithheld) and decision.reason == "once-a-day" and decision.first
    assert policy.poll(at("2026-11-23 15:01:00"), NTP).first is False
    assert isinstance(policy.poll(at("2026-11-24 00:10:00"), NTP), BroadcastDue)   # a new day


def test_meter_still_off_after_todays_broadcast_did_not_take_it():
    policy = ClockSyncPolicy()
    policy.broadcast_sent(at("2026-11-23 03:00:00"))
    check, needs = policy.check(reading(A07, "2026-11-23 03:03:00", "2026-11-23 03:01:00"))
    assert check.status == "sync-not-taken" and needs.reason == "sync-not-taken"
    assert "did not take it" in needs.message and not policy.drifted


@pytest.mark.parametrize("now", ["2026-11-23 23:56:00", "2026-11-24 00:04:59"])
def test_no_broadcast_around_midnight(now):
    """DL/T 645 §8: not around midnight (daily freeze / settlement at 00:00)."""
    policy = ClockSyncPolicy()
    policy.check(reading(A07, now[:11] + "12:02:00", now[:11] + "12:00:00"))
    decision = policy.poll(at(now), NTP)
    assert isinstance(decision, SyncWithheld) and decision.reason == "midnight"
    assert "within 300 s of midnight" in decision.message


def test_no_broadcast_when_the_drifted_meter_itself_is_near_midnight():
    policy = ClockSyncPolicy()
    policy.check(reading(A07, "2026-11-23 23:58:00", "2026-11-23 23:54:00"))     # 240 s ahead
    decision = policy.poll(at("2026-11-23 23:54:01"), NTP)
    assert isinstance(decision, SyncWithheld) and decision.reason == "midnight"


@pytest.mark.parametrize("tq, words", [
    ({"src": "none", "err_ms": None}, "own clock quality is unknown"),
    ({"src": "rtc", "err_ms": 300000}, "own clock error bound 300000 ms (src rtc) exceeds max_own_err_ms 500"),
])
def test_never_sync_meters_to_a_bad_own_clock(tq, words):
    policy = ClockSyncPolicy(line="socket://x")
    policy.check(reading(A07, "2026-11-23 10:02:00", "2026-11-23 10:00:00", own_err_ms=tq["err_ms"] or 0))
    decision = policy.poll(at("2026-11-23 10:00:01"), tq)
    assert isinstance(decision, SyncWithheld) and decision.reason == "own-clock"
    assert words in decision.message and "withheld" in decision.message


def test_meter_clock_is_not_judged_against_an_unknown_own_clock():
    check, needs = ClockSyncPolicy().check(reading(A07, "2026-11-23 10:09:00", "2026-11-23 10:00:00",
                                                   own_err_ms=None))
    assert check.status == "unjudged" and needs is None


def test_settings_are_validated():
    assert SyncSettings.from_table({}).max_correction_s == 300.0
    with pytest.raises(ClockSyncError, match="clocksync.drift is not a clock-sync setting"):
        SyncSettings.from_table({"drift": 5})
    with pytest.raises(ClockSyncError, match="daily_at 00:02 is within 300 s of midnight"):
        SyncSettings(daily_at="00:02")
    with pytest.raises(ClockSyncError, match="must be a local time HH:MM"):
        SyncSettings(daily_at="3 am")
    with pytest.raises(ClockSyncError, match="drift_limit_s 400 s must be below max_correction_s 300 s"):
        SyncSettings(drift_limit_s=400)


def test_local_time_is_utc_plus_the_offset():
    assert local_time(1795453743000, 28800) == at("2026-11-24 01:09:03")   # 17:09:03 UTC


class FakeLine:
    baud = 9600
    _rest_until = 0.0

    def __init__(self):
        self.sent = []

    def wire_time_s(self, n):
        return n * 11 / self.baud

    def broadcast(self, frame):
        self.sent.append(frame)


def test_broadcast_carries_the_second_its_last_byte_arrives_on():
    line, slept = FakeLine(), []
    sent = broadcast_time_sync(line, at("2026-11-23 08:29:59.900"), monotonic=lambda: 10.0, sleep=slept.append)
    assert sent == at("2026-11-23 08:30:00")
    assert slept == [pytest.approx(0.1 - 22 * 11 / 9600)]
    assert line.sent[0].hex(" ") == "fe fe fe fe 68 99 99 99 99 99 99 68 08 06 33 63 3b 56 44 59 38 16"   # W5


# ---- on a simulated bus ---------------------------------------------------------------------------

def _system_clock_as_ntp():
    # The bus simulator's truth is this machine's clock, so against the
    # simulated meters it is exact; we say "ntp" with a small bound.
    return time.time_ns() // 1000000, {"src": "ntp", "err_ms": 20}


@pytest.mark.parametrize("std, address", [("2007", A07), ("1997", A97)])
def test_meter_120_s_ahead_is_found_synced_and_verified(bus_line, meter, std, address):
    bus, line = bus_line([meter(address, std=std, clock_offset_s=120)])
    policy = ClockSyncPolicy(line=line.url)
    first = read_meter_clock(line, address, _system_clock_as_ntp, std=std)
    check, needs = policy.check(first)
    assert check.status == "drifted" and needs is None
    assert 118 < check.drift_s < 122
    t_ms, tq = _system_clock_as_ntp()
    decision = policy.poll(local_time(t_ms, 28800), tq)
    if isinstance(decision, SyncWithheld) and decision.reason == "midnight":
        pytest.skip("this run fell within 5 min of local midnight, when the policy rightly waits")
    assert isinstance(decision, BroadcastDue) and decision.meters == (address,)
    t_ms, _tq = _system_clock_as_ntp()
    policy.broadcast_sent(broadcast_time_sync(line, local_time(t_ms, 28800)))
    again, _ = policy.check(read_meter_clock(line, address, _system_clock_as_ntp, std=std))
    assert abs(bus.meters[address].clock_error_s(bus.sim_now())) < 0.2    # set on the second, not up to 1 s late
    assert again.status == "ok" and abs(again.drift_s) < 1.5
    assert bus.meters[address].sync_refused == 0
    assert read(line, address, 0x04000102 if std == "2007" else 0xC011, std).value   # the line still works
