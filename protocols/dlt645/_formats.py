# MicroPython-compatible: see STYLE.md
"""Value formats of DL/T 645 data (§5) and their decoders.

A *part* is one field of a data item: ``(kind, size, decimals, signed)``.
An *element* is a tuple of parts (a maximum-demand item is a number and its
time). Values are plain bytes here: scrambling is undone before decoding.

Decoded values:

* numbers: ``int`` when the format has no decimals, else ``float``
  (``12345.67``); signed fields use sign-magnitude with the sign in bit 7 of
  the most significant (last) byte (§5), never two's complement.
* times: ISO 8601 text: ``2026-11-23`` (YYMMDDWW, the weekday is checked
  and dropped), ``08:30:00``, ``2026-11-23T08:30``, ``2026-11-23T08:30:00``,
  ``--11-23T08:30`` (MMDDhhmm), ``---23T08`` (DDhh). Years are 2000 + YY.
* digit strings (addresses, meter numbers, operator codes): ``str`` with
  leading zeros kept.
* ASCII: ``str`` (reversed on the wire like a number, padding stripped).
* bit fields (status words): ``int`` (low byte first).
* rate feature word: the bit rate as ``int`` (``0x08`` -> 2400).
* a field whose bytes are all 0xFF: ``None`` ("no data": what many meters send
  for a missing freeze, §13.5).

Encoding, the inverse, is in _encode.py and _encode_time.py.
"""

from ._errors import BCDError, ValueFormatError
from ._wire import BCD_VALUE

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

NUM = const(0)      # BCD number with implied decimals
DIGITS = const(1)   # BCD digit string, e.g. NNNNNNNNNNNN
ASCII = const(2)
DATEW = const(3)    # YYMMDDWW
TIME = const(4)     # hhmmss
DT5 = const(5)      # YYMMDDhhmm
DT6 = const(6)      # YYMMDDhhmmss
MDHM = const(7)     # MMDDhhmm
DH = const(8)       # DDhh
BITS = const(9)     # binary bit field
RATE = const(10)    # one-hot communication-rate word Z (§12)
FREEZE = const(11)  # freeze time MMDDhhmm where 99 means "every"
PASSWORD = const(12)  # PA P0 P1 P2
RAW = const(13)

POW10 = (1, 10, 100, 1000, 10000, 100000, 1000000)

# §12: exactly one bit set selects the rate.
RATE_BY_BIT = {0x02: 600, 0x04: 1200, 0x08: 2400, 0x10: 4800, 0x20: 9600, 0x40: 19200}
BIT_BY_RATE = {}
for _z in RATE_BY_BIT:
    BIT_BY_RATE[RATE_BY_BIT[_z]] = _z

# field sizes of the time kinds, in bytes
_TIME_SIZE = {DATEW: 4, TIME: 3, DT5: 5, DT6: 6, MDHM: 4, DH: 2, FREEZE: 4}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def element_size(element):
    """Number of bytes of one element (a tuple of parts)."""
    n = 0
    for part in element:
        n += part[1]
    return n


def _where(di_text, pos):
    return "%s, data byte %d" % (di_text, pos)


def _bcd_digits(plain, pos, size, di_text):
    """Return the BCD byte values of plain[pos:pos+size], low byte first."""
    out = []
    for i in range(pos, pos + size):
        v = BCD_VALUE[plain[i]]
        if v < 0:
            raise BCDError("%s: byte 0x%02X is not BCD" % (_where(di_text, i), plain[i]),
                           offset=i, expected="BCD digits 0-9", got=plain[i])
        out.append(v)
    return out


def _check_range(name, value, low, high, di_text, pos):
    if value < low or value > high:
        raise BCDError("%s: %s %d out of range %d-%d" % (_where(di_text, pos), name, value, low, high),
                       offset=pos, expected="%d-%d" % (low, high), got=value)


def _check_date(y, m, d, di_text, pos):
    _check_range("month", m, 1, 12, di_text, pos)
    _check_range("day", d, 1, _DAYS_IN_MONTH[m - 1], di_text, pos)


def _decode_number(plain, pos, size, decimals, signed, di_text):
    top = pos + size - 1
    value = 0
    negative = False
    for i in range(top, pos - 1, -1):
        b = plain[i]
        if i == top and signed and b & 0x80:
            negative = True
            b &= 0x7F
        d = BCD_VALUE[b]
        if d < 0:
            raise BCDError("%s: byte 0x%02X is not BCD" % (_where(di_text, i), plain[i]),
                           offset=i, expected="BCD digits 0-9", got=plain[i])
        value = value * 100 + d
    if negative:
        value = -value
    if decimals:
        return value / POW10[decimals]
    return value


