"""``Bus.advance`` / ``BusServer.advance``: days of meter time in a moment.

The meters take the daily freezes of every midnight the jump passes over
(catch-up), so a master that reads the freeze history afterwards finds one
freeze per day, stamped with that day's midnight.
"""

import datetime

import pytest

from firmware_sim.bus import Bus, BusConfigError
from firmware_sim.meter import Meter
from protocols.dlt645 import FrameExtractor, build_read_request, parse_frame

T0 = 1000.0
A1 = "202311150031"
# 2024-06-01 10:00 Beijing time (UTC+8).
UTC0 = datetime.datetime(2024, 6, 1, 2, 0, tzinfo=datetime.timezone.utc).timestamp()


def make_bus():
    meter = Meter({"address": A1, "reply_delay_ms": 30, "preamble": 4, "history_days": 1}, UTC0)
    return Bus([meter], baud=9600, t0=T0, start_utc=UTC0, seed=645), meter


def ask(bus, name, t):
    """One read through the core at monotonic time ``t``; the parsed reply's value."""
    bus.feed(build_read_request(A1, name), t)
    data = b""
    while True:
        due = bus.next_due()
        if due is None:
            break
        data += bus.pop_due(due)
    frames = [parse_frame(f) for f in FrameExtractor().feed(data)]
    replies = [f for f in frames if f.is_reply]
    assert len(replies) == 1, frames
    return replies[0].value


def test_advance_jumps_the_meters_over_midnights_and_they_freeze_each():
    bus, meter = make_bus()
    before = len(meter.daily_freezes)
    assert ask(bus, "daily_freeze_time_1", T0) == "2024-06-01T00:00"
    bus.advance(3 * 86400)
    assert bus.sim_now(T0 + 1.0) == pytest.approx(UTC0 + 3 * 86400 + 1.0)
    # 2024-06-04 10:00: the freezes of the 2nd, 3rd and 4th midnight, newest first.
    assert [ask(bus, "daily_freeze_time_%d" % k, T0 + k) for k in (1, 2, 3, 4)] == [
        "2024-06-04T00:00", "2024-06-03T00:00", "2024-06-02T00:00", "2024-06-01T00:00"]
    assert len(meter.daily_freezes) == before + 3
    frozen = ask(bus, "daily_freeze_forward_active_2", T0 + 5)
    assert frozen == meter.daily_freezes[1]["forward_active"]
    # The energy of the three days went into the register: it only grew.
    assert meter.daily_freezes[0]["forward_active"][0] > meter.daily_freezes[3]["forward_active"][0]


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), True, "60", 3661 * 86400])
def test_advance_refuses_a_bad_span_and_changes_nothing(seconds):
    bus, _meter = make_bus()
    with pytest.raises(BusConfigError, match="advance needs seconds from 0 to") as info:
        bus.advance(seconds)
    assert info.value.key == "seconds"
    assert bus.sim_now(T0) == UTC0


def test_server_advance_moves_its_simulation_clock(serve, meter_config):
    bus = serve([meter_config(A1, 20)])
    start = bus.sim_now()
    bus.advance(86400)
    assert 86400 <= bus.sim_now() - start < 86400 + 30
    with pytest.raises(BusConfigError):
        bus.advance(-5)
