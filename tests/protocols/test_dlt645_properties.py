"""Hypothesis properties of the DL/T 645 codec (STYLE.md "Tests").

* build -> parse round-trips for every function code of both editions (§7.1,
  §7.2, layouts §8, §9) and every value format kind (§5), blocks included;
* random bytes and mutated valid frames only ever raise ``DLT645Error``
  subclasses, from ``parse_frame``, ``FrameExtractor`` and ``decode_value``;
* the registry (§13, §14): names unique per edition, ``di_for_name`` inverts
  ``known_items``, ``parse_di`` takes hex or names and rejects bad widths.
"""

import datetime
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocols.dlt645 import (CONTROL_COMMANDS, DLT645Error, DataIdentifierError, FrameExtractor,
                              build_change_password_request, build_change_rate_request, build_control_request,
                              build_demand_reset_request, build_error_reply, build_event_clear_request,
                              build_follow_up_request, build_freeze_request, build_meter_clear_request,
                              build_read_address_request, build_read_reply, build_read_request, build_reply,
                              build_reread_request, build_time_sync, build_write_address_request,
                              build_write_request, decode_value, describe, di_for_name, encode_value,
                              format_di, known_items, parse_di, parse_frame)
from protocols.dlt645 import _formats as F
from protocols.dlt645._encode import encode_elements, encode_part
from protocols.dlt645._items import KIND_LETTERS, element

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ---------------------------------------------------------------

digits = st.integers(0, 9).map(str)


def digit_text(n):
    return st.lists(digits, min_size=n, max_size=n).map("".join)


addresses = digit_text(12)
patterns = st.tuples(digit_text(12), st.lists(st.booleans(), min_size=6, max_size=6)).map(
    lambda t: "".join("AA" if w else t[0][2 * i:2 * i + 2] for i, w in enumerate(t[1])))
passwords = st.tuples(st.integers(0, 99), digit_text(6))
levels09 = st.tuples(st.integers(0, 9), digit_text(6))
datetimes = st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2099, 12, 31, 23, 59, 59))
rates = st.sampled_from([600, 1200, 2400, 4800, 9600, 19200])
di07 = st.integers(0, 0xFFFFFFFF)
di97 = st.integers(0, 0xFFFF)
preambles = st.integers(0, 6)


def _mdhm(dt):
    return "--%02d-%02dT%02d:%02d" % (dt.month, dt.day, dt.hour, dt.minute)


def part_values(part):
    """Values a part can hold, in the decoded form (module docstring of _formats)."""
    kind, size, decimals, signed = part
    if kind == F.NUM:
        limit = 100 ** size
        if signed:
            limit = 8 * limit // 10
        mags = st.integers(-(limit - 1) if signed else 0, limit - 1)
        return mags.map(lambda m: m / 10 ** decimals) if decimals else mags
    if kind == F.DIGITS:
        return digit_text(2 * size)
    if kind == F.ASCII:
        text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=size)
        return st.one_of(text, st.tuples(text, text).map(lambda t: (t[0] + " " + t[1])[:size].rstrip()))
    if kind == F.DATEW:
        return datetimes.map(lambda d: d.strftime("%Y-%m-%d"))
    if kind == F.TIME:
        return datetimes.map(lambda d: d.strftime("%H:%M:%S"))
    if kind == F.DT5:
        return datetimes.map(lambda d: d.strftime("%Y-%m-%dT%H:%M"))
    if kind == F.DT6:
        return datetimes.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"))
    if kind == F.MDHM:
        return datetimes.map(_mdhm)
    if kind == F.DH:
        return st.tuples(st.integers(1, 31), st.integers(0, 23)).map(lambda t: "---%02dT%02d" % t)
    if kind == F.BITS:
        return st.integers(0, 256 ** size - 1)
    if kind == F.RATE:
        return rates
    if kind == F.FREEZE:
        return digit_text(8)
    if kind == F.PASSWORD:
        return passwords
    if kind == F.RAW:
        return st.binary(min_size=size, max_size=size)
    raise AssertionError(kind)


