# MicroPython-compatible: see STYLE.md
"""Parsing one DL/T 645 frame (§2, §7-§10).

``parse_frame(data)`` takes exactly one frame (with any number of FE preamble
bytes), checks the envelope (start bytes, length byte, checksum, end byte),
undoes the +0x33 scrambling, then reads the data field by the layout of the
function code: DI, value, password, operator code, follow-up sequence, error
byte. Which edition a frame belongs to follows from its function code (only
08H is shared, and its layout is the same in both), unless the caller says.

Invariants: a returned ``Frame`` always passed the envelope checks, and its
``value`` is decoded through the registry when the DI is known (raw plain
bytes otherwise). Anything else raises a ``DLT645Error`` subclass.
"""

from ._errors import (BCDError, ChecksumError, ControlCodeError, EndByteError, FrameError,
                      LengthError)
from ._formats import (DT5, DT6, FREEZE, RATE, decode_elements, decode_part, decode_password)
from ._registry import STD_1997, STD_2007, describe, format_di
from ._wire import BCD_VALUE, PREAMBLE_BYTE, SUB33, decode_address

FUNCTIONS_2007 = {
    0x08: "broadcast_time_sync", 0x11: "read_data", 0x12: "read_follow_up", 0x13: "read_address",
    0x14: "write_data", 0x15: "write_address", 0x16: "freeze", 0x17: "change_rate",
    0x18: "change_password", 0x19: "demand_reset", 0x1A: "meter_clear", 0x1B: "event_clear",
    0x1C: "control",
}
FUNCTIONS_1997 = {
    0x01: "read_data", 0x02: "read_follow_up", 0x03: "reread", 0x04: "write_data",
    0x08: "broadcast_time_sync", 0x0A: "write_address", 0x0C: "change_rate",
    0x0F: "change_password", 0x10: "demand_reset",
}
# §10: meaning of each error bit, bit 0 first.
ERROR_BITS_2007 = ("other error", "no requested data", "wrong password or not authorized",
                   "communication rate cannot be changed", "too many year time zones",
                   "too many daily time segments", "too many tariffs", "reserved bit 7")
ERROR_BITS_1997 = ("illegal data", "wrong data identifier", "wrong password", "reserved bit 3",
                   "too many year time zones", "too many daily time segments", "too many tariffs",
                   "reserved bit 7")

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


def describe_error_bits(bits, std=STD_2007):
    """List the meanings of the set bits of an error byte (§10).

    Reserved bits are reported as such, never rejected.
    """
    names = ERROR_BITS_1997 if std == STD_1997 else ERROR_BITS_2007
    return [names[i] for i in range(8) if bits & (1 << i)]


class Frame:
    """One parsed frame.

    Attributes:
        std: "2007" or "1997".
        address: 12-character address from the header ("AA" pairs kept).
        control: the control byte C.
        function: function code (C & 0x1F).
        function_name: e.g. "read_data".
        is_reply, is_error, has_more: the D7, D6 and D5 flags.
        data: the DATA field, plain (0x33 removed).
        di: data identifier (int) or None.
        di_name: registry name of the DI, or None when unknown.
        value: decoded value, raw plain bytes for an unknown DI or a partial
            (follow-up) block, or None when the frame carries no value.
        unit: unit text of the value ("" when none).
        payload: the plain value bytes as sent (after DI, password...).
        error_bits: the error byte of an abnormal reply, else None.
        seq: follow-up sequence number (2007 12H/92H), else None.
        count: load-profile block count N of a read request, else None.
        password: (level, "123456") where the layout has one, else None.
        operator: operator code (8-digit text) where the layout has one.
        new_password: (level, digits) of 18H/0FH requests and their replies.
        preamble: number of FE bytes before the frame.
        raw: the frame bytes without preamble.
    """

    def __init__(self, std, address, control, data, preamble, raw):
        self.std = std
        self.address = address
        self.control = control
        self.function = control & 0x1F
        self.function_name = (FUNCTIONS_1997 if std == STD_1997 else FUNCTIONS_2007)[self.function]
        self.is_reply = control & 0x80 != 0
        self.is_error = control & 0x40 != 0
        self.has_more = control & 0x20 != 0
        self.data = data
        self.preamble = preamble
        self.raw = raw
        self.di = None
        self.di_name = None
        self.value = None
        self.unit = ""
        self.payload = None
        self.error_bits = None
        self.seq = None
        self.count = None
        self.password = None
        self.operator = None
        self.new_password = None

    @property
    def di_text(self):
        """The DI as hex text of its edition's width, or None."""
        if self.di is None:
            return None
        return format_di(self.di, self.std)

    @property
    def errors(self):
        """Meanings of the error bits of an abnormal reply (empty otherwise)."""
        if self.error_bits is None:
            return []
        return describe_error_bits(self.error_bits, self.std)

    def __repr__(self):
        parts = ["std=%s" % self.std, "address=%s" % self.address, "function=%s" % self.function_name,
                 "reply" if self.is_reply else "request"]
        if self.di is not None:
            parts.append("di=%s" % self.di_text)
        if self.is_error:
            parts.append("error_bits=0x%02X" % self.error_bits)
        elif self.value is not None:
            parts.append("value=%r%s" % (self.value, " " + self.unit if self.unit else ""))
        return "Frame(%s)" % ", ".join(parts)


