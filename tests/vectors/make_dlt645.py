"""Writes tests/vectors/dlt645.json: ``python tests/vectors/make_dlt645.py``.

Independent of the codec on purpose: each frame is assembled here from
hand-written PLAIN data bytes (written from the layouts of §8/§9 and the
formats of §5) by a ten-line encoder (scramble +0x33, checksum), and the
worked examples are compared with the reference's hex (§15 W1-W10) before
anything is written. The expected Frame fields are hand-written too; the
``build`` entries name the builder call that must give the same bytes, which
the tests check against the codec. One vector per line, so MicroPython can
read the file line by line (tests/micropython/mpy_dlt645.py).
"""
import json
from pathlib import Path

A07 = "42 00 15 11 23 20"      # 202311150042
A97 = "78 56 34 12 00 00"      # 000012345678
AA = "AA AA AA AA AA AA"
BC = "99 99 99 99 99 99"
ADDR07 = "202311150042"
ADDR97 = "000012345678"


def frame(addr_wire, control, plain_hex="", pre=0):
    a = bytes.fromhex(addr_wire)
    plain = bytes.fromhex(plain_hex)
    wire = bytes((b + 0x33) & 0xFF for b in plain)
    body = bytes([0x68]) + a + bytes([0x68, control, len(plain)]) + wire
    return b"\xfe" * pre + body + bytes([sum(body) & 0xFF, 0x16])


def hx(b):
    return " ".join("%02X" % x for x in b)


VECTORS = []


def vec(name, std, fr, expect, build=None, ref=None):
    if ref is not None:
        if bytes.fromhex(ref) != fr:
            raise SystemExit("%s: independent frame %s != reference %s" % (name, hx(fr), ref))
    v = {"name": name, "std": std, "hex": hx(fr), "expect": expect}
    if build is not None:
        v["build"] = build
    VECTORS.append(v)


def B(fn, *args, **kwargs):
    b = {"fn": fn, "args": list(args)}
    if kwargs:
        b["kwargs"] = kwargs
    return b


def H(h):
    return {"hex": h.replace(" ", "").lower()}


REQ = {"is_reply": False, "is_error": False, "has_more": False}
OK = {"is_reply": True, "is_error": False, "has_more": False}
ERR = {"is_reply": True, "is_error": True, "has_more": False}


def E(base=None, **kw):
    out = dict(base or {})
    out.update(kw)
    return out


# ---------------------------------------------------------------- §15 W1-W10
vec("W1 read request 00010000, 4 FE (§15 W1)", "2007",
    frame(A07, 0x11, "00 00 01 00", pre=4),
    E(REQ, address=ADDR07, function=0x11, function_name="read_data", di="00010000",
      di_name="forward_active_total", value=None, preamble=4, count=None),
    B("build_read_request", ADDR07, "00010000"),
    ref="FE FE FE FE 68 42 00 15 11 23 20 68 11 04 33 33 34 33 5D 16")
vec("W1 normal reply 12345.67 kWh (§15 W1)", "2007",
    frame(A07, 0x91, "00 00 01 00 67 45 23 01"),
    E(OK, address=ADDR07, function=0x11, di="00010000", value=12345.67, unit="kWh", error_bits=None,
      preamble=0),
    B("build_read_reply", ADDR07, 0x00010000, 12345.67),
    ref="68 42 00 15 11 23 20 68 91 08 33 33 34 33 9A 78 56 34 7D 16")
vec("W2 voltage block 0201FF00 (§15 W2)", "2007",
    frame(A07, 0x91, "00 FF 01 02 01 22 98 21 10 22"),
    E(OK, address=ADDR07, function=0x11, di="0201FF00", di_name="voltage_block",
      value=[220.1, 219.8, 221.0], unit="V"),
    B("build_read_reply", ADDR07, "0201FF00", [220.1, 219.8, 221.0]),
    ref="68 42 00 15 11 23 20 68 91 0A 33 32 34 35 34 55 CB 54 43 55 24 16")
vec("W3 abnormal reply D1, error 02 no requested data (§15 W3, §10)", "2007",
    frame(A07, 0xD1, "02"),
    E(ERR, address=ADDR07, function=0x11, error_bits=2, errors=["no requested data"], di=None, value=None),
    B("build_error_reply", ADDR07, 0x11, 2),
    ref="68 42 00 15 11 23 20 68 D1 01 35 82 16")