def element_values(elem):
    if len(elem) == 1:
        return part_values(elem[0])
    return st.tuples(*[part_values(p) for p in elem])


# Every kind, with the sizes the registry uses and a few more.
PARTS = [
    (F.NUM, 1, 0, False), (F.NUM, 2, 1, False), (F.NUM, 2, 1, True), (F.NUM, 2, 3, True),
    (F.NUM, 3, 3, True), (F.NUM, 3, 4, True), (F.NUM, 3, 4, False), (F.NUM, 4, 2, False),
    (F.NUM, 4, 2, True), (F.NUM, 4, 0, False), (F.NUM, 2, 2, False),
    (F.DIGITS, 4, 0, False), (F.DIGITS, 6, 0, False), (F.ASCII, 6, 0, False), (F.ASCII, 32, 0, False),
    (F.DATEW, 4, 0, False), (F.TIME, 3, 0, False), (F.DT5, 5, 0, False), (F.DT6, 6, 0, False),
    (F.MDHM, 4, 0, False), (F.DH, 2, 0, False), (F.BITS, 1, 0, False), (F.BITS, 2, 0, False),
    (F.RATE, 1, 0, False), (F.FREEZE, 4, 0, False), (F.PASSWORD, 4, 0, False), (F.RAW, 5, 0, False),
]
PART_IDS = ["%s%d.%d%s" % (KIND_LETTERS[p[0]], p[1], p[2], "s" if p[3] else "") for p in PARTS]


def _tupled(v):
    return tuple(_tupled(x) for x in v) if isinstance(v, (list, tuple)) else v


# ---- value formats (§5) ---------------------------------------------------------

def test_kind_letters_match_format_constants():
    """_items.KIND_LETTERS indexes the kind constants of _formats."""
    names = ["NUM", "DIGITS", "ASCII", "DATEW", "TIME", "DT5", "DT6", "MDHM", "DH", "BITS", "RATE", "FREEZE",
             "PASSWORD", "RAW"]
    assert [getattr(F, n) for n in names] == list(range(len(KIND_LETTERS)))
    assert element("N3.4s+D5") == ((F.NUM, 3, 4, True), (F.DT5, 5, 0, False))


@pytest.mark.parametrize("part", PARTS, ids=PART_IDS)
@FAST
@given(data=st.data())
def test_part_round_trip_s5(part, data):
    """Every format kind: encode_part then decode_part gives the value back."""
    value = data.draw(part_values(part))
    plain = encode_part(part, value)
    assert len(plain) == part[1]
    assert F.decode_part(part, plain, 0) == value


@pytest.mark.parametrize("part", [p for p in PARTS if p[0] not in (F.RAW, F.BITS)],
                         ids=[i for p, i in zip(PARTS, PART_IDS) if p[0] not in (F.RAW, F.BITS)])
def test_none_is_all_ff_s13_5(part):
    """§13.5: a missing value is sent as FF bytes and decodes to None."""
    plain = encode_part(part, None)
    assert plain == b"\xff" * part[1]
    assert F.decode_part(part, plain, 0) is None


@FAST
@given(st.integers(0, 799999), st.booleans())
def test_signed_sign_magnitude_s5(mag, negative):
    """§5: bit 7 of the most significant (last) byte is the sign, never two's complement."""
    part = (F.NUM, 3, 4, True)
    value = (-mag if negative else mag) / 10000
    plain = encode_part(part, value)
    assert plain[2] & 0x80 == (0x80 if negative and mag else 0)
    assert F.decode_part(part, bytes(plain[:2]) + bytes((plain[2] & 0x7F,)), 0) == mag / 10000
    assert F.decode_part(part, plain, 0) == (value if mag else 0.0)


