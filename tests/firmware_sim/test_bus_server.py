"""BusServer on real ptys and TCP sockets, with pyserial as the master."""

import os
import time

import pytest
import serial

from firmware_sim.bus import BusError, BusServer, FaultError
from protocols.dlt645 import FrameExtractor, build_read_request

E_FWD = 0x00010000          # 2007 forward active energy, total (§13.1)
TIME_HMS = 0x04000102       # 2007 meter time hhmmss (§13.4)
A1, A2, A3 = "202311150031", "202311150032", "202311150033"


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_read_returns_the_meters_reply(transport, serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20), meter_config(A2, 20)], transport=transport)
    if transport == "tcp":
        assert bus.url.startswith("socket://127.0.0.1:") and bus.port > 0
    else:
        assert bus.url.startswith("/dev/") and os.path.exists(bus.url)
    port = master(bus)
    ex = exchange(port, build_read_request(A2, E_FWD))
    (frame,) = ex.parsed
    assert frame.is_reply and frame.address == A2 and frame.di == E_FWD
    assert frame.value == pytest.approx(bus.meters[A2].energy(), abs=0.011)
    assert ex.raw.startswith(b"\xfe\xfe\xfe\xfe\x68")       # the meter's 4-FE preamble
    assert bus.stats["requests_seen"] >= 1 and bus.stats["replies_sent"] == 1


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_reply_takes_its_wire_time_and_reply_delay_s16(transport, serve, master, exchange, meter_config):
    # 2400 bit/s 8E1: 20-byte request 92 ms + 50 ms delay + 24-byte reply 110 ms.
    bus = serve([meter_config(A1, 50)], transport=transport, baud=2400)
    port = master(bus)
    req = build_read_request(A1, E_FWD)
    late = []
    for _ in range(3):
        ex = exchange(port, req)
        assert len(ex.frames) == 1
        physical = bus.wire_time_s(len(req) + len(ex.raw)) + 0.050
        elapsed = ex.t_last - ex.t_sent
        assert elapsed >= physical - 0.001
        late.append(elapsed - physical)
        time.sleep(0.02)
    # Generous: a loaded test machine; the benchmark measures it properly.
    assert min(late) < 0.030, late


def test_tcp_accepts_the_next_master_after_a_disconnect(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20)])
    first = master(bus)
    assert len(exchange(first, build_read_request(A1, E_FWD)).frames) == 1
    first.close()
    second = master(bus)
    assert len(exchange(second, build_read_request(A1, E_FWD), timeout_s=3).frames) == 1
    assert bus.stats["connections"] == 2


def test_wildcard_read_three_meters_garble_and_are_counted_s6(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20), meter_config(A2, 22), meter_config(A3, 25)])
    port = master(bus)
    ex = exchange(port, build_read_request("AAAAAAAAAAAA", E_FWD), want=3, timeout_s=0.6)
    assert len(ex.frames) < 3
    assert ex.raw, "the master hears the collision as garbage"
    stats = bus.stats
    assert stats["replies_sent"] == 3 and stats["collisions"] >= 2 and stats["bytes_garbled"] > 0


def test_wildcard_read_with_separated_delays_is_clean(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20), meter_config(A2, 150), meter_config(A3, 280)])
    port = master(bus)
    ex = exchange(port, build_read_request("AAAAAAAAAAAA", E_FWD), want=3)
    assert sorted(f.address for f in ex.parsed) == [A1, A2, A3]
    assert bus.stats["collisions"] == 0


def test_silent_absent_and_back(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20), meter_config(A2, 20)])
    port = master(bus)
    bus.set_fault(A1, "silent")
    assert exchange(port, build_read_request(A1, E_FWD), timeout_s=0.3).frames == []
    assert bus.stats["replies_suppressed"] == 1
    assert len(exchange(port, build_read_request(A2, E_FWD)).frames) == 1     # the others still answer
    bus.clear_fault(A1)
    assert len(exchange(port, build_read_request(A1, E_FWD)).frames) == 1
    bus.set_fault(A1, "absent", for_s=0.5)
    assert [f["kind"] for f in bus.faults(A1)] == ["absent"]
    assert exchange(port, build_read_request(A1, E_FWD), timeout_s=0.3).frames == []
    time.sleep(0.3)
    assert len(exchange(port, build_read_request(A1, E_FWD)).frames) == 1     # came back by itself
    assert bus.faults() == []


