# MicroPython-compatible: see STYLE.md
"""Master commands other than reads (§8, §9): write data and address, time
sync, freeze, rate, password, demand reset, meter and event clear, control.

Passwords are ``(level, "123456")`` tuples and operator codes 8-digit text
(§11). Each builder validates its arguments before building and returns the
whole frame, FE preamble included.
"""

import struct

from ._build import _di_bytes, _di_value, _value_bytes, build_frame
from ._encode import encode_digits, encode_part, encode_password
from ._errors import ValueFormatError
from ._formats import DT6, FREEZE, RATE
from ._items import STD_1997, STD_2007
from ._wire import BROADCAST, WILDCARD, encode_address

DEFAULT_PASSWORD = (2, "000000")
DEFAULT_OPERATOR = "00000000"


def _password(password, what="password"):
    if not isinstance(password, tuple) or len(password) != 2:
        raise ValueFormatError("%s must be (level, \"123456\"), got %r" % (what, password), got=password)
    return encode_password(password[0], password[1], what)


def build_write_request(address, di, value, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                        std=STD_2007, preamble=4):
    """Build a write-data request: 14H (DI, password, operator, value) or 1997 04H.

    ``value`` is encoded through the registry, or given as raw plain bytes.
    """
    di = _di_value(di, std)
    data = bytearray(_di_bytes(di, std)) + _password(password)
    if std == STD_2007:
        data += encode_digits(operator, 4, "operator code")
    data += _value_bytes(di, std, value)
    return build_frame(address, 0x04 if std == STD_1997 else 0x14, data, preamble)


def build_write_address_request(new_address, std=STD_2007, address=WILDCARD, preamble=4):
    """Build a write-address request: 15H to AA...AA (2007) or 0AH (1997)."""
    data = encode_address(new_address)
    return build_frame(address, 0x0A if std == STD_1997 else 0x15, data, preamble)


def build_time_sync(when, preamble=4):
    """Build the broadcast time sync (08H to 99...99), ``when`` = "YYYY-MM-DDThh:mm:ss".

    No meter replies to it (§8).
    """
    return build_frame(BROADCAST, 0x08, encode_part((DT6, 6, 0, False), when, "time-sync time"), preamble)


def build_freeze_request(address, spec="99999999", preamble=4):
    """Build a freeze command (16H), ``spec`` = "MMDDhhmm" with 99 for "every".

    "99999999" freezes now; to 999999999999 it is a broadcast freeze.
    """
    return build_frame(address, 0x16, encode_part((FREEZE, 4, 0, False), spec, "freeze time"), preamble)


def build_change_rate_request(address, baud, std=STD_2007, preamble=4):
    """Build a change-rate request: 17H (2007) or 0CH (1997) with the Z word (§12)."""
    return build_frame(address, 0x0C if std == STD_1997 else 0x17,
                       encode_part((RATE, 1, 0, False), baud, "rate"), preamble)


def build_change_password_request(address, old, new, std=STD_2007, preamble=4):
    """Build a change-password request.

    2007 (18H): DI 04000C01 + new level, old password, new password.
    1997 (0FH): old password, new password.
    """
    data = bytearray()
    if std == STD_2007:
        if (not isinstance(new, tuple) or len(new) != 2 or not isinstance(new[0], int)
                or not 0 <= new[0] <= 9):
            raise ValueFormatError("new password level must be 0-9, got %r" % (new,), got=new)
        data += struct.pack("<I", 0x04000C01 + new[0])
    data += _password(old, "old password") + _password(new, "new password")
    return build_frame(address, 0x0F if std == STD_1997 else 0x18, data, preamble)


def build_demand_reset_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                               std=STD_2007, preamble=4):
    """Build a maximum-demand reset: 19H (password + operator) or 1997 10H (password)."""
    if std == STD_1997:
        return build_frame(address, 0x10, _password(password), preamble)
    data = _password(password) + encode_digits(operator, 4, "operator code")
    return build_frame(address, 0x19, data, preamble)


def build_meter_clear_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR, preamble=4):
    """Build a 2007 meter-clear request (1AH)."""
    data = _password(password) + encode_digits(operator, 4, "operator code")
    return build_frame(address, 0x1A, data, preamble)


def build_event_clear_request(address, password=DEFAULT_PASSWORD, operator=DEFAULT_OPERATOR,
                              di=0xFFFFFFFF, preamble=4):
    """Build a 2007 event-clear request (1BH); DI FFFFFFFF clears all events."""
    di = _di_value(di, STD_2007)
    data = _password(password) + encode_digits(operator, 4, "operator code") + struct.pack("<I", di)
    return build_frame(address, 0x1B, data, preamble)


CONTROL_COMMANDS = {0x1A: "trip", 0x1B: "closing_allowed", 0x1C: "close_now", 0x2A: "alarm_on",
                    0x2B: "alarm_off", 0x3A: "keep_power", 0x3B: "keep_power_off"}


def build_control_request(address, command, deadline, password=DEFAULT_PASSWORD,
                          operator=DEFAULT_OPERATOR, preamble=4):
    """Build a 2007 control request (1CH, 2013 addendum).

    Args:
        command: N1 as int (0x1A trip ... 0x3B) or its name ("trip").
        deadline: validity deadline "YYYY-MM-DDThh:mm:ss".
    """
    if isinstance(command, str):
        for code in CONTROL_COMMANDS:
            if CONTROL_COMMANDS[code] == command:
                command = code
                break
    if command not in CONTROL_COMMANDS:
        raise ValueFormatError("control command %r is not one of %s" % (command, sorted(CONTROL_COMMANDS.values())),
                               got=command)
    data = (_password(password) + encode_digits(operator, 4, "operator code") + bytes((command, 0))
            + encode_part((DT6, 6, 0, False), deadline, "control deadline"))
    return build_frame(address, 0x1C, data, preamble)
