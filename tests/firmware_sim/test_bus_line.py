"""The sans-I/O bus core: wire timing, collisions, faults (no ports, no sleeps).

Times are made up monotonic seconds; the tests drive ``Bus`` the way the
server does: feed, then pop at each ``next_due``.
"""

import pytest

from firmware_sim.bus import FAULT_KINDS, Bus, BusConfigError, FaultError
from firmware_sim.bus._wire import Receiver, Wire
from firmware_sim.meter import Meter
from protocols.dlt645 import (FrameExtractor, build_read_request, build_time_sync, parse_frame)

E_FWD = 0x00010000          # 2007 forward active energy, total (§13.1)
E_FWD_1997 = 0x9010         # 1997 forward active energy, total (§14)
T0 = 1000.0
UTC0 = 1717200000.0     # 2024-06-01T00:00:00Z
A1, A2, A3 = "202311150031", "202311150032", "202311150033"


def meter_config(address, delay_ms=30, std="2007"):
    return {"address": address, "std": std, "reply_delay_ms": delay_ms, "preamble": 4, "history_days": 1}


def make_bus(delays=(30,), baud=2400, **kwargs):
    meters = [Meter(meter_config("2023111500%02d" % (31 + i), d), UTC0) for i, d in enumerate(delays)]
    kwargs.setdefault("seed", 645)
    return Bus(meters, baud=baud, t0=T0, start_utc=UTC0, **kwargs)


def run(bus, until):
    """Pop everything due up to ``until``; list of (due time, bytes)."""
    out = []
    while True:
        due = bus.next_due()
        if due is None or due > until:
            return out
        data = bus.pop_due(due)
        if data:
            out.append((due, data))


def joined(chunks):
    return b"".join(data for _, data in chunks)


def frames_of(data):
    return [parse_frame(f) for f in FrameExtractor().feed(data)]


# ---- wire time (DL/T 645 §1, §16) ---------------------------------------------

def test_byte_time_is_11_bits_at_8e1_dlt645_s1():
    assert make_bus(baud=2400).byte_time_s == pytest.approx(11 / 2400, abs=1e-9)       # 4.583 ms
    assert make_bus(baud=9600).byte_time_s == pytest.approx(11 / 9600, abs=1e-9)       # 1.146 ms
    assert make_bus(baud=1200, bits_per_byte=10).byte_time_s == pytest.approx(10 / 1200, abs=1e-9)


def test_reply_starts_reply_delay_after_request_end_s16():
    bus = make_bus(delays=(50,))
    req = build_read_request(A1, E_FWD)
    bus.feed(req, T0 + 1.0)
    chunks = run(bus, T0 + 5)
    reply = joined(chunks)
    (frame,) = frames_of(reply)
    assert frame.address == A1 and frame.di == E_FWD and frame.is_reply
    b = bus.byte_time_s
    req_end = T0 + 1.0 + len(req) * b
    # Each byte is due when its stop bit is out: first at +1 byte, last at +len.
    assert chunks[0][0] == pytest.approx(req_end + 0.050 + b, abs=1e-6)
    assert chunks[-1][0] == pytest.approx(req_end + 0.050 + len(reply) * b, abs=1e-6)
    assert len(chunks) == len(reply)       # one byte per slot, none early
    assert bus.stats["requests_seen"] == 1 and bus.stats["replies_sent"] == 1


def test_request_delivered_in_pieces_still_takes_its_wire_time():
    bus = make_bus(delays=(20,))
    req = build_read_request(A1, E_FWD)
    # A pty hands the request over in three reads within 2 ms; the wire needs 92 ms.
    bus.feed(req[:7], T0)
    bus.feed(req[7:15], T0 + 0.001)
    bus.feed(req[15:], T0 + 0.002)
    chunks = run(bus, T0 + 5)
    assert chunks[0][0] == pytest.approx(T0 + (len(req) + 1) * bus.byte_time_s + 0.020, abs=1e-6)
    assert len(frames_of(joined(chunks))) == 1


def test_master_pause_inside_a_request_shifts_its_end():
    bus = make_bus(delays=(20,))
    req = build_read_request(A1, E_FWD)
    bus.feed(req[:10], T0)
    bus.feed(req[10:], T0 + 0.3)         # 300 ms gap, under the 500 ms inter-byte timeout
    chunks = run(bus, T0 + 5)
    assert chunks[0][0] == pytest.approx(T0 + 0.3 + (len(req) - 10 + 1) * bus.byte_time_s + 0.020, abs=1e-6)


def test_nothing_is_due_on_a_quiet_line():
    bus = make_bus()
    assert bus.next_due() is None
    assert bus.pop_due(T0 + 10) == b""