vec("W4 read-address request to AA wildcard (§15 W4, §6)", "2007",
    frame(AA, 0x13, ""),
    E(REQ, address="AAAAAAAAAAAA", function=0x13, function_name="read_address", di=None, value=None),
    B("build_read_address_request", preamble=0),
    ref="68 AA AA AA AA AA AA 68 13 00 DF 16")
vec("W4 read-address reply 93 (§15 W4)", "2007",
    frame(A07, 0x93, A07),
    E(OK, address=ADDR07, function=0x13, value=ADDR07),
    B("build_reply", ADDR07, 0x13, H(A07)),
    ref="68 42 00 15 11 23 20 68 93 06 75 33 48 44 56 53 F1 16")
vec("W5 broadcast time sync 08 to 99..99 (§15 W5, §8)", "2007",
    frame(BC, 0x08, "00 30 08 23 11 26", pre=4),
    E(REQ, address="999999999999", function=0x08, function_name="broadcast_time_sync",
      value="2026-11-23T08:30:00", preamble=4),
    B("build_time_sync", "2026-11-23T08:30:00"),
    ref="FE FE FE FE 68 99 99 99 99 99 99 68 08 06 33 63 3B 56 44 59 38 16")
vec("W6 1997 read request 9010 (§15 W6, §9)", "1997",
    frame(A97, 0x01, "10 90"),
    E(REQ, address=ADDR97, function=0x01, function_name="read_data", di="9010",
      di_name="forward_active_total", value=None),
    B("build_read_request", ADDR97, 0x9010, std="1997", preamble=0),
    ref="68 78 56 34 12 00 00 68 01 02 43 C3 ED 16")
vec("W6 1997 reply 81, 2463.48 kWh (§15 W6)", "1997",
    frame(A97, 0x81, "10 90 48 63 24 00"),
    E(OK, address=ADDR97, function=0x01, di="9010", value=2463.48, unit="kWh"),
    B("build_read_reply", ADDR97, 0x9010, 2463.48, std="1997"),
    ref="68 78 56 34 12 00 00 68 81 06 43 C3 7B 96 57 33 0C 16")
vec("W7 reply with 4 FE, frequency 50.02 Hz (§15 W7)", "2007",
    frame(A07, 0x91, "02 00 80 02 02 50", pre=4),
    E(OK, address=ADDR07, di="02800002", di_name="frequency", value=50.02, unit="Hz", preamble=4),
    B("build_read_reply", ADDR07, 0x02800002, 50.02, preamble=4),
    ref="FE FE FE FE 68 42 00 15 11 23 20 68 91 06 35 33 B3 35 35 83 1A 16")
vec("W8 negative total active power -1.2345 kW (§15 W8, §5 sign-magnitude)", "2007",
    frame(A07, 0x91, "00 00 03 02 45 23 81"),
    E(OK, di="02030000", di_name="active_power_total", value=-1.2345, unit="kW"),
    B("build_read_reply", ADDR07, 0x02030000, -1.2345),
    ref="68 42 00 15 11 23 20 68 91 07 33 33 36 35 78 56 B4 66 16")
vec("W9 write request 14 time 08:30:00, password and operator (§15 W9, §8, §11)", "2007",
    frame(A07, 0x14, "02 01 00 04 02 56 34 12 78 56 34 12 00 30 08"),
    E(REQ, address=ADDR07, function=0x14, function_name="write_data", di="04000102", di_name="time",
      value="08:30:00", password=[2, "123456"], operator="12345678"),
    B("build_write_request", ADDR07, 0x04000102, "08:30:00", password=[2, "123456"],
      operator="12345678", preamble=0),
    ref="68 42 00 15 11 23 20 68 14 0F 35 34 33 37 35 89 67 45 AB 89 67 45 33 63 3B 8C 16")
vec("W9 write normal reply 94, L=0 (§15 W9)", "2007",
    frame(A07, 0x94, ""),
    E(OK, address=ADDR07, function=0x14, di=None, value=None, error_bits=None),
    B("build_reply", ADDR07, 0x14),
    ref="68 42 00 15 11 23 20 68 94 00 0F 16")
vec("W10 reply B1 with follow-up flag, first part of 0001FF00 (§15 W10, §7)", "2007",
    frame(A07, 0xB1, "00 FF 01 00 67 45 23 01"),
    E(address=ADDR07, function=0x11, is_reply=True, is_error=False, has_more=True, di="0001FF00",
      di_name="forward_active_block", value=H("67452301"), unit=""),
    B("build_read_reply", ADDR07, 0x0001FF00, H("67452301"), more=True),
    ref="68 42 00 15 11 23 20 68 B1 08 33 32 34 33 9A 78 56 34 9C 16")
