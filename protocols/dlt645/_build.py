# MicroPython-compatible: see STYLE.md
"""Building DL/T 645 frames: reads (§8, §9) and meter replies.

Every builder returns the complete frame as bytes, with the requested number
of FE preamble bytes (masters usually send 4, §16; meters reply with 0 or 4).
Values go through the registry of the DI unless given as raw plain bytes.
The other master commands (writes, settings, clears) are in _commands.py.
"""

import struct

from ._encode import encode_elements, encode_part
from ._envelope import edition_of
from ._errors import DataIdentifierError, LengthError, ValueFormatError
from ._formats import DT5, decode_elements
from ._items import STANDARDS, STD_1997, STD_2007, format_di
from ._names import parse_di
from ._registry import describe
from ._wire import ADD33, WILDCARD, encode_address

_PREAMBLES = (b"", b"\xfe", b"\xfe\xfe", b"\xfe\xfe\xfe", b"\xfe\xfe\xfe\xfe")


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
    di = _di_value(di, std)
    item = describe(di, std)
    if item is None:
        return bytes(payload), ""
    label = item.label
    if label is None:
        label = item.label = "value of %s" % format_di(di, std)
    return decode_elements(item.element, item.repeat, payload, 0, len(payload), label), item.unit


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
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 255:
            raise ValueFormatError("follow-up sequence %r is not 0-255" % (seq,), expected="0-255", got=seq)
        return build_reply(address, 0x12, data + bytes((seq,)), std, more, preamble)
    return build_reply(address, 0x11, data, std, more, preamble)


def build_error_reply(address, function, error_bits, std=None, preamble=0):
    """Build an abnormal reply (C = 0xC0 | f, one error byte, §10)."""
    edition_of(function, std)
    if not isinstance(error_bits, int) or not 0 <= error_bits <= 255:
        raise ValueFormatError("error byte %r is not 0-255" % (error_bits,), got=error_bits)
    return build_frame(address, 0xC0 | function, bytes((error_bits,)), preamble)