def _di_le(plain, pos, size):
    v = 0
    for i in range(pos + size - 1, pos - 1, -1):
        v = (v << 8) | plain[i]
    return v


def _set_value(f, payload, decode):
    f.payload = payload
    item = describe(f.di, f.std)
    if item is not None:
        f.di_name = item.name
        if decode:
            f.unit = item.unit
            f.value = decode_elements(item.element, item.repeat, payload, 0, len(payload),
                                      "value of %s" % format_di(f.di, f.std))
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


def _parse_request(f, plain):
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


def _parse_reply(f, plain):
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
            _set_value(f, plain[2:], not f.has_more)
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


def split_frame(data):
    """Check the envelope of one frame; return ``(start, length)``.

    ``start`` is the offset of the first 0x68 (after the FE preamble) and
    ``length`` the L byte.

    Raises:
        FrameError, LengthError, ChecksumError, EndByteError.
    """
    n = len(data)
    s = 0
    while s < n and data[s] == PREAMBLE_BYTE:
        s += 1
    if n - s < 12:
        raise LengthError("frame too short: %d bytes after %d preamble bytes, a frame has at least 12"
                          % (n - s, s), offset=s, expected=">= 12", got=n - s)
    if data[s] != 0x68:
        raise FrameError("start byte is 0x%02X at byte %d, expected 0x68" % (data[s], s),
                         offset=s, expected=0x68, got=data[s])
    if data[s + 7] != 0x68:
        raise FrameError("second start byte is 0x%02X at byte %d, expected 0x68" % (data[s + 7], s + 7),
                         offset=s + 7, expected=0x68, got=data[s + 7])
    length = data[s + 9]
    if n - s != 12 + length:
        raise LengthError("length byte L=%d at byte %d means a %d-byte frame, got %d bytes"
                          % (length, s + 9, 12 + length, n - s),
                          offset=s + 9, expected=12 + length, got=n - s)
    end = s + 10 + length
    cs = sum(data[s:end]) & 0xFF
    if cs != data[end]:
        raise ChecksumError("checksum 0x%02X at byte %d, computed 0x%02X" % (data[end], end, cs),
                            offset=end, expected=cs, got=data[end])
    if data[end + 1] != 0x16:
        raise EndByteError("end byte is 0x%02X at byte %d, expected 0x16" % (data[end + 1], end + 1),
                           offset=end + 1, expected=0x16, got=data[end + 1])
    return s, length


def edition_of(function, std=None):
    """Return the edition ("2007"/"1997") a function code belongs to.

    Raises:
        ControlCodeError: the code is not a function of that edition (or any).
    """
    if std is None:
        if function in FUNCTIONS_2007:
            return STD_2007
        if function in FUNCTIONS_1997:
            return STD_1997
        raise ControlCodeError("unknown control code: function 0x%02X is in neither DL/T 645-2007 nor -1997"
                               % function, got=function)
    if std not in (STD_2007, STD_1997):
        raise ControlCodeError("unknown standard %r, expected 2007 or 1997" % (std,), got=std)
    table = FUNCTIONS_1997 if std == STD_1997 else FUNCTIONS_2007
    if function not in table:
        raise ControlCodeError("unknown control code: function 0x%02X is not a DL/T 645-%s function"
                               % (function, std), got=function)
    return std


def parse_frame(data, std=None):
    """Parse one frame (FE preamble allowed, nothing after the end byte).

    Args:
        data: bytes of exactly one frame.
        std: "2007" or "1997" to insist on an edition; None to take it from
            the function code.

    Returns:
        Frame.

    Raises:
        DLT645Error: FrameError, LengthError, ChecksumError, EndByteError for
            the envelope; ControlCodeError for an unknown function or
            impossible flags; BCDError / ValueFormatError / AddressError for
            malformed fields.
    """
    s, length = split_frame(data)
    control = data[s + 8]
    function = control & 0x1F
    std = edition_of(function, std)
    if not control & 0x80 and control & 0x60:
        raise ControlCodeError("control code 0x%02X at byte %d: a master request cannot carry the error or follow-up flag"
                               % (control, s + 8), offset=s + 8, got=control)
    address = decode_address(data, s + 1)
    plain = bytes([SUB33[b] for b in data[s + 10:s + 10 + length]])
    f = Frame(std, address, control, plain, s, bytes(data[s:]) if s else bytes(data))
    if f.is_reply:
        _parse_reply(f, plain)
    else:
        _parse_request(f, plain)
    return f