vec("W10 read follow-up request 12, SEQ 1 (§15 W10, §8)", "2007",
    frame(A07, 0x12, "00 FF 01 00 01"),
    E(REQ, address=ADDR07, function=0x12, function_name="read_follow_up", di="0001FF00", seq=1,
      value=None),
    B("build_follow_up_request", ADDR07, 0x0001FF00, 1, preamble=0),
    ref="68 42 00 15 11 23 20 68 12 05 33 32 34 33 34 92 16")
vec("W10 last part 92 with SEQ appended (§15 W10, §8)", "2007",
    frame(A07, 0x92, "00 FF 01 00 00 12 34 00 00 00 11 00 01"),
    E(OK, function=0x12, di="0001FF00", seq=1, value=H("0012340000001100"), unit=""),
    B("build_read_reply", ADDR07, 0x0001FF00, H("0012340000001100"), seq=1))
vec("2007 follow-up reply B2, more parts follow, SEQ 1 (§8, §7)", "2007",
    frame(A07, 0xB2, "00 FF 01 00 00 11 22 00 01"),
    E(function=0x12, is_reply=True, is_error=False, has_more=True, di="0001FF00", seq=1,
      value=H("00112200")),
    B("build_read_reply", ADDR07, 0x0001FF00, H("00112200"), seq=1, more=True))
vec("2007 follow-up abnormal reply D2 (§8)", "2007",
    frame(A07, 0xD2, "02"),
    E(ERR, function=0x12, error_bits=2),
    B("build_error_reply", ADDR07, 0x12, 2))

# ---------------------------------------------------------------- 2007 reads
vec("2007 read with shortened address AAAA78563412 (§6 wildcard)", "2007",
    frame("12 34 56 78 AA AA", 0x11, "00 00 01 00"),
    E(REQ, address="AAAA78563412", di="00010000"),
    B("build_read_request", "AAAA78563412", 0x00010000, preamble=0))
vec("2007 read request 11 with block count N, L=5 (§8)", "2007",
    frame(A07, 0x11, "01 00 00 06 02"),
    E(REQ, function=0x11, di="06000001", count=2, value=None, di_name=None),
    B("build_read_request", ADDR07, 0x06000001, count=2, preamble=0))
vec("2007 read request 11 with N and start time, L=10 (§8)", "2007",
    frame(A07, 0x11, "01 00 00 06 03 30 08 23 11 26"),
    E(REQ, function=0x11, di="06000001", count=3, value="2026-11-23T08:30"),
    B("build_read_request", ADDR07, 0x06000001, count=3, since="2026-11-23T08:30", preamble=0))
vec("2007 reply forward energy 812345.67 kWh: bit 7 is a digit in unsigned fields (§5)", "2007",
    frame(A07, 0x91, "00 00 01 00 67 45 23 81"),
    E(OK, di="00010000", value=812345.67, unit="kWh"),
    B("build_read_reply", ADDR07, 0x00010000, 812345.67))
vec("2007 reply combined active energy -1234.56 kWh (§5 signed, §13.1)", "2007",
    frame(A07, 0x91, "00 00 00 00 56 34 12 80"),
    E(OK, di="00000000", di_name="combined_active_total", value=-1234.56, unit="kWh"),
    B("build_read_reply", ADDR07, 0x00000000, -1234.56))
vec("2007 reply phase A current -5.123 A (§5 signed, §13.3)", "2007",
    frame(A07, 0x91, "00 01 02 02 23 51 80"),
    E(OK, di="02020100", di_name="current_a", value=-5.123, unit="A"),
    B("build_read_reply", ADDR07, 0x02020100, -5.123))
vec("2007 reply power factor 0.987 (§5)", "2007",
    frame(A07, 0x91, "00 00 06 02 87 09"),
    E(OK, di="02060000", di_name="power_factor_total", value=0.987, unit=""),
    B("build_read_reply", ADDR07, 0x02060000, 0.987))
vec("2007 reply meter temperature -12.5 degC (§5 signed)", "2007",
    frame(A07, 0x91, "07 00 80 02 25 81"),
    E(OK, di="02800007", di_name="temperature", value=-12.5, unit="degC"),
    B("build_read_reply", ADDR07, 0x02800007, -12.5))
vec("2007 reply forward active max demand and its time (§13.2)", "2007",
    frame(A07, 0x91, "00 00 01 01 45 23 01 15 14 20 11 26"),
    E(OK, di="01010000", di_name="max_demand_forward_active_total", value=[1.2345, "2026-11-20T14:15"],
      unit="kW"),
    B("build_read_reply", ADDR07, 0x01010000, [1.2345, "2026-11-20T14:15"]))
