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
The envelope checks are in _envelope.py, the per-function layouts in
_layouts.py.
"""

from ._envelope import FUNCTIONS_1997, FUNCTIONS_2007, describe_error_bits, edition_of, split_frame
from ._errors import ControlCodeError
from ._items import STD_1997, format_di
from ._layouts import parse_reply, parse_request
from ._wire import SUB33, decode_address


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

    # Fields most frames leave empty are class attributes: parsing sets only
    # what a layout has (parse_frame is the concentrator's hot path).
    di = None
    di_name = None
    value = None
    unit = ""
    payload = None
    error_bits = None
    seq = None
    count = None
    password = None
    operator = None
    new_password = None

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
        parse_reply(f, plain)
    else:
        parse_request(f, plain)
    return f