@FAST
@given(st.integers(0, 99999999))
def test_unsigned_top_bit_is_a_digit_s5(n):
    """§5: in unsigned fields bit 7 is an ordinary digit bit (812345.67 kWh)."""
    plain = encode_part((F.NUM, 4, 2, False), n / 100)
    assert F.decode_part((F.NUM, 4, 2, False), plain, 0) == n / 100


@pytest.mark.parametrize("elem", [element("N3.4+D5"), element("E6+E6"), element("N2.1"), element("N4.2s"),
                                  element("G4+E6+E6")], ids=["demand", "power_down", "voltage", "energy", "ts"])
@FAST
@given(data=st.data())
def test_block_round_trip_s13(elem, data):
    """Blocks (DI1 or DI0 = FF): the count follows from the length, never an assumed tariff count (§18)."""
    values = data.draw(st.lists(element_values(elem), min_size=1, max_size=6))
    plain = encode_elements(elem, 0, values)
    assert len(plain) == len(values) * F.element_size(elem)
    assert F.decode_elements(elem, 0, plain, 0, len(plain)) == _tupled(values)


# ---- frames: every function code (§7, §8, §9) ----------------------------------------

def _parsed(frame, std):
    f = parse_frame(frame, std)
    assert f.std == std
    return f


ITEMS_2007 = [i for i in known_items("2007") if i.repeat == 1 and i.element[0][0] != F.RAW]
ITEMS_1997 = [i for i in known_items("1997") if i.repeat == 1]


@FAST
@given(addresses, st.data())
def test_read_reply_of_every_known_item_2007_s8(address, data):
    """11H/91H: any registry item's value survives build_read_reply -> parse_frame."""
    item = data.draw(st.sampled_from(ITEMS_2007))
    value = data.draw(element_values(item.element))
    req = _parsed(build_read_request(address, item.di), "2007")
    assert (req.function, req.di, req.is_reply, req.address) == (0x11, item.di, False, address)
    rep = _parsed(build_read_reply(address, item.di, value), "2007")
    assert (rep.function, rep.is_reply, rep.is_error, rep.di, rep.di_name) == (0x11, True, False, item.di,
                                                                               item.name)
    assert rep.value == _tupled(value) and rep.unit == item.unit


@FAST
@given(addresses, st.data())
def test_read_reply_of_every_known_item_1997_s9(address, data):
    """01H/81H of 1997."""
    item = data.draw(st.sampled_from(ITEMS_1997))
    value = data.draw(element_values(item.element))
    req = _parsed(build_read_request(address, item.di, std="1997"), "1997")
    assert (req.function, req.di) == (0x01, item.di)
    rep = _parsed(build_read_reply(address, item.di, value, std="1997"), "1997")
    assert rep.value == _tupled(value) and rep.di_name == item.name


@FAST
@given(patterns, di07, st.one_of(st.none(), st.integers(0, 99)), st.one_of(st.none(), datetimes), preambles)
def test_read_request_2007_s8(address, di, count, since, preamble):
    """11H with L = 4, 5 (block count) or 10 (count and start time)."""
    assume(not (since is not None and count is None))
    text = since.strftime("%Y-%m-%dT%H:%M") if since else None
    f = _parsed(build_read_request(address, di, count=count, since=text, preamble=preamble), "2007")
    assert (f.address, f.di, f.count, f.value, f.preamble) == (address, di, count, text, preamble)


@FAST
@given(addresses, di07, st.integers(0, 255), st.binary(max_size=40), st.booleans())
def test_follow_up_2007_s8(address, di, seq, part, more):
    """12H request (DI + SEQ) and 92H/B2H replies (DI + data + SEQ)."""
    f = _parsed(build_follow_up_request(address, di, seq), "2007")
    assert (f.function, f.di, f.seq) == (0x12, di, seq)
    r = _parsed(build_read_reply(address, di, part, seq=seq, more=more), "2007")
    assert (r.function, r.has_more, r.di, r.seq, r.value, r.payload) == (0x12, more, di, seq, part, part)