vec("2007 reply date and weekday YYMMDDWW, Monday (§5, §13.4)", "2007",
    frame(A07, 0x91, "01 01 00 04 01 23 11 26"),
    E(OK, di="04000101", di_name="date", value="2026-11-23"),
    B("build_read_reply", ADDR07, 0x04000101, "2026-11-23"))
vec("2007 reply communication address NNNNNNNNNNNN (§13.4)", "2007",
    frame(A07, 0x91, "01 04 00 04 42 00 15 11 23 20"),
    E(OK, di="04000401", di_name="comm_address", value=ADDR07),
    B("build_read_reply", ADDR07, 0x04000401, ADDR07))
vec("2007 reply rated voltage ASCII reversed on the wire (§5, §13.4)", "2007",
    # "220.0V" sent last character first: V 0 . 0 2 2
    frame(A07, 0x91, "04 04 00 04 56 30 2E 30 32 32"),
    E(OK, di="04000404", di_name="rated_voltage", value="220.0V"),
    B("build_read_reply", ADDR07, 0x04000404, "220.0V"))
vec("2007 reply status word 3, relay open (bit 4) (§13.4)", "2007",
    frame(A07, 0x91, "03 05 00 04 10 00"),
    E(OK, di="04000503", di_name="status_word_3", value=16),
    B("build_read_reply", ADDR07, 0x04000503, 16))
vec("2007 reply rate feature word of port 1, 08 = 2400 bit/s (§12)", "2007",
    frame(A07, 0x91, "03 07 00 04 08"),
    E(OK, di="04000703", value=2400, unit="bit/s"),
    B("build_read_reply", ADDR07, 0x04000703, 2400))
vec("2007 reply 1st settlement day DDhh (§13.4)", "2007",
    frame(A07, 0x91, "01 0B 00 04 00 01"),
    E(OK, di="04000B01", di_name="settlement_day_1", value="---01T00"),
    B("build_read_reply", ADDR07, 0x04000B01, "---01T00"))
vec("2007 reply power-down record: two YYMMDDhhmmss (§13.5 events)", "2007",
    frame(A07, 0x91, "01 00 11 03 05 04 03 20 11 26 06 07 08 20 11 26"),
    E(OK, di="03110001", di_name="power_down_1", value=["2026-11-20T03:04:05", "2026-11-20T08:07:06"]),
    B("build_read_reply", ADDR07, 0x03110001, ["2026-11-20T03:04:05", "2026-11-20T08:07:06"]))
vec("2007 reply daily freeze time FF-filled: missing value decodes to null (§13.5)", "2007",
    frame(A07, 0x91, "01 00 06 05 FF FF FF FF FF"),
    E(OK, di="05060001", di_name="daily_freeze_time_1", value=None),
    B("build_read_reply", ADDR07, 0x05060001, None))
vec("2007 reply daily-frozen energy block, total and T1 missing (FF) (§13.5)", "2007",
    frame(A07, 0x91, "02 01 06 05 00 00 10 00 FF FF FF FF"),
    E(OK, di="05060102", di_name="daily_freeze_forward_active_2", value=[1000.0, None], unit="kWh"),
    B("build_read_reply", ADDR07, 0x05060102, [1000.0, None]))
vec("2007 reply of a DI unknown to the registry keeps raw bytes", "2007",
    frame(A07, 0x91, "01 00 00 06 12 34"),
    E(OK, di="06000001", di_name=None, value=H("1234"), unit=""),
    B("build_read_reply", ADDR07, 0x06000001, H("1234")))
vec("2007 abnormal reply, several bits incl. reserved bit 7 reported (§10)", "2007",
    frame(A07, 0xD1, "81"),
    E(ERR, error_bits=0x81, errors=["other error", "reserved bit 7"]),
    B("build_error_reply", ADDR07, 0x11, 0x81))

# ---------------------------------------------------------------- 2007 others
vec("2007 write abnormal reply D4, bit 2 wrong password (§8, §10)", "2007",
    frame(A07, 0xD4, "04"),
    E(ERR, function=0x14, error_bits=4, errors=["wrong password or not authorized"]),
    B("build_error_reply", ADDR07, 0x14, 4))
vec("2007 write-address request 15 to AA (§8)", "2007",
    frame(AA, 0x15, A07),
    E(REQ, address="AAAAAAAAAAAA", function=0x15, function_name="write_address", value=ADDR07),
    B("build_write_address_request", ADDR07, preamble=0))
