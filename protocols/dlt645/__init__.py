# MicroPython-compatible: see STYLE.md
"""DL/T 645-2007 and -1997 frame codec, sans I/O.

Public API (stable; other packages, tests and users call only this):

* ``build_read_request(address, di, std="2007") -> bytes`` and the other
  ``build_*`` functions for every master request and meter reply;
* ``parse_frame(data, std=None) -> Frame``;
* ``FrameExtractor`` for byte streams;
* ``describe(di, std)``, ``parse_di``, ``di_for_name``, ``known_items`` for the
  data-identifier registry; ``encode_value`` / ``decode_value``;
* ``normalize_address``, ``address_matches``, ``WILDCARD``, ``BROADCAST``;
* ``DLT645Error`` and its subclasses.

Addresses are 12-digit nameplate strings; DIs are ints (or text where noted).
Runs unchanged on CPython and MicroPython (see STYLE.md). MicroPython compiles
each module from source on import, which takes about five times the module's
size in heap for a moment, so no module here is much over 10 KB of source and
the registry's tables are text (see _items.py): the whole package imports in
a 100 KB heap and keeps about 68 KB of it (64-bit unix port).
"""

from ._build import (build_error_reply, build_follow_up_request, build_frame, build_read_address_request,
                     build_read_reply, build_read_request, build_reply, build_reread_request, decode_value,
                     encode_value)
from ._commands import (CONTROL_COMMANDS, DEFAULT_OPERATOR, DEFAULT_PASSWORD, build_change_password_request,
                        build_change_rate_request, build_control_request, build_demand_reset_request,
                        build_event_clear_request, build_freeze_request, build_meter_clear_request,
                        build_time_sync, build_write_address_request, build_write_request)
from ._envelope import (ERROR_BITS_1997, ERROR_BITS_2007, FUNCTIONS_1997, FUNCTIONS_2007, describe_error_bits,
                        split_frame)
from ._errors import (AddressError, BCDError, ChecksumError, ControlCodeError, DataIdentifierError,
                      DLT645Error, EndByteError, FrameError, LengthError, ValueFormatError)
from ._extract import DISCARD_REASONS, MAX_FRAME, FrameExtractor
from ._frame import Frame, parse_frame
from ._items import STANDARDS, STD_1997, STD_2007, DataItem, format_di
from ._names import di_for_name, known_items, parse_di
from ._registry import MAX_FREEZE_HISTORY, MAX_SETTLEMENT_HISTORY, describe
from ._wire import (BROADCAST, WILDCARD, address_matches, decode_address, encode_address,
                    normalize_address, scramble, unscramble)

__all__ = [
    "AddressError", "BCDError", "BROADCAST", "CONTROL_COMMANDS", "ChecksumError", "ControlCodeError",
    "DEFAULT_OPERATOR", "DEFAULT_PASSWORD", "DISCARD_REASONS", "DLT645Error", "DataIdentifierError",
    "DataItem", "ERROR_BITS_1997", "ERROR_BITS_2007", "EndByteError", "FUNCTIONS_1997", "FUNCTIONS_2007",
    "Frame", "FrameError", "FrameExtractor", "LengthError", "MAX_FRAME", "MAX_FREEZE_HISTORY",
    "MAX_SETTLEMENT_HISTORY", "STANDARDS", "STD_1997", "STD_2007", "ValueFormatError", "WILDCARD",
    "address_matches", "build_change_password_request", "build_change_rate_request",
    "build_control_request", "build_demand_reset_request", "build_error_reply",
    "build_event_clear_request", "build_follow_up_request", "build_frame", "build_freeze_request",
    "build_meter_clear_request", "build_read_address_request", "build_read_reply",
    "build_read_request", "build_reply", "build_reread_request", "build_time_sync",
    "build_write_address_request", "build_write_request", "decode_address", "decode_value",
    "describe", "describe_error_bits", "di_for_name", "encode_address", "encode_value", "format_di",
    "known_items", "normalize_address", "parse_di", "parse_frame", "scramble", "split_frame",
    "unscramble",
]
