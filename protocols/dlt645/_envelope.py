# MicroPython-compatible: see STYLE.md
"""The frame envelope of DL/T 645 (§2, §3, §7): start bytes, length, checksum,
end byte, control code, and which edition a function code belongs to.

``split_frame`` checks one frame's envelope and says where its header is;
nothing here looks inside the data field (that is _frame.py). Every check
names the byte offset it failed at, the expected and the received value.
"""

from ._errors import ChecksumError, ControlCodeError, EndByteError, FrameError, LengthError
from ._items import STD_1997, STD_2007
from ._wire import PREAMBLE_BYTE

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


def describe_error_bits(bits, std=STD_2007):
    """List the meanings of the set bits of an error byte (§10).

    Reserved bits are reported as such, never rejected.
    """
    names = ERROR_BITS_1997 if std == STD_1997 else ERROR_BITS_2007
    return [names[i] for i in range(8) if bits & (1 << i)]


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
