"""Simulated meter, back to back with the codec: state, reads and silence rules.

Requests are built with ``protocols.dlt645``, answered by ``Meter.handle`` and
parsed again (h11's ConnectionPair idea). Clauses are DL/T 645 sections of
shared/protocols/dlt645.md.
"""

import datetime
import math
import time

import pytest

from firmware_sim.meter import Meter, MeterConfigError
from protocols.dlt645 import build_frame, build_read_request, decode_value, encode_address

from meter_pair import ADDR, HOUR, NOW, Pair
FLAT = {"address": ADDR, "profile": [1.0] * 24, "load_variation": 0.0, "base_kw": 1.2,
        "history_days": 0, "start_kwh": 100.0}


def flat(**extra):
    cfg = dict(FLAT)
    cfg.update(extra)
    return cfg


def test_contract_attributes_and_defaults():
    m = Meter({"address": ADDR, "history_days": 0}, NOW)
    assert (m.address, m.std, m.reply_delay_ms, m.preamble, m.baud) == (ADDR, "2007", 50, 4, 2400)
    assert m.drift_ppm == 0.0
    assert m.event_counts == {"power_down": 0, "programming": 0, "meter_clear": 0, "demand_reset": 0,
                              "event_clear": 0, "time_setting": 0}
    assert Meter({"address": ADDR, "std": "1997", "history_days": 0}, NOW).baud == 1200


@pytest.mark.parametrize("key, value, expected", [
    ("std", "2005", "2007"),
    ("reply_delay_ms", 10, "20 to 500"),
    ("preamble", 2, "0 or 4"),
    ("tariff_hours", [1] * 23, "24 tariff numbers"),
    ("profile", [1.0] * 24 + [1.0], "24 numbers"),
    ("password", "12345", "6 digits"),
    ("phases", 2, "1 or 3"),
    ("base_kw", 31.0, "0.0 to 30.0"),
    ("daily_freezes_kept", 63, "1 to 62"),
    ("colour", "blue", "meter keys"),
])
def test_config_error_names_key_meter_and_expectation(key, value, expected):
    with pytest.raises(MeterConfigError) as info:
        Meter({"address": ADDR, key: value}, NOW)
    err = info.value
    assert err.key == key and err.address == ADDR
    assert ADDR in str(err) and repr(key) in str(err) and expected in str(err)


def test_config_rejects_peak_power_beyond_the_signed_format():
    """§5: signed XX.XXXX kW reaches 79.9999; the peak hour must stay below it."""
    with pytest.raises(MeterConfigError) as info:
        Meter({"address": ADDR, "base_kw": 30.0, "profile": [3.0] * 24}, NOW)
    assert info.value.key == "base_kw" and "79 kW" in str(info.value)


@pytest.mark.parametrize("address", [None, 202311150042, "20231115004", "99999999999a", "999999999999"])
def test_config_address_is_required_12_digits(address):
    with pytest.raises(MeterConfigError) as info:
        Meter({"address": address} if address is not None else {}, NOW)
    assert info.value.key == "address"


def test_flat_profile_energy_is_hand_computable():
    """1.2 kW for 10 h from 12:00 local: flat 11-17 (5 h), peak 17-19 and 21 (3 h), sharp 19-21 (2 h)."""
    p = Pair(flat())
    start = [p.meter.energy("forward_active", t) for t in range(5)]
    assert start[0] == pytest.approx(100.0)
    assert sum(start[1:]) == pytest.approx(100.0)
    p.meter.advance(NOW + 10 * HOUR)
    grown = [p.meter.energy("forward_active", t) - start[t] for t in range(5)]
    assert grown == pytest.approx([12.0, 2.4, 3.6, 6.0, 0.0])
    assert p.later(10 * HOUR).value(0x00010000) == pytest.approx(112.0, abs=0.01)


def test_start_kwh_is_split_by_profile_share():
    """Flat profile, default TOU day: sharp 2 h, peak 7 h, flat 6 h, valley 9 h of 24."""
    p = Pair(flat())
    got = p.value(0x0001FF00)
    assert got == pytest.approx((100.0, 100 * 2 / 24, 100 * 7 / 24, 100 * 6 / 24, 100 * 9 / 24), abs=0.011)


