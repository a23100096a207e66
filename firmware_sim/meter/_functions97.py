# MicroPython-compatible: see STYLE.md
"""DL/T 645-1997 functions (§9): 01H/02H reads and 03H re-read.

``HANDLERS`` maps each 1997 function code (besides 08H, which
``_functions.dispatch`` handles) to its handler. Rules in ``_functions``.
"""

import struct

from ._di1997 import read_1997
from ._functions import change_password, change_rate, demand_reset, err, ok, write, write_address


def _read_1997(m, f):
    payload = read_1997(m, f.di)
    if payload is None:
        return err(m, f, 0x02)
    m._last_read = (f.di, payload)
    return ok(m, f, struct.pack("<H", f.di) + payload)


def _reread(m, f):
    if m._last_read is None:
        return err(m, f, 0x01)
    return ok(m, f, struct.pack("<H", m._last_read[0]) + m._last_read[1])


HANDLERS = {0x01: _read_1997, 0x02: _read_1997, 0x03: _reread, 0x04: write, 0x0A: write_address,
            0x0C: change_rate, 0x0F: change_password, 0x10: demand_reset}