def test_broadcast_gets_no_reply_but_is_seen():
    bus = make_bus(delays=(20, 30))
    bus.feed(build_time_sync("2024-06-01T08:00:00"), T0)
    assert run(bus, T0 + 5) == []
    assert bus.stats["requests_seen"] == 1 and bus.stats["replies_sent"] == 0


# ---- simulation clock -----------------------------------------------------------

class Recorder:
    """A meter wrapper that records the now_s it is given."""

    def __init__(self, meter):
        self.meter = meter
        self.seen = []

    def __getattr__(self, name):
        return getattr(self.meter, name)

    def handle(self, frame, now_s):
        self.seen.append(now_s)
        return self.meter.handle(frame, now_s)


def test_time_scale_runs_meter_time_fast():
    meter = Recorder(Meter(meter_config(A1, 20), UTC0))
    bus = Bus([meter], baud=9600, t0=T0, start_utc=UTC0, time_scale=3600)
    assert bus.sim_now(T0 + 2.0) == pytest.approx(UTC0 + 7200, abs=1e-6)
    req = build_read_request(A1, 0x04000102)       # meter time hhmmss (§13.4)
    bus.feed(req, T0 + 1.0)
    reply = joined(run(bus, T0 + 3))
    end = T0 + 1.0 + len(req) * bus.byte_time_s
    # The request at its last byte (then its own reply, heard on the line).
    assert meter.seen[0] == pytest.approx(UTC0 + (end - T0) * 3600, abs=1e-3)
    (frame,) = frames_of(reply)
    # Local time (UTC+8) an hour and a bit after 08:00:00.
    assert frame.value.startswith("09:")


# ---- collisions ---------------------------------------------------------------

def test_overlapping_bytes_are_anded_and_parity_errors_read_as_zero():
    wire = Wire(byte_ns=1000)
    wire.add("a", "reply", 0, bytes([0x0F, 0x68, 0x55, 0x16]))
    wire.add("b", "reply", 1000, bytes([0x03, 0xFF]))       # over bytes 1 and 2 exactly
    rx = Receiver(wire)
    got = []
    while True:
        ch = rx.take(10 ** 9)
        if ch is None:
            break
        got.append(ch)
    # Byte 0 alone: intact. 0x68 & 0x03 = 0x00 (parity 1&0 = 0, even: ok).
    # 0x55 & 0xFF = 0x55 but parity bits 0&0 = 0 with 4 ones: ok -> 0x55.
    assert [c.value for c in got] == [0x0F, 0x00, 0x55, 0x16]
    assert [c.collided for c in got] == [False, True, True, False]
    assert wire.collisions == 1


def test_collision_that_keeps_the_data_bits_still_fails_parity():
    wire = Wire(byte_ns=1000)
    wire.add("a", "reply", 0, bytes([0x68]))        # 3 ones: parity bit 1
    wire.add("b", "noise", 300, bytes([0xFF]))      # 8 ones: parity bit 0, misaligned
    (ch,) = [Receiver(wire).take(10 ** 9)]
    assert ch.collided and ch.parity_error and ch.value == 0x00


def test_misaligned_transmission_is_swallowed_while_a_character_is_in_progress():
    wire = Wire(byte_ns=1000)
    wire.add("a", "reply", 0, bytes([0xFF, 0xFF, 0xFF]))
    wire.add("b", "reply", 1500, bytes([0x81, 0x81, 0x81, 0x7E]))   # runs 1500..5500
    rx = Receiver(wire)
    got = []
    ch = rx.take(10 ** 9)
    while ch is not None:
        got.append((ch.end_ns, ch.value))
        ch = rx.take(10 ** 9)
    # The receiver follows a's slots while a lasts, then b's remaining slots.
    assert [t for t, _ in got] == [1000, 2000, 3000, 4500, 5500]
    assert got[-1][1] == 0x7E


def test_wildcard_read_answered_by_three_meters_is_garbled_s6():
    bus = make_bus(delays=(20, 25, 30))
    bus.feed(build_read_request("AAAAAAAAAAAA", E_FWD), T0)
    data = joined(run(bus, T0 + 5))
    assert bus.stats["replies_sent"] == 3
    assert len(frames_of(data)) < 3
    assert bus.stats["collisions"] >= 2
    assert bus.stats["bytes_garbled"] > 0
    # A real line never delivers more characters than fit in the time.
    assert len(data) < 3 * 24


def test_meters_with_well_separated_delays_answer_a_wildcard_cleanly():
    bus = make_bus(delays=(20, 200, 400), baud=9600)
    bus.feed(build_read_request("AAAAAAAAAAAA", E_FWD), T0)
    frames = frames_of(joined(run(bus, T0 + 5)))
    assert sorted(f.address for f in frames) == [A1, A2, A3]
    assert bus.stats["collisions"] == 0 and bus.stats["bytes_garbled"] == 0


