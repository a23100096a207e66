"""Every DL/T 645 error says what, where, and expected vs got (STYLE.md "Errors").

Messages are checked for the facts they must carry; the same facts are on the
exception as ``offset``, ``expected`` and ``got``.
"""

import pytest

from protocols.dlt645 import (AddressError, BCDError, ChecksumError, ControlCodeError, DataIdentifierError,
                              DLT645Error, EndByteError, FrameError, LengthError, ValueFormatError,
                              build_frame, build_read_reply, build_read_request, build_write_request,
                              decode_value, encode_address, encode_value, normalize_address, parse_di,
                              parse_frame)

W1_REPLY = bytes.fromhex("68420015112320689108333334339A7856347D16")   # §15 W1
W1_REQUEST = bytes.fromhex("FEFEFEFE68420015112320681104333334335D16")


def test_hierarchy():
    """One family under DLT645Error; envelope errors under FrameError."""
    for cls in (FrameError, LengthError, ChecksumError, EndByteError, ControlCodeError, BCDError,
                AddressError, ValueFormatError, DataIdentifierError):
        assert issubclass(cls, DLT645Error)
    for cls in (LengthError, ChecksumError, EndByteError):
        assert issubclass(cls, FrameError)


def test_checksum_error_names_received_computed_and_offset_s3():
    """§3: CS is the sum from the first 68; the message gives both values and the byte."""
    bad = bytearray(W1_REPLY)
    bad[18] = 0x3A
    with pytest.raises(ChecksumError) as info:
        parse_frame(bytes(bad))
    e = info.value
    assert (e.offset, e.expected, e.got) == (18, 0x7D, 0x3A)
    assert "0x3A" in str(e) and "0x7D" in str(e) and "byte 18" in str(e)


def test_checksum_offset_counts_the_preamble_s2():
    bad = bytearray(W1_REQUEST)
    bad[-2] ^= 1
    with pytest.raises(ChecksumError) as info:
        parse_frame(bytes(bad))
    assert info.value.offset == len(W1_REQUEST) - 2
    assert "byte %d" % (len(W1_REQUEST) - 2) in str(info.value)


def test_end_byte_error_s2():
    bad = W1_REPLY[:-1] + b"\x17"
    with pytest.raises(EndByteError) as info:
        parse_frame(bad)
    e = info.value
    assert (e.offset, e.expected, e.got) == (19, 0x16, 0x17)
    assert "0x17" in str(e) and "byte 19" in str(e) and "0x16" in str(e)


def test_start_bytes_s2():
    with pytest.raises(FrameError) as info:
        parse_frame(b"\x67" + W1_REPLY[1:])
    assert (info.value.offset, info.value.expected, info.value.got) == (0, 0x68, 0x67)
    bad = bytearray(W1_REPLY)
    bad[7] = 0x00
    with pytest.raises(FrameError) as info:
        parse_frame(bytes(bad))
    assert info.value.offset == 7
    assert "second start byte" in str(info.value)


def test_short_frame_and_wrong_length_byte_s2():
    """§2: a frame is exactly 12 + L bytes."""
    with pytest.raises(LengthError) as info:
        parse_frame(W1_REPLY[:11])
    assert "at least 12" in str(info.value)
    with pytest.raises(LengthError) as info:
        parse_frame(W1_REPLY + b"\x00")
    e = info.value
    assert (e.offset, e.expected, e.got) == (9, 20, 21)
    assert "L=8" in str(e) and "byte 9" in str(e)


def test_layout_length_names_the_function_s8():
    """§8: 13H read-address reply has L = 6; L = 2 is reported with the function's name."""
    with pytest.raises(LengthError) as info:
        parse_frame(build_frame("202311150042", 0x93, b"\x01\x02", preamble=0))
    assert "read_address" in str(info.value) and "L=6" in str(info.value) and "L=2" in str(info.value)
    assert info.value.expected == "6" and info.value.got == 2


def test_abnormal_reply_needs_one_error_byte_s10():
    with pytest.raises(LengthError) as info:
        parse_frame(build_frame("202311150042", 0xD1, b"\x01\x02", preamble=0))
    assert "abnormal reply" in str(info.value)


@pytest.mark.parametrize("control, std, text", [
    (0x05, None, "unknown control code"),
    (0x85, None, "unknown control code"),
    (0x11, "1997", "not a DL/T 645-1997 function"),
    (0x01, "2007", "not a DL/T 645-2007 function"),
])
def test_unknown_control_code_s7(control, std, text):
    """§7: function codes of each edition; anything else is named in the error."""
    with pytest.raises(ControlCodeError) as info:
        parse_frame(build_frame("202311150042", control, preamble=0), std)
    assert text in str(info.value)
    assert info.value.got == control & 0x1F


def test_request_with_reply_flags_s7():
    """§7: D6 (error) and D5 (follow-up) only exist with D7 = 1."""
    with pytest.raises(ControlCodeError) as info:
        parse_frame(build_frame("202311150042", 0x51, b"\x00\x00\x01\x00", preamble=0))
    assert info.value.offset == 8 and "0x51" in str(info.value)