def test_slow_meter_answers_later(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20)])
    port = master(bus)
    req = build_read_request(A1, E_FWD)
    fast = exchange(port, req)
    bus.set_fault(A1, "slow", ms=200)
    slow = exchange(port, req)
    assert len(fast.frames) == len(slow.frames) == 1
    assert (slow.t_last - slow.t_sent) - (fast.t_last - fast.t_sent) > 0.180


def test_corrupt_replies_fail_their_checksums(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20)], seed=1)
    port = master(bus)
    bus.set_fault(A1, "corrupt", prob=0.1)
    extractor = FrameExtractor()
    good = 0
    for _ in range(6):
        ex = exchange(port, build_read_request(A1, E_FWD), timeout_s=0.15)
        good += len(extractor.feed(bytes(ex.raw)))
    assert bus.stats["bytes_corrupted"] > 0
    assert good < 6
    assert sum(extractor.discards[k] for k in ("checksum", "bad_header", "end_byte", "noise", "superseded")) > 0


def test_noise_arrives_between_replies_and_a_real_reply_is_still_extracted(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20)])
    port = master(bus)
    # ~5 bursts a second: a 70 ms exchange at 9600 bit/s gets through ~3 times in 4.
    bus.set_fault(None, "noise", rate_per_min=300, burst_bytes=6)
    time.sleep(0.5)
    frames = 0
    noise_seen = 0
    for _ in range(10):
        ex = exchange(port, build_read_request(A1, E_FWD), timeout_s=0.25)
        frames += len(ex.frames)
        noise_seen += ex.extractor.discards["noise"]
        if frames and noise_seen:
            break
    assert frames >= 1
    assert noise_seen > 0 and bus.stats["noise_bytes"] > 0
    bus.clear_fault(None, "noise")


def test_babbler_sends_bytes_unasked(serve, master, meter_config):
    bus = serve([meter_config(A1, 20)])
    port = master(bus)
    bus.set_fault(A1, "babble", period_s=0.1, burst_bytes=5)
    deadline = time.monotonic() + 1.0
    data = b""
    while len(data) < 10 and time.monotonic() < deadline:
        data += port.read(64)
    assert len(data) >= 10 and bus.stats["babble_bytes"] >= 10


def test_time_scale_advances_meter_time_fast(serve, master, exchange, meter_config):
    bus = serve([meter_config(A1, 20)], time_scale=3600, start_utc=1717200000.0)   # 08:00 Beijing
    port = master(bus)
    first = exchange(port, build_read_request(A1, TIME_HMS)).parsed[0].value
    time.sleep(1.0)
    second = exchange(port, build_read_request(A1, TIME_HMS)).parsed[0].value

    def seconds(hms):
        h, m, s = (int(x) for x in hms.split(":"))
        return h * 3600 + m * 60 + s

    assert 3300 < seconds(second) - seconds(first) < 5400     # about an hour per real second
    assert bus.sim_now() - 1717200000.0 > 3600


def test_fault_errors_reach_the_caller(serve, meter_config):
    bus = serve([meter_config(A1, 20)])
    with pytest.raises(FaultError, match="no meter 202311150099"):
        bus.set_fault("202311150099", "silent")
    with pytest.raises(FaultError, match="unknown fault kind"):
        bus.clear_fault(A1, "melt")


def test_bad_meter_config_names_the_meter_and_key(meter_config):
    with pytest.raises(BusError) as err:
        BusServer([meter_config(A1), meter_config(A2, 700)])
    assert err.value.index == 1 and err.value.address == A2 and err.value.key == "reply_delay_ms"
    assert "meter 1" in str(err.value) and "reply_delay_ms" in str(err.value)


def test_stop_is_idempotent_and_closes_the_port(meter_config):
    bus = BusServer([meter_config(A1)], transport="tcp").start()
    url = bus.url
    bus.stop()
    bus.stop()
    assert not bus.running
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url, timeout=0.1)