def test_request_sent_into_a_reply_collides_and_goes_unanswered():
    bus = make_bus(delays=(20,))
    req = build_read_request(A1, E_FWD)
    b = bus.byte_time_s
    bus.feed(req, T0)
    first = run(bus, T0 + len(req) * b + 0.020 + 3 * b)     # the reply has begun
    assert first
    bus.feed(build_read_request(A1, 0x04000102), T0 + len(req) * b + 0.020 + 3 * b)
    rest = joined(run(bus, T0 + 5))
    assert bus.stats["requests_seen"] == 1          # the second request was garbled for the meter
    assert bus.stats["collisions"] == 1
    assert frames_of(joined(first) + rest) == []    # and the reply garbled for the master


# ---- faults -------------------------------------------------------------------

def test_silent_meter_hears_but_never_answers():
    bus = make_bus(delays=(20, 30))
    bus.set_fault(A1, "silent", T0)
    bus.feed(build_read_request(A1, E_FWD), T0)
    assert run(bus, T0 + 5) == []
    assert bus.stats["replies_suppressed"] == 1
    bus.feed(build_read_request(A2, E_FWD), T0 + 6)
    assert [f.address for f in frames_of(joined(run(bus, T0 + 10)))] == [A2]


def test_absent_meter_comes_back_after_for_s():
    bus = make_bus(delays=(20,))
    bus.set_fault(A1, "absent", T0, for_s=10)
    assert bus.faults(T0)[0]["kind"] == "absent"
    bus.feed(build_read_request(A1, E_FWD), T0 + 1)
    assert run(bus, T0 + 5) == []
    assert bus.stats["replies_suppressed"] == 0      # it did not even hear it
    bus.feed(build_read_request(A1, E_FWD), T0 + 11)
    assert len(frames_of(joined(run(bus, T0 + 15)))) == 1
    assert bus.faults(T0 + 15) == []


def test_fault_after_s_waits_before_taking_effect():
    bus = make_bus(delays=(20,))
    bus.set_fault(A1, "absent", T0, after_s=5)
    bus.feed(build_read_request(A1, E_FWD), T0 + 1)
    assert len(frames_of(joined(run(bus, T0 + 3)))) == 1
    bus.feed(build_read_request(A1, E_FWD), T0 + 6)
    assert run(bus, T0 + 9) == []


def test_slow_fault_adds_to_the_reply_delay():
    bus = make_bus(delays=(20,))
    bus.set_fault(A1, "slow", T0, ms=300)
    req = build_read_request(A1, E_FWD)
    bus.feed(req, T0)
    chunks = run(bus, T0 + 5)
    assert chunks[0][0] == pytest.approx(T0 + (len(req) + 1) * bus.byte_time_s + 0.320, abs=1e-6)
    bus.clear_fault(A1, "slow", T0 + 5)
    bus.feed(req, T0 + 6)
    assert run(bus, T0 + 9)[0][0] == pytest.approx(T0 + 6 + (len(req) + 1) * bus.byte_time_s + 0.020, abs=1e-6)


def test_corrupt_flips_bits_reproducibly_and_breaks_checksums():
    def bytes_seen(seed):
        bus = make_bus(delays=(20,), seed=seed)
        bus.set_fault(A1, "corrupt", T0, prob=0.2)
        extractor = FrameExtractor()
        data = bytearray()
        for i in range(10):
            bus.feed(build_read_request(A1, E_FWD), T0 + i)
            data += joined(run(bus, T0 + i + 0.9))
        extractor.feed(bytes(data))
        return bytes(data), bus.stats, extractor

    data, stats, extractor = bytes_seen(7)
    assert stats["bytes_corrupted"] > 0
    assert extractor.frames < 10
    assert extractor.discards["checksum"] + extractor.discards["bad_header"] + extractor.discards["noise"] > 0
    assert bytes_seen(7)[0] == data            # same seed, same damage
    assert bytes_seen(8)[0] != data


def test_noise_bursts_arrive_at_the_rate_and_replies_survive_between():
    bus = make_bus(delays=(20,), baud=9600)
    bus.set_fault(None, "noise", T0, rate_per_min=600, burst_bytes=4)    # ~10 bursts a second
    extractor = FrameExtractor()
    frames = []
    for i in range(20):
        bus.feed(build_read_request(A1, E_FWD), T0 + i * 0.5)
        frames += extractor.feed(joined(run(bus, T0 + i * 0.5 + 0.49)))
    stats = bus.stats
    assert 100 * 4 * 0.5 < stats["noise_bytes"] < 100 * 4 * 1.5       # 10 s at ~10 bursts/s
    assert extractor.discards["noise"] > 0
    assert len(frames) >= 10                                          # most reads get through


