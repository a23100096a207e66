# MicroPython-compatible: see STYLE.md
"""DL/T 645-2007 functions (§8): 11H/12H reads with follow-up, 1AH, 1BH, 1CH.

``HANDLERS`` maps each 2007 function code (besides 08H, 13H and 16H, which
``_functions.dispatch`` handles) to its handler. Rules in ``_functions``.
"""

import struct

from protocols.dlt645 import build_read_reply

from ._civil import dt6_text, parse_local
from ._di2007 import read_2007
from ._functions import change_password, change_rate, demand_reset, err, ok, write, write_address

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_FIRST_PART = const(196)    # L = 4 (DI) + 196 = 200
_NEXT_PART = const(195)     # L = 4 (DI) + 195 + 1 (SEQ) = 200


def _read(m, f):
    if f.count is not None:
        return err(m, f, 0x02)     # load profile (L = 5 / 10) is not kept
    payload = read_2007(m, f.di)
    if payload is None:
        return err(m, f, 0x02)
    if len(payload) > _FIRST_PART:
        m._pending = (f.di, payload)
        return build_read_reply(m.address, f.di, payload[:_FIRST_PART], m.std, True, None, m.preamble)
    m._pending = None
    return build_read_reply(m.address, f.di, payload, m.std, False, None, m.preamble)


def _follow_up(m, f):
    pending = m._pending
    if pending is None or pending[0] != f.di or f.seq < 1:
        return err(m, f, 0x02)
    payload = pending[1]
    start = _FIRST_PART + (f.seq - 1) * _NEXT_PART
    if start >= len(payload):
        return err(m, f, 0x02)
    end = start + _NEXT_PART
    return build_read_reply(m.address, f.di, payload[start:end], m.std, end < len(payload), f.seq,
                            m.preamble)


def _demand_snapshot(m):
    out = bytearray()
    for di in (0x0101FF00, 0x0102FF00):
        out += read_2007(m, di)
    return bytes(out) + b"\xff" * (192 - len(out))


def _meter_clear(m, f):
    if not m.authorized(f.password):
        return err(m, f, 0x04)
    before = bytearray()
    for di in (0x00010000, 0x00020000, 0x00050000, 0x00060000, 0x00070000, 0x00080000):
        before += read_2007(m, di)
    m.ledger.clear()
    m.clear_events()
    m.record_event("meter_clear", (dt6_text(m.local_s()), f.operator,
                                   bytes(before) + b"\xff" * (96 - len(before))))
    return ok(m, f)


def _event_clear(m, f):
    if not m.authorized(f.password):
        return err(m, f, 0x04)
    di = f.di
    if di == 0xFFFFFFFF:
        m.clear_events()
    else:
        kinds = []
        from ._meter import EVENT_BASES
        for kind in EVENT_BASES:
            if EVENT_BASES[kind] | 0xFF == di:
                kinds.append(kind)
        if not kinds:
            return err(m, f, 0x02)
        m.clear_events(kinds)
    m.record_event("event_clear", (dt6_text(m.local_s()), f.operator, struct.pack("<I", di)))
    return ok(m, f)


def _control(m, f):
    if not m.authorized(f.password):
        return err(m, f, 0x04)
    command, deadline = f.value
    if parse_local(deadline) < m.local_s():
        return err(m, f, 0x01)
    if command == 0x1A:
        if m.keep_power:
            return err(m, f, 0x01)
        m.relay_open = True
        m.relay_command = 1
    elif command in (0x1B, 0x1C):
        m.relay_open = False
        m.relay_command = 0
    elif command in (0x2A, 0x2B):
        m.alarm = command == 0x2A
    elif command in (0x3A, 0x3B):
        m.keep_power = command == 0x3A
        if m.keep_power:
            m.relay_open = False
            m.relay_command = 0
    else:
        return err(m, f, 0x01)
    return ok(m, f)


def _demand_reset(m, f):
    return demand_reset(m, f, _demand_snapshot(m))


HANDLERS = {0x11: _read, 0x12: _follow_up, 0x14: write, 0x15: write_address, 0x17: change_rate,
            0x18: change_password, 0x19: _demand_reset, 0x1A: _meter_clear, 0x1B: _event_clear,
            0x1C: _control}