@FAST
@given(addresses, di07, st.binary(max_size=40))
def test_b1_reply_keeps_raw_part_s7(address, di, part):
    """D5 = 1 (B1): the value is the first part of a block; kept raw for decode_value later."""
    f = _parsed(build_read_reply(address, di, part, more=True), "2007")
    assert f.has_more and f.value == part


@FAST
@given(addresses, st.integers(0, 255))
def test_error_replies_every_function_s10(address, bits):
    """Abnormal replies (D6 = 1) of every function that has a reply, any error byte (reserved bits kept)."""
    for std, functions in (("2007", (0x11, 0x12, 0x14, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C)),
                           ("1997", (0x01, 0x02, 0x03, 0x04, 0x0C, 0x0F, 0x10))):
        for fn in functions:
            f = _parsed(build_error_reply(address, fn, bits, std=std), std)
            assert (f.function, f.is_error, f.error_bits) == (fn, True, bits)
            assert len(f.errors) == bin(bits).count("1")


@FAST
@given(addresses)
def test_empty_normal_replies_every_function(address):
    for std, functions in (("2007", (0x14, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x1C)),
                           ("1997", (0x04, 0x0A, 0x10))):
        for fn in functions:
            f = _parsed(build_reply(address, fn, std=std), std)
            assert (f.function, f.is_reply, f.is_error, f.value) == (fn, True, False, None)


@FAST
@given(addresses, st.booleans())
def test_read_address_13_and_write_address_15_0a_s8_s9(address, old):
    f = _parsed(build_read_address_request(), "2007")
    assert (f.function, f.address) == (0x13, "AAAAAAAAAAAA")
    wire = bytes(int(address[i:i + 2], 16) for i in range(10, -2, -2))
    r = _parsed(build_reply(address, 0x13, wire), "2007")
    assert r.value == address == r.address
    std = "1997" if old else "2007"
    w = _parsed(build_write_address_request(address, std=std), std)
    assert (w.function, w.value) == (0x0A if old else 0x15, address)


@FAST
@given(datetimes, st.booleans())
def test_time_sync_08_both_editions_s8(when, old):
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    std = "1997" if old else "2007"
    f = _parsed(build_time_sync(text), std)
    assert (f.address, f.function, f.value) == ("999999999999", 0x08, text)


@FAST
@given(addresses, digit_text(8))
def test_freeze_16_s8(address, spec):
    f = _parsed(build_freeze_request(address, spec), "2007")
    assert (f.function, f.value) == (0x16, spec)