def test_babbler_sends_garbage_every_period():
    bus = make_bus(delays=(20,))
    bus.set_fault(A1, "babble", T0, period_s=1.0, burst_bytes=8)
    data = joined(run(bus, T0 + 10.5))
    assert bus.stats["babble_bytes"] in (80, 88)
    assert len(data) == bus.stats["babble_bytes"]
    bus.clear_fault(A1)
    assert run(bus, T0 + 20) == []


def test_noise_stops_when_its_window_ends():
    bus = make_bus()
    bus.set_fault(None, "noise", T0, rate_per_min=6000, for_s=1)
    run(bus, T0 + 5)
    n = bus.stats["noise_bytes"]
    assert n > 0
    assert bus.next_due() is None and bus.faults(T0 + 5) == []


def test_drift_and_clock_error_go_to_the_meter_and_clear_restores():
    bus = make_bus()
    meter = bus.meters[A1]
    bus.set_fault(A1, "drift", T0, ppm=500)
    assert meter.drift_ppm == 500
    bus.set_fault(A1, "clock_error", T0, error_s=-120)
    assert meter.clock_error_s(UTC0) == pytest.approx(-120, abs=1)
    assert bus.clear_fault(A1, now=T0) == 2
    assert meter.drift_ppm == 0
    assert meter.clock_error_s(UTC0) == pytest.approx(0, abs=1)


@pytest.mark.parametrize("address,kind,params,key", [
    (A1, "melt", {}, None),
    (A1, "slow", {}, "ms"),
    (A1, "slow", {"ms": "300"}, "ms"),
    (A1, "corrupt", {"prob": 1.5}, "prob"),
    (A1, "silent", {"volume": 3}, "volume"),
    ("999999999999", "silent", {}, "address"),
    (None, "silent", {}, "address"),
    (A1, "noise", {"rate_per_min": 5}, "address"),
    (A1, "drift", {"ppm": 5, "for_s": 3}, "for_s"),
    (A1, "babble", {"burst_bytes": 2.5}, "burst_bytes"),
])
def test_bad_fault_is_refused_and_changes_nothing(address, kind, params, key):
    bus = make_bus()
    with pytest.raises(FaultError) as err:
        bus.set_fault(address, kind, T0, **params)
    assert err.value.key == key
    assert kind in str(err.value)
    assert bus.faults(T0) == []


def test_every_fault_kind_is_described():
    for kind, (scope, params, text) in FAULT_KINDS.items():
        assert scope in ("meter", "line") and text


def test_a_meter_that_raises_is_counted_and_the_others_still_answer():
    class Broken:
        address = "000000000001"
        reply_delay_ms = 20
        drift_ppm = 0.0

        def handle(self, frame, now_s):
            raise RuntimeError("firmware bug")

    ok = Meter(meter_config(A1, 40), UTC0)
    bus = Bus([Broken(), ok], baud=9600, t0=T0, start_utc=UTC0)
    bus.feed(build_read_request(A1, E_FWD), T0)
    assert len(frames_of(joined(run(bus, T0 + 2)))) == 1
    assert bus.stats["meter_errors"] == 2       # the request, then the reply it heard
    assert bus.last_meter_error == ("000000000001", "RuntimeError: firmware bug")


def test_two_meters_with_one_address_are_refused():
    m = [Meter(meter_config(A1), UTC0), Meter(meter_config(A1), UTC0)]
    with pytest.raises(BusConfigError, match="already used") as err:
        Bus(m)
    assert err.value.index == 1 and err.value.key == "address"


@pytest.mark.parametrize("kwargs,key", [({"baud": 0}, "baud"), ({"baud": 2400.5}, "baud"),
                                        ({"bits_per_byte": 8}, "bits_per_byte"),
                                        ({"time_scale": 0}, "time_scale")])
def test_bad_line_settings_are_refused(kwargs, key):
    with pytest.raises(BusConfigError) as err:
        Bus([], **kwargs)
    assert err.value.key == key


def test_1997_and_2007_meters_share_the_line():
    m = [Meter(meter_config(A1, 20), UTC0), Meter(meter_config("000009310421", 40, std="1997"), UTC0)]
    bus = Bus(m, baud=9600, t0=T0, start_utc=UTC0)
    bus.feed(build_read_request("000009310421", E_FWD_1997, std="1997"), T0)
    (frame,) = frames_of(joined(run(bus, T0 + 2)))
    assert frame.std == "1997" and frame.address == "000009310421"