def test_block_equals_items_and_total_is_sum_of_tariffs():
    """§13.1: DI1 = FF concatenates total, T1..T4; total = T1+..+T4 within display truncation."""
    p = Pair({"address": ADDR, "start_kwh": 5000.0, "history_days": 40})
    for di2 in range(0x00, 0x0B):
        block = p.value(di2 << 16 | 0xFF00)
        items = tuple(p.value(di2 << 16 | t << 8) for t in range(5))
        assert block == items
        assert abs(block[0] - sum(block[1:])) < 0.04 + 1e-9


def test_reactive_and_apparent_follow_power_factor():
    p = Pair(flat(start_kwh=0.0, power_factor=0.8))
    p.later(5 * HOUR)
    fwd = p.value(0x00010000)
    assert p.value(0x00050000) == pytest.approx(fwd * 0.75, abs=0.02)       # tan(acos 0.8) = 0.75
    assert p.value(0x00030000) == p.value(0x00050000)                         # combined 1 = QI + QII
    assert p.value(0x00090000) == pytest.approx(fwd / 0.8, abs=0.02)
    assert p.value(0x00040000) == 0.0
    assert p.value(0x00000000) == fwd                                         # combined = fwd - rev


def test_export_customer_reverse_energy_signed_values():
    """PV export: reverse active and QIII grow; combined active and power go negative (§5 sign bit)."""
    p = Pair(flat(start_kwh=0.0, base_kw=0.5, export_kw=2.0, export_profile=[1.0] * 24))
    p.later(10 * HOUR)
    assert p.value(0x00020000) == pytest.approx(15.0, abs=0.01)
    assert p.value(0x00010000) == 0.0
    assert p.value(0x00000000) == pytest.approx(-15.0, abs=0.01)
    assert p.value(0x00070000) == pytest.approx(15.0 * math.tan(math.acos(0.95)), abs=0.01)
    assert p.value(0x00040000) == p.value(0x00070000)
    assert p.value(0x02030000) == -1.5
    assert p.value(0x02060000) == -0.95
    assert p.value(0x04000501) & 0x30 == 0x30     # word 1: active and reactive reverse
    assert p.value(0x04000502) == 0x77            # word 2: each phase reverse
    assert p.value(0x04000504) & 0x40             # word 4: phase A reverse flow
    raw = p.raw(build_read_request(ADDR, 0x02030000))
    assert raw[-5:-2] == bytes([0x33, 0x83, 0xB4])   # 1.5000 -> 00 50 81, + 0x33


def test_instantaneous_values_are_consistent():
    p = Pair(flat(phase_shares=[1, 1, 2]))
    assert p.value(0x0201FF00) == (220.0, 220.0, 220.0)
    powers = p.value(0x0203FF00)
    assert powers == pytest.approx((1.2, 0.3, 0.3, 0.6))
    currents = p.value(0x0202FF00)
    for i in range(3):
        assert currents[i] == pytest.approx(powers[i + 1] * 1000 / (220.0 * 0.95), abs=0.001)
        assert p.value(0x02020100 + (i << 8)) == currents[i]
    q = p.value(0x0204FF00)
    assert q[0] == pytest.approx(1.2 * math.tan(math.acos(0.95)), abs=0.0001)
    assert p.value(0x0205FF00) == pytest.approx(tuple(x / 0.95 for x in powers), abs=0.0001)
    assert p.value(0x0206FF00) == (0.95, 0.95, 0.95, 0.95)
    assert p.value(0x02070100) == pytest.approx(math.degrees(math.acos(0.95)), abs=0.05)
    assert p.value(0x02800002) == 50.0
    assert p.value(0x02800003) == 1.2
    assert p.value(0x02800001) == pytest.approx(currents[2] - currents[0], abs=0.002)
    assert p.value(0x02800007) == pytest.approx(25.6)
    assert p.value(0x02800008) == 3.6


def test_single_phase_meter_has_phase_a_only():
    p = Pair(flat(phases=1))
    assert p.value(0x0201FF00) == (220.0,)
    assert p.value(0x0203FF00) == pytest.approx((1.2, 1.2))
    assert p.read(0x02010200).error_bits == 0x02
    assert p.value(0x00150000) == pytest.approx(100.0, abs=0.01)
    assert p.read(0x00290000).error_bits == 0x02