vec("2007 write-address normal reply 95, header = new address (§8)", "2007",
    frame(A07, 0x95, ""),
    E(OK, address=ADDR07, function=0x15, value=None),
    B("build_reply", ADDR07, 0x15))
vec("2007 freeze request 16 'freeze now' 99999999 (§8)", "2007",
    frame(A07, 0x16, "99 99 99 99"),
    E(REQ, function=0x16, function_name="freeze", value="99999999"),
    B("build_freeze_request", ADDR07, "99999999", preamble=0))
vec("2007 broadcast daily freeze at 00:30 to 99..99, wire order mm hh DD MM (§8, §6)", "2007",
    frame(BC, 0x16, "30 00 99 99"),
    E(REQ, address="999999999999", function=0x16, value="99990030"),
    B("build_freeze_request", "999999999999", "99990030", preamble=0))
vec("2007 freeze normal reply 96 (§8)", "2007",
    frame(A07, 0x96, ""), E(OK, function=0x16, value=None), B("build_reply", ADDR07, 0x16))
vec("2007 freeze abnormal reply D6 (§8)", "2007",
    frame(A07, 0xD6, "01"), E(ERR, function=0x16, error_bits=1, errors=["other error"]),
    B("build_error_reply", ADDR07, 0x16, 1))
vec("2007 change-rate request 17, Z=20 for 9600 bit/s (§8, §12)", "2007",
    frame(A07, 0x17, "20"),
    E(REQ, function=0x17, function_name="change_rate", value=9600),
    B("build_change_rate_request", ADDR07, 9600, preamble=0))
vec("2007 change-rate normal reply 97 echoes Z (§8)", "2007",
    frame(A07, 0x97, "20"), E(OK, function=0x17, value=9600), B("build_reply", ADDR07, 0x17, H("20")))
vec("2007 change-rate abnormal reply D7, bit 3 (§8, §10)", "2007",
    frame(A07, 0xD7, "08"),
    E(ERR, function=0x17, error_bits=8, errors=["communication rate cannot be changed"]),
    B("build_error_reply", ADDR07, 0x17, 8))
vec("2007 change-password request 18, level 2 DI 04000C03 (§8, §18 pitfall)", "2007",
    frame(A07, 0x18, "03 0C 00 04 02 00 00 00 02 56 34 12"),
    E(REQ, function=0x18, function_name="change_password", di="04000C03", di_name="password_level_2",
      password=[2, "000000"], new_password=[2, "123456"], value=None),
    B("build_change_password_request", ADDR07, [2, "000000"], [2, "123456"], preamble=0))
vec("2007 change-password normal reply 98 with the new password (§8)", "2007",
    frame(A07, 0x98, "02 56 34 12"),
    E(OK, function=0x18, new_password=[2, "123456"]),
    B("build_reply", ADDR07, 0x18, H("02 56 34 12")))
vec("2007 change-password abnormal reply D8 (§8)", "2007",
    frame(A07, 0xD8, "04"), E(ERR, function=0x18, error_bits=4), B("build_error_reply", ADDR07, 0x18, 4))
vec("2007 demand-reset request 19, password and operator (§8)", "2007",
    frame(A07, 0x19, "04 00 00 00 78 56 34 12"),
    E(REQ, function=0x19, function_name="demand_reset", password=[4, "000000"], operator="12345678",
      di=None),
    B("build_demand_reset_request", ADDR07, password=[4, "000000"], operator="12345678", preamble=0))
vec("2007 demand-reset normal reply 99 (§8)", "2007",
    frame(A07, 0x99, ""), E(OK, function=0x19), B("build_reply", ADDR07, 0x19))
vec("2007 demand-reset abnormal reply D9 (§8)", "2007",
    frame(A07, 0xD9, "04"), E(ERR, function=0x19, error_bits=4), B("build_error_reply", ADDR07, 0x19, 4))
vec("2007 meter-clear request 1A (§8)", "2007",
    frame(A07, 0x1A, "02 56 34 12 00 00 00 00"),
    E(REQ, function=0x1A, function_name="meter_clear", password=[2, "123456"], operator="00000000"),
    B("build_meter_clear_request", ADDR07, password=[2, "123456"], preamble=0))
vec("2007 meter-clear normal reply 9A (§8)", "2007",
    frame(A07, 0x9A, ""), E(OK, function=0x1A), B("build_reply", ADDR07, 0x1A))