def test_reply_to_broadcast_time_sync_s8():
    """§8: 08H has no reply."""
    with pytest.raises(ControlCodeError) as info:
        parse_frame(build_frame("202311150042", 0x88, preamble=0))
    assert "has no reply" in str(info.value)


def test_bcd_digit_error_names_byte_and_value_s5():
    """§5: a nibble above 9 in a numeric field is an error."""
    frame = build_read_reply("202311150042", 0x00010000, b"\x6a\x45\x23\x01")
    with pytest.raises(BCDError) as info:
        parse_frame(frame)
    e = info.value
    assert e.got == 0x6A and e.offset == 0
    assert "0x6A" in str(e) and "00010000" in str(e) and "data byte 0" in str(e)


def test_time_out_of_range_s5():
    frame = build_read_reply("202311150042", 0x04000102, b"\x00\x61\x08")   # 08:61:00
    with pytest.raises(BCDError) as info:
        parse_frame(frame)
    assert "minute 61" in str(info.value) and info.value.got == 61


def test_header_address_not_bcd_s6():
    frame = bytearray(W1_REPLY)
    frame[1] = 0x4B
    frame[-2] = (frame[-2] + 0x09) & 0xFF
    with pytest.raises(AddressError) as info:
        parse_frame(bytes(frame))
    assert info.value.offset == 1 and "0x4B" in str(info.value)


def test_value_of_wrong_length_s13():
    with pytest.raises(ValueFormatError) as info:
        parse_frame(build_read_reply("202311150042", 0x00010000, b"\x00\x00\x01"))
    assert "3 bytes" in str(info.value) and "needs 4" in str(info.value)
    assert (info.value.expected, info.value.got) == (4, 3)


def test_rate_word_must_have_one_bit_s12():
    with pytest.raises(ValueFormatError) as info:
        parse_frame(build_frame("202311150042", 0x17, b"\x30", preamble=0))
    assert "0x30" in str(info.value)


@pytest.mark.parametrize("value, text", [
    (-1.0, "negative"), (1e9, "does not fit"), ("x", "expected a number"), (float("nan"), "finite"),
])
def test_encode_value_errors_s5(value, text):
    with pytest.raises(ValueFormatError) as info:
        encode_value(0x00010000, value)
    assert text in str(info.value) and "00010000" in str(info.value)


def test_signed_limit_s5():
    """§5: signed fields top out at 79.9999 kW; 80 needs the sign bit."""
    encode_value(0x02030000, 79.9999)
    with pytest.raises(ValueFormatError):
        encode_value(0x02030000, 80.0)


@pytest.mark.parametrize("text, std, fragment", [
    ("0001000", "2007", "unknown data identifier name"),
    ("9010", "2007", "has 4 hex digits; DL/T 645-2007 uses 8"),
    ("00010000", "1997", "has 8 hex digits; DL/T 645-1997 uses 4"),
    ("0x12345", "2007", "has 5 hex digits"),
    ("0xZZ", "2007", "not hexadecimal"),
    ("no_such_item", "2007", "unknown data identifier name 'no_such_item'"),
    ("9010", "1996", "unknown standard"),
])
def test_parse_di_errors_s13_s14(text, std, fragment):
    with pytest.raises(DataIdentifierError) as info:
        parse_di(text, std)
    assert fragment in str(info.value)


def test_builder_rejects_bad_di():
    with pytest.raises(DataIdentifierError) as info:
        build_read_request("202311150042", 0x1_0000_0000)
    assert "0-0xFFFFFFFF" in str(info.value)
    with pytest.raises(DataIdentifierError):
        build_read_request("202311150042", 0x12345, std="1997")
    with pytest.raises(DataIdentifierError):
        build_write_request("202311150042", 0x06000001, 1)   # unknown DI, value not raw bytes


@pytest.mark.parametrize("address", ["20231115004", "2023111500AB", "20231115004X", 202311150042])
def test_address_errors_s6(address):
    with pytest.raises(AddressError) as info:
        encode_address(address)
    assert str(address) in str(info.value) or repr(address) in str(info.value)


def test_normalize_address_s6():
    assert normalize_address("RS3430163") == "000003430163"
    with pytest.raises(AddressError) as info:
        normalize_address("1234567890123")
    assert (info.value.expected, info.value.got) == (12, 13)
    with pytest.raises(AddressError):
        normalize_address("RS")


def test_decode_value_errors():
    with pytest.raises(ValueFormatError):
        decode_value(0x0201FF00, b"\x01\x22\x98")   # block of 2-byte items, odd length
    assert decode_value(0x06000001, b"\x01") == (b"\x01", "")


def test_errors_never_swallowed_each_message_nonempty():
    """STYLE.md: never swallow errors; every raised error carries a message."""
    cases = [b"", b"\x68", W1_REPLY[:-2], b"\xfe" * 20]
    for data in cases:
        with pytest.raises(DLT645Error) as info:
            parse_frame(data)
        assert info.value.message