def test_phase_energy_splits_forward_total():
    p = Pair(flat(start_kwh=0.0))
    p.later(3 * HOUR)
    assert [p.value(di) for di in (0x00150000, 0x00290000, 0x003D0000)] == [1.2, 1.2, 1.2]
    assert p.value(0x00160000) == 0.0
    assert p.read(0x00150001).error_bits == 0x02     # per phase: current period only


def test_history_400_days_is_fast_and_complete():
    t0 = time.perf_counter()
    m = Meter({"address": ADDR, "start_kwh": 1234.5}, NOW)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    assert len(m.daily_freezes) == 62 and len(m.settlements) == 12
    assert m.daily_freezes[0]["time"] == "2024-06-15T00:00"
    assert m.daily_freezes[-1]["time"] == "2024-04-15T00:00"
    assert m.settlements[0]["time"] == "2024-06-01T00:00"
    assert m.settlements[-1]["time"] == "2023-07-01T00:00"
    assert m.energy() > 1234.5 + 400 * 24 * 1.2 * 0.9


def test_daily_freezes_hold_the_midnight_registers():
    """§13.5: 0506xxNN, DI0 01 = most recent; 3 days installed at 12:00 -> 3 midnights."""
    p = Pair(flat(history_days=3))
    freezes = p.meter.daily_freezes
    assert [f["time"] for f in freezes] == ["2024-06-15T00:00", "2024-06-14T00:00", "2024-06-13T00:00"]
    for n, f in enumerate(freezes, 1):
        hours = 12 + 24 * (3 - n)
        assert f["forward_active"][0] == pytest.approx(100.0 + 1.2 * hours, abs=0.01)
        assert p.value(0x05060100 + n) == f["forward_active"]
        assert p.value(0x05060000 + n) == f["time"]
        assert p.value(0x05060200 + n) == (0.0,) * 5
        assert p.value(0x05060300 + n) == f["combined_reactive_1"]
    assert p.read(0x05060104).error_bits == 0x02
    assert p.value(0x05060901)[0] == (1.2, "2024-06-12T12:15")


def test_older_meter_keeps_seven_daily_freezes():
    p = Pair({"address": ADDR, "history_days": 30, "daily_freezes_kept": 7})
    assert len(p.meter.daily_freezes) == 7
    assert p.read(0x05060107).is_error is False
    assert p.read(0x05060108).error_bits == 0x02


def test_catch_up_reads_over_days_take_freezes():
    p = Pair(flat())
    assert p.meter.daily_freezes == []
    p.later(3 * 24 * HOUR)
    assert p.value(0x05060101)[0] == pytest.approx(100.0 + 1.2 * 60, abs=0.01)
    assert [f["time"][:10] for f in p.meter.daily_freezes] == ["2024-06-18", "2024-06-17", "2024-06-16"]


def test_settlement_values_and_missing_periods():
    """§13.1: DI0 01..0C previous settlement days; missing -> D1/02 alone, FF in a block."""
    p = Pair(flat(history_days=50, settlement_day=1))
    install = NOW - 50 * 24 * HOUR                       # 2024-04-26 12:00 local
    s = p.meter.settlements
    assert [x["time"] for x in s] == ["2024-06-01T00:00", "2024-05-01T00:00"]
    for n, when in ((1, datetime.datetime(2024, 5, 31, 16, 0)), (2, datetime.datetime(2024, 4, 30, 16, 0))):
        hours = (when.replace(tzinfo=datetime.timezone.utc).timestamp() - install) / HOUR
        assert p.value(0x00010000 + n) == pytest.approx(100.0 + 1.2 * hours, abs=0.01)
        assert p.value(0x0001FF00 + n) == s[n - 1]["forward_active"]
    assert p.read(0x00010003).error_bits == 0x02
    history = p.value(0x000100FF)
    assert len(history) == 13 and history[3:] == (None,) * 10
    assert history[0] == p.value(0x00010000)


def test_block_of_blocks_needs_follow_up_frames():
    """0001FFFF = 13 periods x 5 values x 4 bytes = 260 bytes > 200: B1 + 12H/92 (§8, §19)."""
    p = Pair({"address": ADDR, "history_days": 400})
    first = p.read(0x0001FFFF)
    assert first.control == 0xB1 and len(first.payload) == 196
    from protocols.dlt645 import build_follow_up_request
    last = p.ask(build_follow_up_request(ADDR, 0x0001FFFF, 1))
    assert last.control == 0x92 and last.seq == 1 and len(last.payload) == 64
    values = decode_value(0x0001FFFF, first.payload + last.payload)[0]
    assert len(values) == 65
    assert values[0:5] == p.value(0x0001FF00)
    assert values[60:65] == p.value(0x0001FF0C)