vec("2007 meter-clear abnormal reply DA (§8)", "2007",
    frame(A07, 0xDA, "04"), E(ERR, function=0x1A, error_bits=4), B("build_error_reply", ADDR07, 0x1A, 4))
vec("2007 event-clear request 1B, DI FFFFFFFF clears all (§8)", "2007",
    frame(A07, 0x1B, "02 00 00 00 00 00 00 00 FF FF FF FF"),
    E(REQ, function=0x1B, function_name="event_clear", password=[2, "000000"], operator="00000000",
      di="FFFFFFFF"),
    B("build_event_clear_request", ADDR07, preamble=0))
vec("2007 event-clear normal reply 9B (§8)", "2007",
    frame(A07, 0x9B, ""), E(OK, function=0x1B), B("build_reply", ADDR07, 0x1B))
vec("2007 event-clear abnormal reply DB (§8)", "2007",
    frame(A07, 0xDB, "04"), E(ERR, function=0x1B, error_bits=4), B("build_error_reply", ADDR07, 0x1B, 4))
vec("2007 control request 1C trip, deadline ss mm hh DD MM YY (§8, 2013 addendum)", "2007",
    frame(A07, 0x1C, "02 00 00 00 00 00 00 00 1A 00 00 00 00 24 11 26"),
    E(REQ, function=0x1C, function_name="control", password=[2, "000000"], operator="00000000",
      value=[0x1A, "2026-11-24T00:00:00"]),
    B("build_control_request", ADDR07, "trip", "2026-11-24T00:00:00", preamble=0))
vec("2007 control normal reply 9C (§8)", "2007",
    frame(A07, 0x9C, ""), E(OK, function=0x1C), B("build_reply", ADDR07, 0x1C))
vec("2007 control abnormal reply DC (§8)", "2007",
    frame(A07, 0xDC, "04"), E(ERR, function=0x1C, error_bits=4), B("build_error_reply", ADDR07, 0x1C, 4))

# ---------------------------------------------------------------- 1997
vec("1997 reply B630 total active power -1.2345 kW: sign only for power DIs (§5, §14)", "1997",
    frame(A97, 0x81, "30 B6 45 23 81"),
    E(OK, address=ADDR97, di="B630", di_name="active_power_total", value=-1.2345, unit="kW"),
    B("build_read_reply", ADDR97, 0xB630, -1.2345, std="1997"))
vec("1997 reply B640 reactive power -0.5 kvar, XX.XX (§14)", "1997",
    frame(A97, 0x81, "40 B6 50 80"),
    E(OK, di="B640", di_name="reactive_power_total", value=-0.5, unit="kvar"),
    B("build_read_reply", ADDR97, 0xB640, -0.5, std="1997"))
vec("1997 reply B611 voltage 220 V, format XXX (§14)", "1997",
    frame(A97, 0x81, "11 B6 20 02"),
    E(OK, di="B611", di_name="voltage_a", value=220, unit="V"),
    B("build_read_reply", ADDR97, 0xB611, 220, std="1997"))
vec("1997 reply B621 current 5.12 A, XX.XX unsigned (§14)", "1997",
    frame(A97, 0x81, "21 B6 12 05"),
    E(OK, di="B621", di_name="current_a", value=5.12, unit="A"),
    B("build_read_reply", ADDR97, 0xB621, 5.12, std="1997"))
vec("1997 reply A010 max demand 1.2345 kW (§14)", "1997",
    frame(A97, 0x81, "10 A0 45 23 01"),
    E(OK, di="A010", di_name="max_demand_forward_active_total", value=1.2345, unit="kW"),
    B("build_read_reply", ADDR97, 0xA010, 1.2345, std="1997"))
vec("1997 reply B010 max demand time MMDDhhmm (§5, §14)", "1997",
    frame(A97, 0x81, "10 B0 15 14 20 11"),
    E(OK, di="B010", value="--11-20T14:15"),
    B("build_read_reply", ADDR97, 0xB010, "--11-20T14:15", std="1997"))
vec("1997 reply 9410 last month forward active (§14 period x4)", "1997",
    frame(A97, 0x81, "10 94 00 00 01 00"),
    E(OK, di="9410", di_name="forward_active_total_prev1", value=100.0, unit="kWh"),
    B("build_read_reply", ADDR97, 0x9410, 100.0, std="1997"))
vec("1997 reply 9150 reactive quadrant II (§14)", "1997",
    frame(A97, 0x81, "50 91 00 00 02 00"),
    E(OK, di="9150", di_name="reactive_q2_total", value=200.0, unit="kvarh"),
    B("build_read_reply", ADDR97, 0x9150, 200.0, std="1997"))
