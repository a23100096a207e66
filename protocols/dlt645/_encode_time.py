# MicroPython-compatible: see STYLE.md
"""Encoding times and digit text of DL/T 645 (§5): the inverse of
``_formats.decode_time``.

Times are ISO 8601 text as decoded (``2026-11-23``, ``08:30:00``,
``2026-11-23T08:30``, ``2026-11-23T08:30:00``, ``--11-23T08:30``,
``---23T08``, freeze ``MMDDhhmm``); they go on the wire low field first
(``ss mm hh DD MM YY``). The result is decoded again, so a time the decoder
would reject (month 13, 25 o'clock) is rejected here with the same message.
"""

from ._errors import ValueFormatError
from ._formats import DATEW, DT5, DT6, FREEZE, MDHM, TIME, decode_time
from ._wire import BCD_BYTE


def is_digits(s):
    """True for a non-empty string of ASCII digits (str.isdigit also takes "²")."""
    if not s:
        return False
    for ch in s:
        if ch < "0" or ch > "9":
            return False
    return True


def _int_field(text, start, end, name, di_text):
    s = text[start:end]
    if len(s) != end - start or not is_digits(s):
        raise ValueFormatError("%s: %s %r in %r is not %d digits" % (di_text, name, s, text, end - start),
                               expected="%d digits" % (end - start), got=s)
    return int(s)


def _expect_shape(text, shape, di_text):
    """Check separators: shape uses '9' for a digit, other characters literal."""
    if not isinstance(text, str) or len(text) != len(shape):
        raise ValueFormatError("%s: expected text shaped %s, got %r" % (di_text, shape, text),
                               expected=shape, got=text)
    for i in range(len(shape)):
        if shape[i] != "9" and text[i] != shape[i]:
            raise ValueFormatError("%s: expected text shaped %s, got %r" % (di_text, shape, text),
                                   expected=shape, got=text)


def weekday(year, month, day):
    """Day of the week, 0 = Sunday ... 6 = Saturday (the meters' WW)."""
    t = (0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4)
    if month < 3:
        year -= 1
    return (year + year // 4 - year // 100 + year // 400 + t[month - 1] + day) % 7


def _pack_bcd(fields):
    return bytearray([BCD_BYTE[v] for v in fields])


def encode_time(kind, value, di_text):
    if kind == FREEZE:
        _expect_shape(value, "99999999", di_text)
        f = [_int_field(value, i, i + 2, "field", di_text) for i in (6, 4, 2, 0)]
        return _pack_bcd(f)
    if kind == DATEW:
        _expect_shape(value, "9999-99-99", di_text)
        y = _int_field(value, 0, 4, "year", di_text)
        m = _int_field(value, 5, 7, "month", di_text)
        d = _int_field(value, 8, 10, "day", di_text)
        fields = [weekday(y, m, d) if 1 <= m <= 12 else 0, d, m, y % 100]
    elif kind == TIME:
        _expect_shape(value, "99:99:99", di_text)
        fields = [_int_field(value, 6, 8, "second", di_text), _int_field(value, 3, 5, "minute", di_text),
                  _int_field(value, 0, 2, "hour", di_text)]
    elif kind == DT5 or kind == DT6:
        _expect_shape(value, "9999-99-99T99:99" if kind == DT5 else "9999-99-99T99:99:99", di_text)
        fields = [_int_field(value, 14, 16, "minute", di_text), _int_field(value, 11, 13, "hour", di_text),
                  _int_field(value, 8, 10, "day", di_text), _int_field(value, 5, 7, "month", di_text),
                  _int_field(value, 0, 4, "year", di_text) % 100]
        if kind == DT6:
            fields.insert(0, _int_field(value, 17, 19, "second", di_text))
    elif kind == MDHM:
        _expect_shape(value, "--99-99T99:99", di_text)
        fields = [_int_field(value, 11, 13, "minute", di_text), _int_field(value, 8, 10, "hour", di_text),
                  _int_field(value, 5, 7, "day", di_text), _int_field(value, 2, 4, "month", di_text)]
    else:  # DH
        _expect_shape(value, "---99T99", di_text)
        fields = [_int_field(value, 6, 8, "hour", di_text), _int_field(value, 3, 5, "day", di_text)]
    out = _pack_bcd(fields)
    # Decoding the result checks every range with the same messages.
    decode_time(kind, out, 0, di_text)
    return out