def test_max_demand_per_tariff_with_time():
    """§13.2: 15-min windows; a flat 1.2 kW gives 1.2 kW at the first window of each tariff."""
    p = Pair(flat(history_days=1))
    assert p.value(0x01010000) == (1.2, "2024-06-14T12:15")
    assert p.value(0x0101FF00) == ((1.2, "2024-06-14T12:15"), (1.2, "2024-06-14T19:15"),
                                   (1.2, "2024-06-14T17:15"), (1.2, "2024-06-14T12:15"),
                                   (1.2, "2024-06-14T23:15"))
    assert p.value(0x01020000) == (0.0, None)
    assert p.read(0x01010001).error_bits == 0x02
    assert p.value(0x02800004) == 1.2


def test_event_counts_and_params():
    p = Pair(flat(asset_number="HALL-A-42", meter_number="000000000042"))
    for di in (0x03110000, 0x03300000, 0x03300100, 0x03300200, 0x03300300, 0x03300400):
        assert p.value(di) == 0
    assert p.read(0x03300001).error_bits == 0x02
    assert p.value(0x04000401) == ADDR
    assert p.value(0x04000402) == "000000000042"
    assert p.value(0x04000403) == "HALL-A-42"
    assert p.value(0x04000404) == "220V"
    assert p.value(0x04000204) == 4
    assert p.value(0x04000203) == 6     # daily segments of the TOU day
    assert p.value(0x04000103) == 15
    assert p.value(0x04000409) == 1200
    assert p.value(0x04000703) == 2400
    assert p.value(0x04000B01) == "---01T00"
    assert p.value(0x04000503) == 0
    assert p.value(0x04000101) == "2024-06-15"
    assert p.value(0x04000102) == "12:00:00"


@pytest.mark.parametrize("di", [0x04ABCDEF, 0x00010500, 0x01050000, 0x05000101, 0x03300500, 0x0000000D,
                                0x04000C01])
def test_unknown_or_unkept_di_answers_d1_02(di):
    """§10, §19: no requested data -> abnormal reply D1, error byte 02 (W3)."""
    p = Pair(flat())
    f = p.read(di)
    assert (f.control, f.error_bits) == (0xD1, 0x02)


def test_w3_abnormal_reply_bytes():
    p = Pair(flat(preamble=0))
    assert p.raw(build_read_request(ADDR, 0x04ABCDEF)) == bytes.fromhex("68420015112320 68D1013582 16".replace(" ", ""))


def test_w1_forward_total_reply_bytes():
    p = Pair(flat(start_kwh=12345.67, preamble=0))
    reply = p.raw(bytes.fromhex("FEFEFEFE68420015112320681104333334335D16"))
    assert reply == bytes.fromhex("68420015112320689108333334339A7856347D16")


@pytest.mark.parametrize("preamble", [0, 4])
def test_reply_preamble(preamble):
    p = Pair(flat(preamble=preamble))
    reply = p.raw(build_read_request(ADDR, 0x00010000))
    assert reply[:preamble] == b"\xfe" * preamble and reply[preamble] == 0x68


def test_1997_reads():
    """§14: 9010 current, 901F block, 9410 last month, instantaneous B6xx, clock C010/C011."""
    p = Pair(flat(std="1997", history_days=50))
    assert p.value(0x9010) == pytest.approx(100.0 + 1.2 * 50 * 24, abs=0.01)
    assert p.value(0x901F)[0] == p.value(0x9010)
    assert p.value(0x9410) == p.meter.settlements[0]["forward_active"][0]
    assert p.value(0x9810) == p.meter.settlements[1]["forward_active"][0]
    assert p.value(0x9020) == 0.0
    assert p.value(0x9130) == p.value(0x9110)
    assert p.value(0xA010) == 1.2
    assert p.value(0xB010) == "--06-01T00:15"
    assert p.value(0xB611) == 220
    assert p.value(0xB61F) == (220, 220, 220)
    assert p.value(0xB630) == 1.2
    assert p.value(0xB621) == pytest.approx(400 / 220 / 0.95, abs=0.005)
    assert p.value(0xB650) == 0.95
    assert p.value(0xC010) == "2024-06-15"
    assert p.value(0xC011) == "12:00:00"
    assert p.value(0xC032) == ADDR
    assert p.value(0xC117) == "---01T00"
    assert p.value(0xB212) == 0
    f = p.read(0xC123)
    assert (f.control, f.error_bits) == (0xC1, 0x02)


