# MicroPython-compatible: see STYLE.md
"""Encoding values to the DL/T 645 data formats (§5): the inverse of _formats.

Values take the forms _formats decodes to (numbers, ISO 8601 text, digit
strings, ASCII text, bit-field ints, bit rates, ``(level, digits)``
passwords, raw bytes); ``None`` encodes as all 0xFF ("no data"). Every
encoder validates before it builds anything and raises ``ValueFormatError``
naming the field, the expected form and the value it got.
"""

from ._encode_time import encode_time, is_digits
from ._errors import ValueFormatError
from ._formats import ASCII, BIT_BY_RATE, BITS, DIGITS, NUM, PASSWORD, POW10, RATE, RAW
from ._wire import BCD_BYTE


def _encode_number(value, size, decimals, signed, di_text):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueFormatError("%s: expected a number, got %r" % (di_text, value),
                               expected="number", got=value)
    scaled = value * POW10[decimals] if decimals else value
    if isinstance(scaled, float):
        if scaled != scaled or scaled in (float("inf"), float("-inf")):
            raise ValueFormatError("%s: %r is not a finite number" % (di_text, value), got=value)
        scaled = int(round(scaled))
    negative = scaled < 0
    if negative and not signed:
        raise ValueFormatError("%s: %r is negative but the field is unsigned" % (di_text, value),
                               expected=">= 0", got=value)
    mag = -scaled if negative else scaled
    limit = POW10[2] ** size
    if signed:
        limit = 8 * (limit // 10)   # top nibble may only reach 7
    if mag >= limit:
        raise ValueFormatError("%s: %r does not fit %d bytes with %d decimals%s"
                               % (di_text, value, size, decimals, " (signed)" if signed else ""),
                               expected="magnitude < %r" % (limit / POW10[decimals]), got=value)
    out = bytearray(size)
    for i in range(size):
        out[i] = BCD_BYTE[mag % 100]
        mag //= 100
    if negative:
        out[size - 1] |= 0x80
    return out


def encode_password(level, digits, di_text="password"):
    """Encode ``(level, "123456")`` to plain ``PA P0 P1 P2`` (§11)."""
    if not isinstance(level, int) or level < 0 or level > 99:
        raise ValueFormatError("%s: level %r is not 0-99" % (di_text, level), expected="0-99", got=level)
    if not isinstance(digits, str) or len(digits) != 6 or not is_digits(digits):
        raise ValueFormatError("%s: %r is not 6 digits" % (di_text, digits), expected="6 digits", got=digits)
    return bytearray([BCD_BYTE[level], BCD_BYTE[int(digits[4:6])], BCD_BYTE[int(digits[2:4])],
                      BCD_BYTE[int(digits[0:2])]])


def encode_digits(text, size, di_text="value"):
    """Encode a digit string in ``size`` BCD bytes, low pair first."""
    if not isinstance(text, str) or not is_digits(text) or len(text) > 2 * size:
        raise ValueFormatError("%s: expected up to %d digits, got %r" % (di_text, 2 * size, text),
                               expected="%d digits" % (2 * size), got=text)
    text = "0" * (2 * size - len(text)) + text
    return bytearray([BCD_BYTE[int(text[i:i + 2])] for i in range(2 * size - 2, -1, -2)])


def encode_part(part, value, di_text="value"):
    """Encode one part to plain bytes; ``None`` gives all 0xFF ("no data").

    Raises:
        ValueFormatError: the value has the wrong type or does not fit.
    """
    kind, size, decimals, signed = part
    if value is None:
        return bytearray(b"\xff" * size)
    if kind == NUM:
        return _encode_number(value, size, decimals, signed, di_text)
    if kind == DIGITS:
        return encode_digits(value, size, di_text)
    if kind == ASCII:
        if not isinstance(value, str) or len(value) > size:
            raise ValueFormatError("%s: expected text of at most %d characters, got %r" % (di_text, size, value),
                                   expected="<= %d characters" % size, got=value)
        raw = value.encode()
        printable = len(raw) == len(value)
        for b in raw:
            if b < 0x20 or b > 0x7E:
                printable = False
        # The decoder rejects control characters, so the encoder must too.
        if not printable:
            raise ValueFormatError("%s: %r is not printable ASCII" % (di_text, value),
                                   expected="printable ASCII", got=value)
        padded = raw + b"\x00" * (size - len(raw))
        return bytearray([padded[i] for i in range(size - 1, -1, -1)])
    if kind == BITS:
        if not isinstance(value, int) or value < 0 or value >= 256 ** size:
            raise ValueFormatError("%s: bit field %r does not fit %d bytes" % (di_text, value, size),
                                   expected="0-%d" % (256 ** size - 1), got=value)
        out = bytearray(size)
        for i in range(size):
            out[i] = value & 0xFF
            value >>= 8
        return out
    if kind == RATE:
        z = BIT_BY_RATE.get(value)
        if z is None:
            raise ValueFormatError("%s: %r bit/s has no rate word; use 600-19200" % (di_text, value),
                                   expected="600, 1200, 2400, 4800, 9600 or 19200", got=value)
        return bytearray([z])
    if kind == PASSWORD:
        if not isinstance(value, tuple) or len(value) != 2:
            raise ValueFormatError("%s: expected (level, digits), got %r" % (di_text, value), got=value)
        return encode_password(value[0], value[1], di_text)
    if kind == RAW:
        if not isinstance(value, (bytes, bytearray)) or len(value) != size:
            raise ValueFormatError("%s: expected %d raw bytes, got %r" % (di_text, size, value),
                                   expected=size, got=value)
        return bytearray(value)
    return encode_time(kind, value, di_text)


def encode_element(element, value, di_text="value"):
    """Encode one element; ``value`` is a scalar for one part, else a tuple."""
    if len(element) == 1:
        return encode_part(element[0], value, di_text)
    if not isinstance(value, (tuple, list)) or len(value) != len(element):
        raise ValueFormatError("%s: expected %d fields, got %r" % (di_text, len(element), value),
                               expected=len(element), got=value)
    out = bytearray()
    for i in range(len(element)):
        out += encode_part(element[i], value[i], di_text)
    return out


def encode_elements(element, repeat, value, di_text="value"):
    """Encode one element (repeat 1) or a non-empty tuple of them (block)."""
    if repeat == 1:
        return bytes(encode_element(element, value, di_text))
    if not isinstance(value, (tuple, list)) or not value:
        raise ValueFormatError("%s: a block needs a non-empty tuple, got %r" % (di_text, value),
                               expected="tuple", got=value)
    out = bytearray()
    for v in value:
        out += encode_element(element, v, di_text)
    return bytes(out)
