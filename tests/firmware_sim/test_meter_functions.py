"""Simulated meter: every function code of both editions, passwords, clock and events.

Back to back with the codec (requests built and replies parsed by
``protocols.dlt645``). Clauses are DL/T 645 sections of
shared/protocols/dlt645.md; §8/§9 layouts, §10 error bits, §11 passwords.
"""

import datetime

import pytest

from firmware_sim.meter import MeterError
from protocols.dlt645 import (build_change_password_request, build_change_rate_request, build_control_request,
                              build_demand_reset_request, build_event_clear_request, build_follow_up_request,
                              build_frame, build_freeze_request, build_meter_clear_request,
                              build_read_address_request, build_read_request, build_reread_request,
                              build_time_sync, build_write_address_request, build_write_request, decode_value)

from meter_pair import ADDR, HOUR, NOW, Pair
PW = (2, "123456")
OP = "12345678"


def pair(**extra):
    """A meter with a flat load, password 123456 and no preamble, back to back with a master."""
    cfg = {"address": ADDR, "profile": [1.0] * 24, "load_variation": 0.0, "history_days": 1,
           "start_kwh": 100.0, "password": "123456", "preamble": 0}
    cfg.update(extra)
    return Pair(cfg)


def _local(text):
    """Local Beijing text -> UTC epoch seconds."""
    dt = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    return dt.timestamp()


# ---- 2007 ------------------------------------------------------------------------

def test_13h_read_address_w4_bytes():
    """§8 13H / W4: to AA..AA, the reply carries the address in header and data."""
    p = pair()
    assert p.raw(bytes.fromhex("68AAAAAAAAAAAA681300DF16")) == bytes.fromhex(
        "68420015112320689306753348445653F116")
    assert p.ask(build_read_address_request()).value == ADDR


def test_14h_write_time_w9_and_time_setting_event():
    """§8 14H / W9: password level 02 123456, operator 12345678, time 08:30:00; reply 94 L=0."""
    p = pair()
    reply = p.raw(bytes.fromhex("68420015112320681 40F35343337358967 45AB89674533633B8C16".replace(" ", "")))
    assert reply == bytes.fromhex("68420015112320689400 0F16".replace(" ", ""))
    assert p.value(0x04000102) == "08:30:00"
    assert p.value(0x04000101) == "2024-06-15"
    assert p.value(0x03300400) == 1
    operator, before, after = p.value(0x03300401)
    assert (operator, before, after) == (OP, "2024-06-15T12:00:00", "2024-06-15T08:30:00")
    assert p.meter.clock_error_s(NOW) == pytest.approx(-3.5 * HOUR)


def test_14h_write_date_keeps_time_of_day():
    p = pair()
    assert p.ask(build_write_request(ADDR, 0x04000101, "2024-06-20", PW, OP)).control == 0x94
    assert (p.value(0x04000101), p.value(0x04000102)) == ("2024-06-20", "12:00:00")


def test_14h_wrong_password_is_error_bit_2():
    """§10/§11: wrong password -> D4 with bit 2; the value does not change."""
    p = pair()
    f = p.ask(build_write_request(ADDR, 0x04000102, "08:30:00", (2, "000000"), OP))
    assert (f.control, f.error_bits) == (0xD4, 0x04)
    f = p.ask(build_write_request(ADDR, 0x04000102, "08:30:00", (4, "123456"), OP))
    assert f.error_bits == 0x04
    assert p.value(0x04000102) == "12:00:00"


def test_14h_parameters_and_programming_event():
    p = pair()
    assert p.ask(build_write_request(ADDR, 0x04000402, "000000000777", PW, OP)).control == 0x94
    assert p.ask(build_write_request(ADDR, 0x04000403, "ASSET-7", PW, OP)).control == 0x94
    assert p.ask(build_write_request(ADDR, 0x04000B01, "---15T00", PW, OP)).control == 0x94
    assert p.value(0x04000402) == "000000000777"
    assert p.value(0x04000403) == "ASSET-7"
    assert p.value(0x04000B01) == "---15T00"
    assert p.value(0x03300000) == 3
    when, operator, data = p.value(0x03300001)
    assert (when, operator, data[:4]) == ("2024-06-15T12:00:00", OP, bytes.fromhex("010B0004"))
    f = p.ask(build_write_request(ADDR, 0x04000409, 1000, PW, OP))       # constants are read-only
    assert (f.control, f.error_bits) == (0xD4, 0x01)
    f = p.ask(build_write_request(ADDR, 0x04ABCDEF, b"\x01", PW, OP))
    assert f.error_bits == 0x02