@FAST
@given(addresses, rates, st.booleans())
def test_change_rate_17_0c_s12(address, baud, old):
    std = "1997" if old else "2007"
    fn = 0x0C if old else 0x17
    f = _parsed(build_change_rate_request(address, baud, std=std), std)
    assert (f.function, f.value) == (fn, baud)
    z = bytes((baud // 300,))   # one-hot: 600 -> 02 ... 19200 -> 40
    assert _parsed(build_reply(address, fn, z, std=std), std).value == baud


@FAST
@given(addresses, passwords, levels09, st.booleans())
def test_change_password_18_0f_s8_s9(address, old_pw, new_pw, old):
    std = "1997" if old else "2007"
    f = _parsed(build_change_password_request(address, old_pw, new_pw, std=std), std)
    assert (f.password, f.new_password) == (old_pw, new_pw)
    if not old:
        assert f.di == 0x04000C01 + new_pw[0]   # §18: level n is 04000C01 + n
    plain = encode_part((F.PASSWORD, 4, 0, False), new_pw)
    assert _parsed(build_reply(address, 0x0F if old else 0x18, bytes(plain), std=std), std).new_password == new_pw


@FAST
@given(addresses, passwords, digit_text(8))
def test_demand_reset_meter_clear_event_clear_19_1a_1b_s8(address, pw, op):
    f = _parsed(build_demand_reset_request(address, pw, op), "2007")
    assert (f.function, f.password, f.operator) == (0x19, pw, op)
    f = _parsed(build_meter_clear_request(address, pw, op), "2007")
    assert (f.function, f.password, f.operator) == (0x1A, pw, op)
    f = _parsed(build_event_clear_request(address, pw, op, di=0x03300000), "2007")
    assert (f.function, f.password, f.operator, f.di) == (0x1B, pw, op, 0x03300000)
    f = _parsed(build_demand_reset_request(address, pw, std="1997"), "1997")
    assert (f.function, f.password) == (0x10, pw)


@FAST
@given(addresses, st.sampled_from(sorted(CONTROL_COMMANDS)), datetimes, passwords)
def test_control_1c_s8(address, command, deadline, pw):
    text = deadline.strftime("%Y-%m-%dT%H:%M:%S")
    f = _parsed(build_control_request(address, CONTROL_COMMANDS[command], text, pw), "2007")
    assert (f.function, f.value, f.password) == (0x1C, (command, text), pw)


@FAST
@given(addresses, passwords, digit_text(8), datetimes)
def test_write_14_and_04_s8_s9(address, pw, op, when):
    t = when.strftime("%H:%M:%S")
    f = _parsed(build_write_request(address, 0x04000102, t, pw, op), "2007")
    assert (f.function, f.di, f.value, f.password, f.operator) == (0x14, 0x04000102, t, pw, op)
    f = _parsed(build_write_request(address, 0xC011, t, pw, std="1997"), "1997")
    assert (f.function, f.di, f.value, f.password, f.operator) == (0x04, 0xC011, t, pw, None)


@FAST
@given(addresses, di97)
def test_1997_follow_up_02_and_reread_03_s9(address, di):
    assert _parsed(build_follow_up_request(address, di, std="1997"), "1997").di == di
    f = _parsed(build_reread_request(address), "1997")
    assert (f.function, f.di) == (0x03, None)


# ---- robustness: only DLT645Error, ever --------------------------------------------

def _only_our_errors(fn, *args):
    try:
        fn(*args)
    except DLT645Error:
        pass


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([None, "2007", "1997"]))
def test_random_bytes_parse_frame(data, std):
    _only_our_errors(parse_frame, data, std)


@st.composite
def mutated_frames(draw):
    """A valid frame (a §15 vector or a fresh reply) with bytes flipped, then its CS fixed or not."""
    item = draw(st.sampled_from(ITEMS_2007 + ITEMS_1997))
    value = draw(element_values(item.element))
    frame = bytearray(build_read_reply("202311150042", item.di, value, std=item.std))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(frame) - 1))
        frame[i] = draw(st.integers(0, 255))
    if draw(st.booleans()) and len(frame) >= 12 and 12 + frame[9] == len(frame):
        frame[-2] = sum(frame[:-2]) & 0xFF   # valid envelope, mutated content
    return bytes(frame)


@FUZZ
@given(mutated_frames())
def test_mutated_frames_parse_frame(frame):
    _only_our_errors(parse_frame, frame)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=40), mutated_frames()), max_size=8),
       st.lists(st.integers(0, 2000), max_size=8))
def test_random_stream_extractor(chunks, times):
    """The extractor never raises, emits only envelope-valid frames, and stays bounded."""
    ex = FrameExtractor()
    now = 0
    for i, chunk in enumerate(chunks):
        if i < len(times):
            now += times[i]
        for frame in ex.feed(chunk, now):
            assert frame[0] == 0x68 and frame[-1] == 0x16 and len(frame) == 12 + frame[9]
            _only_our_errors(parse_frame, frame)
        assert ex.pending <= 267


@FUZZ
@given(st.one_of(di07, st.sampled_from([i.di for i in ITEMS_2007])), st.binary(max_size=64))
def test_random_payload_decode_value_2007(di, payload):
    _only_our_errors(decode_value, di, payload)


@FUZZ
@given(st.one_of(di97, st.sampled_from([i.di for i in ITEMS_1997])), st.binary(max_size=64))
def test_random_payload_decode_value_1997(di, payload):
    _only_our_errors(decode_value, di, payload, "1997")