def decode_time(kind, plain, pos, di_text):
    if kind == FREEZE:
        digits = []
        for i in range(pos + 3, pos - 1, -1):
            v = BCD_VALUE[plain[i]]
            if v < 0:
                raise BCDError("%s: byte 0x%02X is not BCD" % (_where(di_text, i), plain[i]),
                               offset=i, expected="BCD digits 0-9", got=plain[i])
            digits.append("%02d" % v)
        return "".join(digits)
    f = _bcd_digits(plain, pos, _TIME_SIZE[kind], di_text)
    if kind == DATEW:           # WW DD MM YY on the wire
        _check_range("weekday", f[0], 0, 6, di_text, pos)
        _check_date(f[3], f[2], f[1], di_text, pos)
        return "20%02d-%02d-%02d" % (f[3], f[2], f[1])
    if kind == TIME:            # ss mm hh
        _check_range("hour", f[2], 0, 23, di_text, pos)
        _check_range("minute", f[1], 0, 59, di_text, pos)
        _check_range("second", f[0], 0, 59, di_text, pos)
        return "%02d:%02d:%02d" % (f[2], f[1], f[0])
    if kind == DT5:             # mm hh DD MM YY
        _check_date(f[4], f[3], f[2], di_text, pos)
        _check_range("hour", f[1], 0, 23, di_text, pos)
        _check_range("minute", f[0], 0, 59, di_text, pos)
        return "20%02d-%02d-%02dT%02d:%02d" % (f[4], f[3], f[2], f[1], f[0])
    if kind == DT6:             # ss mm hh DD MM YY
        _check_date(f[5], f[4], f[3], di_text, pos)
        _check_range("hour", f[2], 0, 23, di_text, pos)
        _check_range("minute", f[1], 0, 59, di_text, pos)
        _check_range("second", f[0], 0, 59, di_text, pos)
        return "20%02d-%02d-%02dT%02d:%02d:%02d" % (f[5], f[4], f[3], f[2], f[1], f[0])
    if kind == MDHM:            # mm hh DD MM
        _check_date(0, f[3], f[2], di_text, pos)
        _check_range("hour", f[1], 0, 23, di_text, pos)
        _check_range("minute", f[0], 0, 59, di_text, pos)
        return "--%02d-%02dT%02d:%02d" % (f[3], f[2], f[1], f[0])
    # DH: hh DD
    _check_range("day", f[1], 1, 31, di_text, pos)
    _check_range("hour", f[0], 0, 23, di_text, pos)
    return "---%02dT%02d" % (f[1], f[0])


def decode_part(part, plain, pos, di_text="value"):
    """Decode one part at ``plain[pos:]``; see the module docstring for types.

    Raises:
        BCDError: a nibble above 9 or a field out of range.
        ValueFormatError: bytes that the format does not allow.
    """
    kind, size, decimals, signed = part
    all_ff = True
    for i in range(pos, pos + size):
        if plain[i] != 0xFF:
            all_ff = False
            break
    if all_ff and kind != RAW and kind != BITS:
        return None
    if kind == NUM:
        return _decode_number(plain, pos, size, decimals, signed, di_text)
    if kind == DIGITS:
        f = _bcd_digits(plain, pos, size, di_text)
        return "".join(["%02d" % f[i] for i in range(size - 1, -1, -1)])
    if kind == ASCII:
        chars = []
        for i in range(pos + size - 1, pos - 1, -1):
            b = plain[i]
            if b > 0x7E or (b < 0x20 and b != 0):
                raise ValueFormatError("%s: byte 0x%02X is not printable ASCII" % (_where(di_text, i), b),
                                       offset=i, expected="ASCII", got=b)
            chars.append(chr(b))
        return "".join(chars).rstrip("\x00 ")
    if kind == BITS:
        value = 0
        for i in range(pos + size - 1, pos - 1, -1):
            value = value * 256 + plain[i]
        return value
    if kind == RATE:
        z = plain[pos]
        rate = RATE_BY_BIT.get(z)
        if rate is None:
            raise ValueFormatError("%s: rate word 0x%02X has not exactly one valid bit set" % (_where(di_text, pos), z),
                                   offset=pos, expected="one of 02 04 08 10 20 40", got=z)
        return rate
    if kind == PASSWORD:
        return decode_password(plain, pos, di_text)
    if kind == RAW:
        return bytes(plain[pos:pos + size])
    return decode_time(kind, plain, pos, di_text)


def decode_password(plain, pos, di_text="password"):
    """Decode ``PA P0 P1 P2`` to ``(level, "123456")`` (§11)."""
    level = BCD_VALUE[plain[pos]]
    if level < 0:
        raise BCDError("%s: password level 0x%02X is not BCD" % (_where(di_text, pos), plain[pos]),
                       offset=pos, expected="BCD", got=plain[pos])
    f = _bcd_digits(plain, pos + 1, 3, di_text)
    return (level, "%02d%02d%02d" % (f[2], f[1], f[0]))


def decode_element(element, plain, pos, di_text="value"):
    """Decode one element; a single part gives a scalar, several a tuple."""
    if len(element) == 1:
        return decode_part(element[0], plain, pos, di_text)
    out = []
    for part in element:
        out.append(decode_part(part, plain, pos, di_text))
        pos += part[1]
    return tuple(out)


def decode_elements(element, repeat, plain, pos, end, di_text="value"):
    """Decode ``plain[pos:end]`` as one element (repeat 1) or a block.

    A block (repeat 0) holds one or more elements; how many follows from the
    length, never from an assumed tariff count (§18).

    Raises:
        ValueFormatError: the length is not the element size (or a multiple).
    """
    size = element_size(element)
    n = end - pos
    if repeat == 1:
        if n != size:
            raise ValueFormatError("%s holds %d bytes, its format needs %d" % (di_text, n, size),
                                   offset=pos, expected=size, got=n)
        if len(element) == 1:
            return decode_part(element[0], plain, pos, di_text)
        return decode_element(element, plain, pos, di_text)
    if n == 0 or n % size:
        raise ValueFormatError("%s block holds %d bytes, not a multiple of %d" % (di_text, n, size),
                               offset=pos, expected="multiple of %d" % size, got=n)
    out = []
    while pos < end:
        out.append(decode_element(element, plain, pos, di_text))
        pos += size
    return tuple(out)