# ---- silence (§6, §10, §19) -----------------------------------------------------

def test_silent_for_other_address_and_broadcast_read():
    p = Pair(flat())
    assert p.raw(build_read_request("202311150043", 0x00010000)) is None
    assert p.raw(build_read_request("999999999999", 0x00010000)) is None


def test_silent_for_replies_seen_on_the_line():
    p = Pair(flat())
    reply = p.raw(build_read_request(ADDR, 0x00010000))
    assert p.raw(reply) is None
    assert p.raw(build_frame(ADDR, 0xD1, b"\x02", 0)) is None


def test_silent_for_bad_checksum_end_byte_and_garbage():
    p = Pair(flat())
    good = bytearray(build_read_request(ADDR, 0x00010000, preamble=0))
    bad_cs = bytearray(good)
    bad_cs[-2] ^= 0xFF
    bad_end = bytearray(good)
    bad_end[-1] = 0x17
    for frame in (bytes(bad_cs), bytes(bad_end), b"", b"\x68" * 12, bytes(range(40)), good[:-1]):
        assert p.meter.handle(frame, NOW) is None
    assert p.meter.errors == 0


def test_silent_for_the_other_edition():
    """§7.2: a 2007 meter ignores 01H, a 1997 meter ignores 11H."""
    p07 = Pair(flat())
    p97 = Pair(flat(std="1997"))
    assert p07.raw(build_read_request(ADDR, 0x9010, "1997")) is None
    assert p97.raw(build_read_request(ADDR, 0x00010000, "2007")) is None
    assert p97.raw(build_frame("AAAAAAAAAAAA", 0x13, b"")) is None


@pytest.mark.parametrize("pattern", ["AAAA11150042", "AAAAAAAAAA42", "20AA11AA00AA", "AAAAAAAAAAAA"])
def test_wildcard_aa_addressing_replies_with_full_address(pattern):
    """§6 shortened addressing: AA bytes match any pair; the reply header has the real address."""
    p = Pair(flat())
    f = p.read(0x00010000, address=pattern)
    assert f.address == ADDR and f.value == pytest.approx(100.0, abs=0.01)
    assert f.raw[1:7] == encode_address(ADDR)


@pytest.mark.parametrize("pattern", ["AAAA11150043", "21AAAAAAAAAA"])
def test_wildcard_that_does_not_match_is_silent(pattern):
    assert Pair(flat()).raw(build_read_request(pattern, 0x00010000)) is None


def test_handle_never_raises_on_random_frames():
    import random
    rng = random.Random(645)
    p = Pair(flat())
    for _ in range(2000):
        control = rng.choice([0x01, 0x02, 0x03, 0x04, 0x08, 0x0A, 0x0C, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14,
                              0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, rng.randrange(256)])
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 30)))
        address = rng.choice([ADDR, "AAAAAAAAAAAA", "999999999999"])
        reply = p.meter.handle(build_frame(address, control, data, 0), NOW)
        assert reply is None or isinstance(reply, bytes)
    assert p.meter.errors == 0, repr(p.meter.last_error)


@pytest.mark.parametrize("std", ["2007", "1997"])
def test_every_registry_di_answers_a_decodable_value_or_d1_02(std):
    """§19: every DI the registry names gets a normal reply that decodes, or the no-data error.

    Daily/other freezes are sampled at DI0 01, 02 and 3E to keep the test fast.
    """
    from protocols.dlt645 import known_items
    p = Pair({"address": ADDR, "std": std, "history_days": 400, "export_kw": 1.0})
    answered = 0
    for item in known_items(std):
        if std == "2007" and item.di >> 24 == 0x05 and item.di & 0xFF not in (0x01, 0x02, 0x3E):
            continue
        f = p.read(item.di)
        assert f is not None, item
        if f.is_error:
            assert f.error_bits == 0x02, item
        else:
            assert f.di == item.di
            assert f.value is not None or f.has_more or set(f.payload) == {0xFF}, item   # FF = not set
            answered += 1
    assert answered > (200 if std == "1997" else 1000)
    assert p.meter.errors == 0