# ---- registry (§13, §14) -----------------------------------------------------------------

@pytest.mark.parametrize("std", ["2007", "1997"])
def test_registry_names_unique_and_invert(std):
    items = list(known_items(std))
    names = [i.name for i in items]
    assert len(names) == len(set(names))
    dis = [i.di for i in items]
    assert len(dis) == len(set(dis))
    for item in random.Random(3).sample(items, min(len(items), 400)):
        assert di_for_name(item.name, std) == item.di
        assert parse_di(item.name, std) == item.di
        assert parse_di(format_di(item.di, std), std) == item.di
        assert parse_di("0x" + format_di(item.di, std).lower(), std) == item.di
        assert describe(item.di, std).name == item.name


def test_names_shared_between_editions_s14():
    """Where the meaning is the same the name is the same (forward_active_total: 00010000 / 9010)."""
    assert di_for_name("forward_active_total") == 0x00010000
    assert di_for_name("forward_active_total", "1997") == 0x9010
    assert di_for_name("voltage_a", "1997") == 0xB611
    assert di_for_name("reactive_q2_total", "1997") == 0x9150   # §14: 9150 is quadrant II


@pytest.mark.parametrize("di, std, name, unit, signed", [
    (0x00000000, "2007", "combined_active_total", "kWh", True),
    (0x00010000, "2007", "forward_active_total", "kWh", False),
    (0x00030000, "2007", "combined_reactive_1_total", "kvarh", True),
    (0x01030000, "2007", "max_demand_combined_reactive_1_total", "kvar", True),
    (0x02020100, "2007", "current_a", "A", True),
    (0x02800007, "2007", "temperature", "degC", True),
    (0x02800002, "2007", "frequency", "Hz", False),
    (0x02070100, "2007", "phase_angle_a", "deg", False),
    (0xB630, "1997", "active_power_total", "kW", True),
    (0xB650, "1997", "power_factor_total", "", True),
    (0xB621, "1997", "current_a", "A", False),
    (0x9010, "1997", "forward_active_total", "kWh", False),
])
def test_signed_fields_s5(di, std, name, unit, signed):
    """§5: only fields defined as signed carry a sign; 1997 only power and PF."""
    item = describe(di, std)
    assert (item.name, item.unit, item.element[0][3]) == (name, unit, signed)


@FAST
@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=10))
def test_parse_di_hex_widths(text):
    """parse_di accepts exactly 8 hex digits for 2007 and 4 for 1997, with or without 0x."""
    for std, width in (("2007", 8), ("1997", 4)):
        for candidate in (text, "0x" + text):
            digits_only = len(text)
            if digits_only == width:
                assert parse_di(candidate, std) == int(text, 16)
            else:
                with pytest.raises(DataIdentifierError):
                    parse_di(candidate, std)


@FAST
@given(st.text(max_size=20))
def test_parse_di_random_text_only_our_errors(text):
    _only_our_errors(parse_di, text)
    _only_our_errors(parse_di, text, "1997")


@FAST
@given(st.sampled_from(ITEMS_2007), st.data())
def test_encode_value_decode_value_round_trip(item, data):
    value = data.draw(element_values(item.element))
    assert decode_value(item.di, encode_value(item.di, value)) == (_tupled(value), item.unit)


@FAST
@given(st.integers(0, 0x0A), st.integers(1, 0x3F), st.sampled_from(list(range(13)) + [0xFF]), st.booleans())
def test_every_tariff_name_round_trips_s13_1(d2, d1, d0, demand):
    """§13.1/§13.2: DI1 is the tariff 1-63; every tariff's name inverts, not only the four listed."""
    di = (0x01000000 if demand else 0) | (d2 << 16) | (d1 << 8) | d0
    item = describe(di)
    assume(item is not None)   # no combined-active maximum demand
    assert di_for_name(item.name) == di
