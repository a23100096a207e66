# MicroPython-compatible: see STYLE.md
"""Data-field layouts of every function code (§8 for 2007, §9 for 1997).

``parse_request`` and ``parse_reply`` fill a ``Frame`` from its plain (0x33
removed) data field: DI, value, password, operator code, follow-up sequence,
error byte. The allowed lengths come first, so a wrong L is reported as a
``LengthError`` naming the function, never as an index error.
"""

from struct import unpack_from

from ._errors import BCDError, ControlCodeError, LengthError
from ._formats import DT5, DT6, FREEZE, RATE, decode_elements, decode_part, decode_password
from ._items import STD_1997, STD_2007, format_di
from ._registry import describe
from ._wire import BCD_VALUE, decode_address

# Allowed data lengths: a tuple of exact lengths, or a negative number -n for
# "at least n". Requests, then normal replies, per edition and function.
_REQUEST_LEN = {
    STD_2007: {0x08: (6,), 0x11: (4, 5, 10), 0x12: (5,), 0x13: (0,), 0x14: -12, 0x15: (6,),
               0x16: (4,), 0x17: (1,), 0x18: (12,), 0x19: (8,), 0x1A: (8,), 0x1B: (12,), 0x1C: (16,)},
    STD_1997: {0x01: (2,), 0x02: (2,), 0x03: (0,), 0x04: -6, 0x08: (6,), 0x0A: (6,), 0x0C: (1,),
               0x0F: (8,), 0x10: (0, 4)},
}
_REPLY_LEN = {
    STD_2007: {0x11: -4, 0x12: -5, 0x13: (6,), 0x14: (0,), 0x15: (0,), 0x16: (0,), 0x17: (1,),
               0x18: (4,), 0x19: (0,), 0x1A: (0,), 0x1B: (0,), 0x1C: (0,)},
    STD_1997: {0x01: -2, 0x02: -2, 0x03: -2, 0x04: (0,), 0x0A: (0,), 0x0C: (1,), 0x0F: (4,),
               0x10: (0,)},
}
_RATE_PART = (RATE, 1, 0, False)


def _di_le(plain, pos, size):
    return unpack_from("<I" if size == 4 else "<H", plain, pos)[0]


def _set_value(f, payload, decode):
    f.payload = payload
    item = describe(f.di, f.std)
    if item is not None:
        f.di_name = item.name
        if decode:
            f.unit = item.unit
            label = item.label
            if label is None:   # only error messages use it; format it once per item
                label = item.label = "value of %s" % format_di(f.di, f.std)
            f.value = decode_elements(item.element, item.repeat, payload, 0, len(payload), label)
            return
    f.value = payload


def _operator(plain, pos):
    digits = []
    for i in range(pos + 3, pos - 1, -1):
        v = BCD_VALUE[plain[i]]
        if v < 0:
            raise BCDError("operator code byte 0x%02X at data byte %d is not BCD" % (plain[i], i),
                           offset=i, expected="BCD", got=plain[i])
        digits.append("%02d" % v)
    return "".join(digits)


def _check_len(f, n, rule, what):
    if isinstance(rule, int):
        if n >= -rule:
            return
        expected = "at least %d" % -rule
    else:
        if n in rule:
            return
        expected = " or ".join([str(x) for x in rule])
    raise LengthError("%s %s (C=0x%02X) needs L=%s, got L=%d"
                      % (f.function_name, what, f.control, expected, n),
                      offset=9, expected=expected, got=n)


