# MicroPython-compatible: see STYLE.md
"""Building DL/T 645 frames: master requests (§8, §9) and meter replies.

Every builder returns the complete frame as bytes, with the requested number
of FE preamble bytes (masters usually send 4, §16; meters reply with 0 or 4).
Passwords are ``(level, "123456")`` tuples and operator codes 8-digit text
(§11). Values go through the registry of the DI unless given as raw plain
bytes.
"""

import struct

from ._errors import DataIdentifierError, LengthError, ValueFormatError
from ._formats import (DT5, DT6, FREEZE, RATE, encode_digits, encode_elements, encode_part,
                       encode_password)
from ._frame import edition_of
from ._registry import STD_1997, STD_2007, STANDARDS, describe, format_di, parse_di
from ._wire import ADD33, BROADCAST, WILDCARD, encode_address

_PREAMBLES = (b"", b"\xfe", b"\xfe\xfe", b"\xfe\xfe\xfe", b"\xfe\xfe\xfe\xfe")
DEFAULT_PASSWORD = (2, "000000")
DEFAULT_OPERATOR = "00000000"


def _preamble(n):
    if not isinstance(n, int) or n < 0:
        raise LengthError("preamble count %r is not a non-negative integer" % (n,), got=n)
    return _PREAMBLES[n] if n < 5 else b"\xfe" * n


def build_frame(address, control, data=b"", preamble=4):
    """Build a frame from plain DATA bytes.

    Args:
        address: 12-character address (digits, AA pairs, or 999999999999).
        control: the control byte C.
        data: plain DATA bytes (scrambled here).
        preamble: number of FE bytes in front.

    Raises:
        AddressError: bad address. LengthError: more than 255 data bytes.
    """
    a = encode_address(address)
    n = len(data)
    if n > 255:
        raise LengthError("data field of %d bytes does not fit the length byte (max 255)" % n,
                          expected="<= 255", got=n)
    out = bytearray(12 + n)
    out[0] = 0x68
    out[1:7] = a
    out[7] = 0x68
    out[8] = control & 0xFF
    out[9] = n
    for i in range(n):
        out[10 + i] = ADD33[data[i]]
    out[10 + n] = sum(out[0:10 + n]) & 0xFF
    out[11 + n] = 0x16
    return _preamble(preamble) + bytes(out)


def _di_value(di, std):
    """Accept a DI as int or as text (hex or name)."""
    if std not in STANDARDS:
        raise DataIdentifierError("unknown standard %r, expected 2007 or 1997" % (std,), got=std)
    if isinstance(di, str):
        return parse_di(di, std)
    limit = 0xFFFF if std == STD_1997 else 0xFFFFFFFF
    if isinstance(di, bool) or not isinstance(di, int) or di < 0 or di > limit:
        raise DataIdentifierError("data identifier %r is not a DL/T 645-%s DI (0-0x%X)" % (di, std, limit),
                                  expected="0-0x%X" % limit, got=di)
    return di


def _di_bytes(di, std):
    if std == STD_1997:
        return struct.pack("<H", di)
    return struct.pack("<I", di)


def build_read_request(address, di, std=STD_2007, preamble=4, count=None, since=None):
    """Build a read-data request: 11H (2007) or 01H (1997).

    Args:
        address: the meter's 12-digit address, or a shortened AA pattern.
        di: data identifier as int, hex text or registry name.
        std: "2007" or "1997".
        preamble: FE bytes in front (4 by default, §16).
        count: 2007 load-profile block count N (L = 5), optional.
        since: 2007 load-profile start "YYYY-MM-DDThh:mm" (L = 10), needs count.

    Raises:
        DataIdentifierError, AddressError, ValueFormatError.
    """
    di = _di_value(di, std)
    a = encode_address(address)
    if std == STD_1997:
        if count is not None or since is not None:
            raise ValueFormatError("DL/T 645-1997 read requests carry no block count or start time")
        w = ((di & 0x7F7F) + 0x3333) ^ (di & 0x8080)
        body = b"\x68" + a + b"\x68\x01\x02" + struct.pack("<H", w)
    elif count is None and since is None:
        # Fast path: add 0x33 to each of the 4 DI bytes at once. Masking bit 7
        # keeps carries inside each byte; the XOR puts bit 7 back (mod 256).
        w = ((di & 0x7F7F7F7F) + 0x33333333) ^ (di & 0x80808080)
        body = b"\x68" + a + b"\x68\x11\x04" + struct.pack("<I", w)
    else:
        if count is None:
            raise ValueFormatError("a load-profile start time needs a block count")
        data = bytearray(_di_bytes(di, std)) + encode_part((0, 1, 0, False), count, "block count")
        if since is not None:
            data += encode_part((DT5, 5, 0, False), since, "load-profile start time")
        return build_frame(address, 0x11, data, preamble)
    return _preamble(preamble) + body + bytes((sum(body) & 0xFF, 0x16))