def test_15h_write_address_only_in_programming_state():
    """§8 15H: accepted only with the programming key; otherwise the meter stays silent."""
    p = pair()
    assert p.raw(build_write_address_request("202311150099")) is None
    p.meter.programming = True
    assert p.value(0x04000503) & 0x08
    f = p.ask(build_write_address_request("202311150099"))
    assert (f.control, f.address) == (0x95, "202311150099")
    assert p.meter.address == "202311150099"
    assert p.read(0x00010000) is None
    assert p.read(0x00010000, address="202311150099").value == pytest.approx(100.0 + 28.8, abs=0.01)


def test_16h_freeze_now_and_broadcast_freeze():
    """§8 16H: 99999999 freezes now (0501xxNN); to 99..99 it acts without reply."""
    p = pair()
    assert p.ask(build_freeze_request(ADDR)).control == 0x96
    assert p.value(0x05010001) == "2024-06-15T12:00"
    assert p.value(0x05010101) == p.value(0x0001FF00)
    p.later(HOUR)
    assert p.raw(build_freeze_request("999999999999")) is None
    assert p.value(0x05010001) == "2024-06-15T13:00"
    assert p.value(0x05010002) == "2024-06-15T12:00"
    assert p.ask(build_freeze_request(ADDR, "99991200")).control == 0x96    # daily schedule: kept
    assert p.meter.freeze_spec == "99991200"


def test_17h_change_rate_then_refused_rate():
    """§8 17H / §12: reply 97 with the same Z, then the meter's rate changes; refused -> D7/08."""
    p = pair()
    f = p.ask(build_change_rate_request(ADDR, 9600))
    assert (f.control, f.data, f.value) == (0x97, b"\x20", 9600)
    assert p.meter.baud == 9600
    f = p.ask(build_change_rate_request(ADDR, 19200))
    assert (f.control, f.error_bits) == (0xD7, 0x08)
    assert p.meter.baud == 9600
    assert p.value(0x04000703) == 9600


def test_18h_change_password():
    """§8 18H: DI 04000C01 + level, old, new; reply 98 with the new password."""
    p = pair()
    f = p.ask(build_change_password_request(ADDR, PW, (4, "654321")))
    assert (f.control, f.new_password) == (0x98, (4, "654321"))
    assert p.ask(build_write_request(ADDR, 0x04000102, "09:00:00", (4, "654321"), OP)).control == 0x94
    f = p.ask(build_change_password_request(ADDR, (2, "999999"), (4, "111111")))
    assert (f.control, f.error_bits) == (0xD8, 0x04)
    f = p.ask(build_change_password_request(ADDR, (4, "654321"), (1, "111111")))
    assert f.error_bits == 0x04        # cannot raise its own privilege


def test_19h_demand_reset():
    p = pair()
    assert p.value(0x01010000) == (1.2, "2024-06-14T12:15")
    f = p.ask(build_demand_reset_request(ADDR, PW, OP))
    assert f.control == 0x99
    assert p.value(0x01010000) == (0.0, None)
    assert p.value(0x03300200) == 1
    when, operator, before = p.value_all(0x03300201)     # 202 bytes: B1 + 92
    assert (when, operator) == ("2024-06-15T12:00:00", OP)
    assert decode_value(0x0101FF00, before[:40])[0][0] == (1.2, "2024-06-14T12:15")
    assert p.ask(build_demand_reset_request(ADDR, (2, "000000"), OP)).error_bits == 0x04
    p.later(HOUR)
    assert p.value(0x01010000) == (1.2, "2024-06-15T12:15")