def parse_request(f, plain):
    n = len(plain)
    fn = f.function
    _check_len(f, n, _REQUEST_LEN[f.std][fn], "request")
    if fn == 0x08:
        f.value = decode_part((DT6, 6, 0, False), plain, 0, "time-sync time")
        return
    if f.std == STD_1997:
        if fn in (0x01, 0x02):
            f.di = _di_le(plain, 0, 2)
            _set_value(f, b"", False)
            f.value = None
        elif fn == 0x04:
            f.di = _di_le(plain, 0, 2)
            f.password = decode_password(plain, 2)
            _set_value(f, plain[6:], True)
        elif fn == 0x0A:
            f.value = decode_address(plain)
        elif fn == 0x0C:
            f.value = decode_part(_RATE_PART, plain, 0, "rate word")
        elif fn == 0x0F:
            f.password = decode_password(plain, 0)
            f.new_password = decode_password(plain, 4)
        elif fn == 0x10 and n == 4:
            f.password = decode_password(plain, 0)
        return
    if fn == 0x11:
        f.di = _di_le(plain, 0, 4)
        _set_value(f, b"", False)
        f.value = None
        if n >= 5:
            f.count = _bcd_byte(plain, 4)
        if n == 10:
            f.value = decode_part((DT5, 5, 0, False), plain, 5, "load-profile start time")
    elif fn == 0x12:
        f.di = _di_le(plain, 0, 4)
        _set_value(f, b"", False)
        f.value = None
        f.seq = plain[4]
    elif fn == 0x14:
        f.di = _di_le(plain, 0, 4)
        f.password = decode_password(plain, 4)
        f.operator = _operator(plain, 8)
        _set_value(f, plain[12:], True)
    elif fn == 0x15:
        f.value = decode_address(plain)
    elif fn == 0x16:
        f.value = decode_part((FREEZE, 4, 0, False), plain, 0, "freeze time")
    elif fn == 0x17:
        f.value = decode_part(_RATE_PART, plain, 0, "rate word")
    elif fn == 0x18:
        f.di = _di_le(plain, 0, 4)
        _set_value(f, b"", False)
        f.value = None
        f.password = decode_password(plain, 4)
        f.new_password = decode_password(plain, 8)
    elif fn in (0x19, 0x1A, 0x1B, 0x1C):
        f.password = decode_password(plain, 0)
        f.operator = _operator(plain, 4)
        if fn == 0x1B:
            f.di = _di_le(plain, 8, 4)
        elif fn == 0x1C:
            f.value = (plain[8], decode_part((DT6, 6, 0, False), plain, 10, "control deadline"))


def _bcd_byte(plain, pos):
    v = BCD_VALUE[plain[pos]]
    if v < 0:
        raise BCDError("byte 0x%02X at data byte %d is not BCD" % (plain[pos], pos),
                       offset=pos, expected="BCD", got=plain[pos])
    return v


def parse_reply(f, plain):
    n = len(plain)
    fn = f.function
    if f.is_error:
        if n != 1:
            raise LengthError("abnormal reply (C=0x%02X) needs L=1, got L=%d" % (f.control, n),
                              offset=9, expected=1, got=n)
        f.error_bits = plain[0]
        return
    rule = _REPLY_LEN[f.std].get(fn)
    if rule is None:
        raise ControlCodeError("function 0x%02X (%s) has no reply, got C=0x%02X"
                               % (fn, f.function_name, f.control), offset=8, got=f.control)
    _check_len(f, n, rule, "reply")
    if f.std == STD_1997:
        if fn in (0x01, 0x02, 0x03):
            f.di = _di_le(plain, 0, 2)
            # 82H/A2H carry one part of a block (§9), like 2007 92H: raw bytes.
            _set_value(f, plain[2:], fn != 0x02 and not f.has_more)
        elif fn == 0x0C:
            f.value = decode_part(_RATE_PART, plain, 0, "rate word")
        elif fn == 0x0F:
            f.new_password = decode_password(plain, 0)
        return
    if fn == 0x11:
        f.di = _di_le(plain, 0, 4)
        _set_value(f, plain[4:], not f.has_more)
    elif fn == 0x12:
        f.di = _di_le(plain, 0, 4)
        f.seq = plain[n - 1]
        _set_value(f, plain[4:n - 1], False)
    elif fn == 0x13:
        f.value = decode_address(plain)
    elif fn == 0x17:
        f.value = decode_part(_RATE_PART, plain, 0, "rate word")
    elif fn == 0x18:
        f.new_password = decode_password(plain, 0)