def build_follow_up_request(address, di, seq=1, std=STD_2007, preamble=4):
    """Build a read-follow-up request: 12H with DI + SEQ (2007), 02H with DI (1997)."""
    di = _di_value(di, std)
    if std == STD_1997:
        return build_frame(address, 0x02, _di_bytes(di, std), preamble)
    if not isinstance(seq, int) or seq < 0 or seq > 255:
        raise ValueFormatError("follow-up sequence %r is not 0-255" % (seq,), got=seq)
    return build_frame(address, 0x12, _di_bytes(di, std) + bytes((seq,)), preamble)


def build_reread_request(address, preamble=4):
    """Build a 1997 re-read request (03H, L = 0)."""
    return build_frame(address, 0x03, b"", preamble)


def build_read_address_request(preamble=4):
    """Build the 2007 read-communication-address request (13H to AA...AA)."""
    return build_frame(WILDCARD, 0x13, b"", preamble)


def _value_bytes(di, std, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    item = describe(di, std)
    if item is None:
        raise DataIdentifierError("DI %s is unknown to the registry; give its value as raw bytes"
                                  % format_di(di, std), got=di)
    return encode_elements(item.element, item.repeat, value, "value of %s" % format_di(di, std))


def encode_value(di, value, std=STD_2007):
    """Encode a value of a DI to plain bytes through the registry.

    Raises:
        DataIdentifierError: unknown DI (and value not bytes).
        ValueFormatError: value of the wrong type or out of range.
    """
    return _value_bytes(_di_value(di, std), std, value)


def decode_value(di, payload, std=STD_2007):
    """Decode plain value bytes of a DI; raw bytes back when the DI is unknown.

    Used to decode a block assembled from follow-up frames.

    Returns:
        (value, unit)
    """
    from ._formats import decode_elements
    di = _di_value(di, std)
    item = describe(di, std)
    if item is None:
        return bytes(payload), ""
    return (decode_elements(item.element, item.repeat, payload, 0, len(payload),
                            "value of %s" % format_di(di, std)), item.unit)


def _password(password, what="password"):
    if not isinstance(password, tuple) or len(password) != 2:
        raise ValueFormatError("%s must be (level, \"123456\"), got %r" % (what, password), got=password)
    return encode_password(password[0], password[1], what)


def build_write_request(address, di, value, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                        std=STD_2007, preamble=4):
    """Build a write-data request: 14H (DI, password, operator, value) or 1997 04H.

    ``value`` is encoded through the registry, or given as raw plain bytes.
    """
    di = _di_value(di, std)
    data = bytearray(_di_bytes(di, std)) + _password(password)
    if std == STD_2007:
        data += encode_digits(operator, 4, "operator code")
    data += _value_bytes(di, std, value)
    return build_frame(address, 0x04 if std == STD_1997 else 0x14, data, preamble)


def build_write_address_request(new_address, std=STD_2007, address=WILDCARD, preamble=4):
    """Build a write-address request: 15H to AA...AA (2007) or 0AH (1997)."""
    data = encode_address(new_address)
    return build_frame(address, 0x0A if std == STD_1997 else 0x15, data, preamble)


def build_time_sync(when, preamble=4):
    """Build the broadcast time sync (08H to 99...99), ``when`` = "YYYY-MM-DDThh:mm:ss".

    No meter replies to it (§8).
    """
    return build_frame(BROADCAST, 0x08, encode_part((DT6, 6, 0, False), when, "time-sync time"), preamble)


def build_freeze_request(address, spec="99999999", preamble=4):
    """Build a freeze command (16H), ``spec`` = "MMDDhhmm" with 99 for "every".

    "99999999" freezes now; to 999999999999 it is a broadcast freeze.
    """
    return build_frame(address, 0x16, encode_part((FREEZE, 4, 0, False), spec, "freeze time"), preamble)


def build_change_rate_request(address, baud, std=STD_2007, preamble=4):
    """Build a change-rate request: 17H (2007) or 0CH (1997) with the Z word (§12)."""
    return build_frame(address, 0x0C if std == STD_1997 else 0x17,
                       encode_part((RATE, 1, 0, False), baud, "rate"), preamble)


def build_change_password_request(address, old, new, std=STD_2007, preamble=4):
    """Build a change-password request.

    2007 (18H): DI 04000C01 + new level, old password, new password.
    1997 (0FH): old password, new password.
    """
    data = bytearray()
    if std == STD_2007:
        if not isinstance(new, tuple) or not isinstance(new[0], int) or not 0 <= new[0] <= 9:
            raise ValueFormatError("new password level must be 0-9, got %r" % (new,), got=new)
        data += struct.pack("<I", 0x04000C01 + new[0])
    data += _password(old, "old password") + _password(new, "new password")
    return build_frame(address, 0x0F if std == STD_1997 else 0x18, data, preamble)


def build_demand_reset_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                               std=STD_2007, preamble=4):
    """Build a maximum-demand reset: 19H (password + operator) or 1997 10H (password)."""
    if std == STD_1997:
        return build_frame(address, 0x10, _password(password), preamble)
    data = _password(password) + encode_digits(operator, 4, "operator code")
    return build_frame(address, 0x19, data, preamble)