def test_1ah_meter_clear():
    p = pair()
    p.ask(build_write_request(ADDR, 0x04000402, "000000000777", PW, OP))
    assert p.ask(build_meter_clear_request(ADDR, (2, "000001"), OP)).error_bits == 0x04
    assert p.ask(build_meter_clear_request(ADDR, PW, OP)).control == 0x9A
    assert p.value(0x0001FF00) == (0.0,) * 5
    assert p.read(0x05060101).error_bits == 0x02
    assert p.value(0x03300000) == 0
    assert p.value(0x03300100) == 1
    when, operator, before = p.value(0x03300101)
    assert decode_value(0x00010000, before[:4])[0] == pytest.approx(128.8, abs=0.01)
    p.later(HOUR)
    assert p.value(0x00010000) == 1.2


def test_1bh_event_clear_all_and_one_kind():
    p = pair()
    p.ask(build_write_request(ADDR, 0x04000102, "12:00:05", PW, OP))
    p.ask(build_write_request(ADDR, 0x04000402, "000000000777", PW, OP))
    assert (p.value(0x03300400), p.value(0x03300000)) == (1, 1)
    assert p.ask(build_event_clear_request(ADDR, PW, OP, di=0x033004FF)).control == 0x9B
    assert (p.value(0x03300400), p.value(0x03300000), p.value(0x03300300)) == (0, 1, 1)
    assert p.value(0x03300301)[2] == bytes.fromhex("FF043003")
    assert p.ask(build_event_clear_request(ADDR, PW, OP)).control == 0x9B
    assert (p.value(0x03300000), p.value(0x03300300)) == (0, 1)
    assert p.ask(build_event_clear_request(ADDR, PW, OP, di=0x04000101)).error_bits == 0x02


def test_1ch_trip_and_close_stop_and_restart_energy():
    """§8 1CH (plain text accepted): trip opens the relay (word 3 bit 4), no energy; close restores."""
    p = pair()
    deadline = "2024-06-15T13:00:00"
    assert p.ask(build_control_request(ADDR, "trip", deadline, PW, OP)).control == 0x9C
    assert p.value(0x04000503) & 0x50 == 0x50
    assert p.meter.relay_open
    before = p.value(0x00010000)
    p.later(2 * HOUR)
    assert p.value(0x00010000) == before
    assert p.value(0x02030000) == 0.0
    assert p.ask(build_control_request(ADDR, "close_now", "2024-06-15T15:00:00", PW, OP)).control == 0x9C
    assert p.value(0x04000503) & 0x50 == 0
    p.later(HOUR)
    assert p.value(0x00010000) == pytest.approx(before + 1.2, abs=0.01)
    f = p.ask(build_control_request(ADDR, "trip", "2024-06-15T12:00:00", PW, OP))
    assert (f.control, f.error_bits) == (0xDC, 0x01)       # deadline passed
    assert p.ask(build_control_request(ADDR, "trip", deadline, (2, "000000"), OP)).error_bits == 0x04


def test_1ch_keep_power_refuses_trip():
    p = pair()
    deadline = "2024-06-16T00:00:00"
    assert p.ask(build_control_request(ADDR, "keep_power", deadline, PW, OP)).control == 0x9C
    assert p.value(0x04000503) & 0x1000
    assert p.ask(build_control_request(ADDR, "trip", deadline, PW, OP)).error_bits == 0x01
    assert p.ask(build_control_request(ADDR, "alarm_on", deadline, PW, OP)).control == 0x9C
    assert p.value(0x04000503) & 0x80


def test_12h_follow_up_assembles_a_520_byte_block():
    """§8/§19: 0101FFFF (13 x 5 x 8 = 520 bytes) -> B1, B2 (SEQ 1), 92 (SEQ 2)."""
    p = pair(history_days=100)
    first = p.read(0x0101FFFF)
    assert (first.control, len(first.payload)) == (0xB1, 196)
    second = p.ask(build_follow_up_request(ADDR, 0x0101FFFF, 1))
    third = p.ask(build_follow_up_request(ADDR, 0x0101FFFF, 2))
    assert (second.control, second.seq, len(second.payload)) == (0xB2, 1, 195)
    assert (third.control, third.seq, len(third.payload)) == (0x92, 2, 129)
    again = p.ask(build_follow_up_request(ADDR, 0x0101FFFF, 1))
    assert again.raw == second.raw                    # a master may repeat a follow-up
    values = decode_value(0x0101FFFF, first.payload + second.payload + third.payload)[0]
    assert len(values) == 65
    assert values[:5] == p.value(0x0101FF00)
    assert values[5:10] == p.value(0x0101FF01)
    assert values[20:] == ((None, None),) * 45     # only 3 settlements in 100 days: FF
    assert p.ask(build_follow_up_request(ADDR, 0x0101FFFF, 3)).error_bits == 0x02
    assert p.ask(build_follow_up_request(ADDR, 0x00010000, 1)).error_bits == 0x02
    assert all(len(f.raw) <= 212 for f in (first, second, third))   # L <= 200


