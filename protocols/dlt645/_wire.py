# MicroPython-compatible: see STYLE.md
"""Byte-level helpers: +0x33 scrambling, BCD, addresses, checksum.

Tables are built once at import and never changed. Addresses are the
12-digit nameplate strings used everywhere outside this package; the reversed
wire order (A0, the lowest two digits, first: DL/T 645 §6) never leaves here.
"""

import sys
from array import array

from ._errors import AddressError

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

START = const(0x68)
END = const(0x16)
PREAMBLE_BYTE = const(0xFE)
WILDCARD = "AAAAAAAAAAAA"
BROADCAST = "999999999999"

# Scrambling tables (DL/T 645 §4): every DATA byte goes out as plain + 0x33.
ADD33 = bytes([(i + 0x33) & 0xFF for i in range(256)])
SUB33 = bytes([(i - 0x33) & 0xFF for i in range(256)])

# BCD_VALUE[b] is the value 0..99 of a packed-BCD byte, or -1 when a nibble
# is above 9 (signed bytes: 256 bytes instead of a 2 KB list on MicroPython).
# BCD_BYTE[v] is the packed byte of 0..99.
BCD_VALUE = array("b", bytes(256))
for _b in range(256):
    BCD_VALUE[_b] = (_b >> 4) * 10 + (_b & 15) if _b >> 4 < 10 and _b & 15 < 10 else -1
BCD_BYTE = bytes([(v // 10) * 16 + v % 10 for v in range(100)])

# Bounded caches: concentrators address the same few hundred meters again and
# again, so encoding each nameplate string once pays off. The bound keeps a
# long-running process (or a fuzzer) from growing them without limit; on
# MicroPython an entry costs about 150 bytes of a 128 KB heap, and a meter
# sees few addresses, so the bound there is small.
CACHE_MAX = 32 if sys.implementation.name == "micropython" else 4096
_addr_wire = {}
_addr_text = {}


def scramble(plain):
    """Return the wire form of plain DATA bytes (each + 0x33 mod 256)."""
    return bytes([ADD33[b] for b in plain])


def unscramble(wire):
    """Return the plain form of wire DATA bytes (each - 0x33 mod 256)."""
    return bytes([SUB33[b] for b in wire])


def checksum(buf, start, end):
    """Sum of buf[start:end] mod 256 (DL/T 645 §3)."""
    return sum(buf[start:end]) & 0xFF


def normalize_address(nameplate):
    """Turn a nameplate string into the 12-digit address form.

    Letters and separators are dropped and the digits left-padded with zeros
    (DL/T 645 §6: ``RS3430163`` -> ``000003430163``).

    Raises:
        AddressError: no digits, or more than 12.
    """
    digits = "".join([ch for ch in str(nameplate) if "0" <= ch <= "9"])
    if not digits:
        raise AddressError("address %r has no digits" % (nameplate,), got=nameplate)
    if len(digits) > 12:
        raise AddressError(
            "address %r has %d digits, at most 12 fit" % (nameplate, len(digits)),
            expected=12, got=len(digits))
    return "0" * (12 - len(digits)) + digits


def encode_address(address):
    """Return the 6 wire bytes of a 12-character address, A0 first.

    Each pair of characters is two decimal digits or ``AA`` (a wildcard byte).

    Raises:
        AddressError: wrong type or length, or a pair that is neither.
    """
    try:
        wire = _addr_wire.get(address)
    except TypeError:   # unhashable: certainly not an address
        wire = None
    if wire is not None:
        return wire
    if not isinstance(address, str) or len(address) != 12:
        raise AddressError(
            "address must be 12 characters (digits or AA pairs), got %r" % (address,),
            expected=12, got=address)
    out = bytearray(6)
    for i in range(6):
        pos = 10 - 2 * i
        pair = address[pos:pos + 2]
        if pair == "AA" or pair == "aa":
            out[i] = 0xAA
        elif "0" <= pair[0] <= "9" and "0" <= pair[1] <= "9":
            out[i] = (ord(pair[0]) - 48) * 16 + ord(pair[1]) - 48
        else:
            raise AddressError(
                "address %r: characters %d-%d are %r, expected two digits or AA"
                % (address, pos + 1, pos + 2, pair), offset=pos, expected="digits or AA", got=pair)
    wire = bytes(out)
    if len(_addr_wire) >= CACHE_MAX:
        _addr_wire.clear()
    _addr_wire[address] = wire
    return wire


def decode_address(wire, offset=0):
    """Return the 12-character address of 6 wire bytes (A0 first).

    ``AA`` bytes come back as ``"AA"`` pairs.

    Raises:
        AddressError: a byte that is neither packed BCD nor 0xAA.
    """
    key = bytes(wire[offset:offset + 6])
    text = _addr_text.get(key)
    if text is not None:
        return text
    parts = []
    for i in range(5, -1, -1):
        b = key[i]
        if b == 0xAA:
            parts.append("AA")
        elif BCD_VALUE[b] >= 0:
            parts.append("%02X" % b)
        else:
            raise AddressError(
                "address byte A%d is 0x%02X at byte %d, expected BCD or 0xAA" % (i, b, offset + i),
                offset=offset + i, expected="BCD or 0xAA", got=b)
    text = "".join(parts)
    if len(_addr_text) >= CACHE_MAX:
        _addr_text.clear()
    _addr_text[key] = text
    return text


def address_matches(pattern, address):
    """True if ``address`` is selected by ``pattern`` (exact or AA pairs).

    Both are 12-character strings; ``AA`` pairs in the pattern match any
    pair (DL/T 645 §6, shortened addressing). The broadcast address is not a
    pattern: callers handle it separately because meters never reply to it.
    """
    if pattern == address:
        return True
    for i in range(0, 12, 2):
        p = pattern[i:i + 2]
        if p != "AA" and p != address[i:i + 2]:
            return False
    return True