def build_meter_clear_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR, preamble=4):
    """Build a 2007 meter-clear request (1AH)."""
    data = _password(password) + encode_digits(operator, 4, "operator code")
    return build_frame(address, 0x1A, data, preamble)


def build_event_clear_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                              di=0xFFFFFFFF, preamble=4):
    """Build a 2007 event-clear request (1BH); DI FFFFFFFF clears all events."""
    di = _di_value(di, STD_2007)
    data = _password(password) + encode_digits(operator, 4, "operator code") + struct.pack("<I", di)
    return build_frame(address, 0x1B, data, preamble)


CONTROL_COMMANDS = {0x1A: "trip", 0x1B: "closing_allowed", 0x1C: "close_now", 0x2A: "alarm_on",
                    0x2B: "alarm_off", 0x3A: "keep_power", 0x3B: "keep_power_off"}


def build_control_request(address, command, deadline, password=DEFAULT_PASSWORD,
                          operator=DEFAULT_OPERATOR, preamble=4):
    """Build a 2007 control request (1CH, 2013 addendum).

    Args:
        command: N1 as int (0x1A trip ... 0x3B) or its name ("trip").
        deadline: validity deadline "YYYY-MM-DDThh:mm:ss".
    """
    if isinstance(command, str):
        for code in CONTROL_COMMANDS:
            if CONTROL_COMMANDS[code] == command:
                command = code
                break
    if command not in CONTROL_COMMANDS:
        raise ValueFormatError("control command %r is not one of %s" % (command, sorted(CONTROL_COMMANDS.values())),
                               got=command)
    data = (_password(password) + encode_digits(operator, 4, "operator code") + bytes((command, 0))
            + encode_part((DT6, 6, 0, False), deadline, "control deadline"))
    return build_frame(address, 0x1C, data, preamble)


# ---- meter side -------------------------------------------------------------

def build_reply(address, function, data=b"", std=None, more=False, preamble=0):
    """Build a normal reply (C = 0x80 | f, plus 0x20 when more frames follow)."""
    edition_of(function, std)
    return build_frame(address, 0x80 | function | (0x20 if more else 0), data, preamble)


def build_read_reply(address, di, payload, std=STD_2007, more=False, seq=None, preamble=0):
    """Build a read reply: 91H/B1H (2007 11H), 92H/B2H with ``seq`` (12H), 81H/A1H (1997).

    Args:
        payload: the value as plain bytes, or a value encoded through the registry.
    """
    di = _di_value(di, std)
    payload = _value_bytes(di, std, payload)
    data = _di_bytes(di, std) + payload
    if std == STD_1997:
        return build_reply(address, 0x01, data, std, more, preamble)
    if seq is not None:
        return build_reply(address, 0x12, data + bytes((seq,)), std, more, preamble)
    return build_reply(address, 0x11, data, std, more, preamble)


def build_error_reply(address, function, error_bits, std=None, preamble=0):
    """Build an abnormal reply (C = 0xC0 | f, one error byte, §10)."""
    edition_of(function, std)
    if not isinstance(error_bits, int) or not 0 <= error_bits <= 255:
        raise ValueFormatError("error byte %r is not 0-255" % (error_bits,), got=error_bits)
    return build_frame(address, 0xC0 | function, bytes((error_bits,)), preamble)