def test_load_profile_reads_are_not_kept():
    p = pair()
    f = p.ask(build_read_request(ADDR, 0x06000001, count=1))
    assert (f.control, f.error_bits) == (0xD1, 0x02)


# ---- clock: 08H, drift, error (§8) --------------------------------------------------

def test_08h_broadcast_time_sync_is_silent_and_sets_the_clock():
    p = pair(clock_offset_s=-75)
    assert p.value(0x04000102) == "11:58:45"
    assert p.raw(build_time_sync("2024-06-15T12:00:00")) is None
    assert p.value(0x04000102) == "12:00:00"
    assert p.meter.clock_error_s(NOW) == pytest.approx(0.0)
    assert p.value(0x03300400) == 1


def test_08h_large_correction_refused_when_limited():
    p = pair(clock_offset_s=-600, max_sync_correction_s=300)
    assert p.raw(build_time_sync("2024-06-15T12:00:00")) is None
    assert p.meter.clock_error_s(NOW) == pytest.approx(-600.0)
    assert p.meter.sync_refused == 1
    assert p.value(0x03300400) == 0


def test_08h_to_own_address_acts_without_reply():
    p = pair()
    assert p.raw(build_frame(ADDR, 0x08, bytes([0x00, 0x30, 0x08, 0x15, 0x06, 0x24]))) is None
    assert p.value(0x04000102) == "08:30:00"


def test_clock_drift_and_injected_error():
    p = pair(clock_drift_ppm=100.0, clock_offset_s=5)
    assert p.meter.clock_s(NOW) == pytest.approx(NOW + 28800 + 5)
    p.later(100000)
    assert p.meter.clock_error_s(p.now_s) == pytest.approx(15.0, abs=0.002)
    p.value(0x00010000)                      # advance in one step ...
    for _ in range(100):                     # ... and in many small ones: same drift
        p.later(1.0).value(0x04000102)
    assert p.meter.clock_error_s(p.now_s) == pytest.approx(15.01, abs=0.002)
    p.meter.set_clock_error(-30)
    assert p.meter.clock_error_s(p.now_s) == pytest.approx(-30.0, abs=0.002)
    p.meter.drift_ppm = 0.0
    p.later(1000)
    assert p.meter.clock_error_s(p.now_s) == pytest.approx(-30.0, abs=0.002)


def test_clock_error_shifts_the_daily_freeze():
    """The meter freezes at its own midnight: a clock 10 min fast freezes at 23:50 true time."""
    p = pair(history_days=0, clock_offset_s=600)
    p.now_s = _local("2024-06-15T23:49:00")
    p.value(0x00010000)
    assert p.meter.daily_freezes == []
    p.now_s = _local("2024-06-15T23:51:00")
    p.value(0x00010000)
    assert [f["time"] for f in p.meter.daily_freezes] == ["2024-06-16T00:00"]


def test_clock_jump_forward_takes_missed_freezes_once():
    p = pair(history_days=0)
    p.meter.set_clock_error(2 * 86400)
    assert [f["time"] for f in p.meter.daily_freezes] == ["2024-06-17T00:00", "2024-06-16T00:00"]
    p.meter.set_clock_error(0)
    p.later(86400)
    p.value(0x00010000)
    assert [f["time"] for f in p.meter.daily_freezes] == ["2024-06-17T00:00", "2024-06-16T00:00"]