vec("1997 reply 901F block total and four tariffs (§14)", "1997",
    frame(A97, 0x81, "1F 90 00 00 05 00 00 00 01 00 00 00 02 00 00 00 01 00 00 00 01 00"),
    E(OK, di="901F", di_name="forward_active_block", value=[500.0, 100.0, 200.0, 100.0, 100.0], unit="kWh"),
    B("build_read_reply", ADDR97, 0x901F, [500.0, 100.0, 200.0, 100.0, 100.0], std="1997"))
vec("1997 reply 9010 FF-filled: missing value decodes to null", "1997",
    frame(A97, 0x81, "10 90 FF FF FF FF"),
    E(OK, di="9010", value=None, unit="kWh"),
    B("build_read_reply", ADDR97, 0x9010, None, std="1997"))
vec("1997 reply C032 meter number (§14)", "1997",
    frame(A97, 0x81, "32 C0 78 56 34 12 00 00"),
    E(OK, di="C032", di_name="meter_number", value=ADDR97),
    B("build_read_reply", ADDR97, 0xC032, ADDR97, std="1997"))
vec("1997 reply C020 status word, raw bits (§14)", "1997",
    frame(A97, 0x81, "20 C0 A5"),
    E(OK, di="C020", di_name="status_word", value=0xA5),
    B("build_read_reply", ADDR97, 0xC020, 0xA5, std="1997"))
vec("1997 reply A1 with follow-up flag keeps raw bytes (§7.2)", "1997",
    frame(A97, 0xA1, "1F 90 00 00 05 00"),
    E(function=0x01, is_reply=True, is_error=False, has_more=True, di="901F", value=H("00000500")),
    B("build_read_reply", ADDR97, 0x901F, H("00000500"), std="1997", more=True))
vec("1997 abnormal reply C1, bit 1 wrong data identifier (§10)", "1997",
    frame(A97, 0xC1, "02"),
    E(ERR, address=ADDR97, function=0x01, error_bits=2, errors=["wrong data identifier"]),
    B("build_error_reply", ADDR97, 0x01, 2, std="1997"))
vec("1997 read follow-up request 02 (§9)", "1997",
    frame(A97, 0x02, "1F 90"),
    E(REQ, function=0x02, function_name="read_follow_up", di="901F", value=None),
    B("build_follow_up_request", ADDR97, 0x901F, std="1997", preamble=0))
vec("1997 follow-up reply 82, last part (§9)", "1997",
    frame(A97, 0x82, "1F 90 00 00 01 00"),
    E(OK, function=0x02, di="901F", value=H("00000100"), unit=""),
    B("build_reply", ADDR97, 0x02, H("1F 90 00 00 01 00"), std="1997"))
vec("1997 follow-up reply A2, more follows (§9)", "1997",
    frame(A97, 0xA2, "1F 90 00 00 01 00"),
    E(function=0x02, is_reply=True, is_error=False, has_more=True, di="901F", value=H("00000100")),
    B("build_reply", ADDR97, 0x02, H("1F 90 00 00 01 00"), std="1997", more=True))
vec("1997 follow-up abnormal reply C2 (§9)", "1997",
    frame(A97, 0xC2, "02"), E(ERR, function=0x02, error_bits=2),
    B("build_error_reply", ADDR97, 0x02, 2, std="1997"))
vec("1997 re-read request 03, L=0 (§9)", "1997",
    frame(A97, 0x03, ""),
    E(REQ, function=0x03, function_name="reread", di=None, value=None),
    B("build_reread_request", ADDR97, preamble=0))
vec("1997 re-read reply 83 (§9)", "1997",
    frame(A97, 0x83, "10 90 48 63 24 00"),
    E(OK, function=0x03, di="9010", value=2463.48, unit="kWh"),
    B("build_reply", ADDR97, 0x03, H("10 90 48 63 24 00"), std="1997"))
vec("1997 re-read abnormal reply C3 (§9)", "1997",
    frame(A97, 0xC3, "01"), E(ERR, function=0x03, error_bits=1, errors=["illegal data"]),
    B("build_error_reply", ADDR97, 0x03, 1, std="1997"))
vec("1997 write request 04: DI, password, value, no operator code (§9)", "1997",
    frame(A97, 0x04, "11 C0 02 56 34 12 00 30 08"),
    E(REQ, function=0x04, function_name="write_data", di="C011", di_name="time", password=[2, "123456"],
      operator=None, value="08:30:00"),
    B("build_write_request", ADDR97, 0xC011, "08:30:00", password=[2, "123456"], std="1997", preamble=0))
