"""Reading simulated meters over real TCP sockets and ptys (DL/T 645 §8, §9, §16)."""

import pytest

from concentrator._errors import AbnormalReply, ChecksumFailure, ReplyTimeout
from concentrator._reader import read


A07 = "202311150042"
A97 = "000009310421"


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_read_energy_matches_the_meters_own_register(bus_line, meter, transport):
    bus, line = bus_line([meter(A07, start_kwh=12345.67)], transport=transport)
    reading = read(line, A07, 0x00010000)
    held = bus.meters[A07].energy("forward_active")
    assert reading.name == "forward_active_total" and reading.unit == "kWh"
    assert abs(reading.value - held) < 0.011          # the meter shows 0.01 kWh
    assert reading.value >= 12345.67
    assert reading.frames == 1


def test_read_1997_meter(bus_line, meter):
    bus, line = bus_line([meter(A97, std="1997", start_kwh=2463.48)])
    reading = read(line, A97, 0x9010, std="1997")
    assert reading.std == "1997" and reading.unit == "kWh"
    assert abs(reading.value - bus.meters[A97].energy("forward_active")) < 0.011


def test_read_voltage_block_of_three_phases(bus_line, meter):
    bus, line = bus_line([meter(A07, voltage_v=230.0)])
    reading = read(line, A07, 0x0201FF00)
    assert len(reading.value) == 3
    assert all(200 < v < 260 for v in reading.value)


def test_unknown_di_is_an_abnormal_reply_with_its_meaning(bus_line, meter):
    _bus, line = bus_line([meter(A07)])
    with pytest.raises(AbnormalReply) as info:
        read(line, A07, 0x04A00000)
    assert info.value.error_bits & 0x02
    assert "no requested data" in str(info.value)
    assert str(info.value).startswith("meter %s answered abnormal reply D1H" % A07)


def test_silent_meter_times_out_after_the_retries(bus_line, meter):
    bus, line = bus_line([meter(A07)], timeout_s=0.15)
    bus.set_fault(A07, "silent")
    with pytest.raises(ReplyTimeout) as info:
        read(line, A07, 0x00010000, retries=2)
    assert str(info.value).startswith("no reply from %s on socket://" % A07)
    assert str(info.value).endswith("within 0.15 s, 3 attempts")
    assert bus.stats["requests_seen"] == 3       # the first try and two retries


def test_corrupted_replies_are_reported_as_checksum_failures(bus_line, meter):
    bus, line = bus_line([meter(A07)], timeout_s=0.15)
    bus.set_fault(A07, "corrupt", prob=1.0)
    with pytest.raises(ReplyTimeout) as info:
        read(line, A07, 0x00010000, retries=1)
    # Every byte has a flipped bit: the reply is lost, and the error says
    # something arrived rather than plain silence.
    assert isinstance(info.value, ChecksumFailure) or "noise" in str(info.value)


def test_only_the_addressed_meter_answers_on_a_shared_line(bus_line, meter):
    others = [meter("2023111500%02d" % i) for i in range(30, 40)]
    bus, line = bus_line(others + [meter(A07, start_kwh=500.0)])
    reading = read(line, A07, 0x00010000)
    assert reading.address == A07 and reading.value >= 500.0
    assert bus.stats["collisions"] == 0


def test_long_block_arrives_in_follow_up_frames_and_is_joined(bus_line, meter):
    bus, line = bus_line([meter(A07, start_kwh=1000.0, history_days=40)])
    # Forward active, total and four tariffs, current and 12 settlement periods:
    # 65 values x 4 bytes = 260 bytes, more than one frame carries (§19).
    reading = read(line, A07, 0x0001FFFF)
    assert reading.frames >= 2
    # elapsed covers every frame: at least each request's and reply's wire time
    assert reading.elapsed_s >= reading.frames * line.wire_time_s(20 + 16)
    assert len(reading.value) == 65
    current_total = reading.value[0]
    assert abs(current_total - bus.meters[A07].energy("forward_active")) < 0.011


def test_shortened_address_reads_the_one_meter_it_selects(bus_line, meter):
    _bus, line = bus_line([meter(A07), meter("202311150031")])
    reading = read(line, "AAAAAAAAAA42", 0x00010000)
    assert reading.address == A07