def test_power_down_event_silence_and_no_energy():
    p = pair(history_days=0)
    p.meter.power_down(NOW + HOUR, NOW + 3 * HOUR)
    assert p.value(0x03110000) == 1
    assert p.value(0x03110001) == ("2024-06-15T13:00:00", "2024-06-15T15:00:00")
    p.later(2 * HOUR)
    assert p.read(0x00010000) is None
    p.later(2 * HOUR)
    assert p.value(0x00010000) == pytest.approx(100.0 + 2 * 1.2, abs=0.01)
    assert p.value(0x0280000A) == 120
    with pytest.raises(MeterError):
        p.meter.power_down(NOW, NOW + 10)


# ---- 1997 (§9) --------------------------------------------------------------------------

def test_1997_read_follow_up_and_reread():
    p = pair(std="1997")
    f = p.read(0x9010)
    assert (f.control, f.value) == (0x81, pytest.approx(128.8, abs=0.01))
    f2 = p.ask(build_follow_up_request(ADDR, 0x9010, std="1997"))
    assert (f2.control, f2.di, f2.payload) == (0x82, 0x9010, f.payload)
    f3 = p.ask(build_reread_request(ADDR))
    assert (f3.control, f3.di, f3.value) == (0x83, 0x9010, f.value)
    f = p.read(0xB6FF)
    assert (f.control, f.error_bits) == (0xC1, 0x02)


def test_1997_reread_without_previous_read():
    f = pair(std="1997").ask(build_reread_request(ADDR))
    assert (f.control, f.error_bits) == (0xC3, 0x01)


def test_1997_w6_read_bytes():
    """W6: 9010 of meter 000012345678 -> 81 with 2463.48 kWh."""
    p = pair(std="1997", address="000012345678", start_kwh=2463.48, history_days=0)
    assert p.raw(bytes.fromhex("68785634120000680102 43C3ED16".replace(" ", ""))) == bytes.fromhex(
        "687856341200006881064 3C37B9657330C16".replace(" ", ""))


def test_1997_write_time_with_password_and_wrong_password():
    p = pair(std="1997")
    assert p.ask(build_write_request(ADDR, 0xC011, "08:30:00", PW, std="1997")).control == 0x84
    assert p.value(0xC011) == "08:30:00"
    f = p.ask(build_write_request(ADDR, 0xC011, "09:30:00", (2, "000000"), std="1997"))
    assert (f.control, f.error_bits) == (0xC4, 0x04)
    assert p.ask(build_write_request(ADDR, 0xC032, "000000000123", PW, std="1997")).control == 0x84
    assert p.value(0xC032) == "000000000123"
    assert p.value(0xB212) == 1
    assert p.value(0xB210) == "--06-15T08:30"


def test_1997_broadcast_sync_write_address_rate_password_demand_reset():
    p = pair(std="1997", clock_offset_s=30)
    assert p.raw(build_time_sync("2024-06-15T12:00:00")) is None
    assert p.value(0xC011) == "12:00:00"
    assert p.raw(build_write_address_request("202311150077", std="1997", address=ADDR)) is None
    p.meter.programming = True
    f = p.ask(build_write_address_request("202311150077", std="1997", address=ADDR))
    assert (f.control, f.address) == (0x8A, "202311150077")
    new = p.address = "202311150077"
    f = p.ask(build_change_rate_request(new, 2400, std="1997"))
    assert (f.control, f.value, p.meter.baud) == (0x8C, 2400, 2400)
    f = p.ask(build_change_rate_request(new, 19200, std="1997"))
    assert (f.control, f.error_bits) == (0xCC, 0x01)
    f = p.ask(build_change_password_request(new, PW, (2, "111111"), std="1997"))
    assert (f.control, f.new_password) == (0x8F, (2, "111111"))
    assert p.meter.authorized((2, "111111"))
    assert p.value(0xA010) == 1.2
    f = p.ask(build_demand_reset_request(new, (2, "000000"), std="1997"))
    assert (f.control, f.error_bits) == (0xD0, 0x04)
    assert p.ask(build_demand_reset_request(new, (2, "111111"), std="1997")).control == 0x90
    assert p.value(0xA010) == 0.0
    assert p.value(0xB010) is None
    assert p.ask(build_frame(new, 0x10, b"")).control == 0x90       # L = 0 form (§9)
    assert p.value(0xB213) == 2