vec("1997 write normal reply 84 (§9)", "1997",
    frame(A97, 0x84, ""), E(OK, function=0x04), B("build_reply", ADDR97, 0x04, std="1997"))
vec("1997 write abnormal reply C4, bit 2 wrong password (§9, §10)", "1997",
    frame(A97, 0xC4, "04"), E(ERR, function=0x04, error_bits=4, errors=["wrong password"]),
    B("build_error_reply", ADDR97, 0x04, 4, std="1997"))
vec("1997 broadcast time sync 08 (§9)", "1997",
    frame(BC, 0x08, "00 30 08 23 11 26"),
    E(REQ, address="999999999999", function=0x08, value="2026-11-23T08:30:00"),
    B("build_time_sync", "2026-11-23T08:30:00", preamble=0))
vec("1997 write-address request 0A to 99..99 (§9)", "1997",
    frame(BC, 0x0A, A97),
    E(REQ, address="999999999999", function=0x0A, function_name="write_address", value=ADDR97),
    B("build_write_address_request", ADDR97, std="1997", address="999999999999", preamble=0))
vec("1997 write-address normal reply 8A (§9)", "1997",
    frame(A97, 0x8A, ""), E(OK, function=0x0A), B("build_reply", ADDR97, 0x0A, std="1997"))
vec("1997 change-rate request 0C, Z=08 for 2400 bit/s (§9, §12)", "1997",
    frame(A97, 0x0C, "08"),
    E(REQ, function=0x0C, function_name="change_rate", value=2400),
    B("build_change_rate_request", ADDR97, 2400, std="1997", preamble=0))
vec("1997 change-rate normal reply 8C (§9)", "1997",
    frame(A97, 0x8C, "08"), E(OK, function=0x0C, value=2400),
    B("build_reply", ADDR97, 0x0C, H("08"), std="1997"))
vec("1997 change-rate abnormal reply CC (§9)", "1997",
    frame(A97, 0xCC, "01"), E(ERR, function=0x0C, error_bits=1),
    B("build_error_reply", ADDR97, 0x0C, 1, std="1997"))
vec("1997 change-password request 0F, old and new (§9)", "1997",
    frame(A97, 0x0F, "02 00 00 00 02 56 34 12"),
    E(REQ, function=0x0F, function_name="change_password", di=None, password=[2, "000000"],
      new_password=[2, "123456"]),
    B("build_change_password_request", ADDR97, [2, "000000"], [2, "123456"], std="1997", preamble=0))
vec("1997 change-password normal reply 8F with the new password (§9)", "1997",
    frame(A97, 0x8F, "02 56 34 12"), E(OK, function=0x0F, new_password=[2, "123456"]),
    B("build_reply", ADDR97, 0x0F, H("02 56 34 12"), std="1997"))
vec("1997 change-password abnormal reply CF (§9)", "1997",
    frame(A97, 0xCF, "04"), E(ERR, function=0x0F, error_bits=4),
    B("build_error_reply", ADDR97, 0x0F, 4, std="1997"))
vec("1997 demand-reset request 10, L=0 as in the base text (§9)", "1997",
    frame(A97, 0x10, ""), E(REQ, function=0x10, function_name="demand_reset", password=None),
    B("build_frame", ADDR97, 0x10, H(""), preamble=0))
vec("1997 demand-reset request 10 with a 4-byte password (§9)", "1997",
    frame(A97, 0x10, "04 00 00 00"), E(REQ, function=0x10, password=[4, "000000"]),
    B("build_demand_reset_request", ADDR97, password=[4, "000000"], std="1997", preamble=0))
vec("1997 demand-reset normal reply 90 (§9)", "1997",
    frame(A97, 0x90, ""), E(OK, function=0x10), B("build_reply", ADDR97, 0x10, std="1997"))
vec("1997 demand-reset abnormal reply D0 (§9)", "1997",
    frame(A97, 0xD0, "04"), E(ERR, function=0x10, error_bits=4),
    B("build_error_reply", ADDR97, 0x10, 4, std="1997"))


def main():
    with open(Path(__file__).resolve().parent / "dlt645.json", "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i, v in enumerate(VECTORS):
            fh.write(json.dumps(v, ensure_ascii=False))
            fh.write(",\n" if i + 1 < len(VECTORS) else "\n")
        fh.write("]\n")
    print(len(VECTORS), "vectors")


if __name__ == "__main__":
    main()
