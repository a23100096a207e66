# MicroPython-compatible: see STYLE.md
"""Meter-side handling of each DL/T 645 function code (§8, §9, §19).

``dispatch(meter, frame, broadcast)`` takes a parsed request already known to
be of the meter's edition and addressed to it (or broadcast) and returns the
reply bytes or None. Functions both editions share live here; the others in
``_functions07`` / ``_functions97``, whose ``HANDLERS`` table the meter
loads for its own edition only (``Meter.handlers``). Rules:

* Broadcast (999999999999): act on 08H time sync and 16H freeze, never reply.
* Abnormal replies keep the request's function code (C = 0xC0 | f), §10:
  unknown or unavailable DI -> bit 1 (2007 D1/02, 1997 C1/02); wrong password
  -> bit 2; rate not supported -> 2007 bit 3 (D7/08), 1997 bit 0; anything
  else refused -> bit 0.
* 2007 reads whose value exceeds 196 bytes (L > 200, §8) go out in parts:
  B1 with the first 196 value bytes, then each 12H with SEQ n gets the next
  195 bytes as B2 (more follow) or 92 (last), SEQ appended. The split value
  is kept until the next 11H, so a master may repeat a 12H.
* 15H / 0AH (write address) are answered only in programming state; without
  it the meter stays silent (every meter on the line hears AA...AA).
* 1CH control is accepted in plain text with a valid password; a deadline
  already passed on the meter clock is refused (bit 0), as is a trip while
  "keep power" is on.
"""

import struct

from protocols.dlt645 import build_error_reply, build_reply, encode_address

from ._civil import dt6_text, parse_local, parse_time_of_day

_RATE_Z = {600: 0x02, 1200: 0x04, 2400: 0x08, 4800: 0x10, 9600: 0x20, 19200: 0x40}


def err(m, f, bits):
    return build_error_reply(m.address, f.function, bits, m.std, m.preamble)


def ok(m, f, data=b"", address=None):
    return build_reply(address or m.address, f.function, data, m.std, False, m.preamble)


def set_clock(m, f, local_s, operator):
    before = m.local_s()
    m.set_clock(local_s, m._now_s)
    m.record_event("time_setting", (operator, dt6_text(before), dt6_text(m.local_s())))


def _time_sync(m, f):
    """08H: set the clock unless the correction exceeds max_sync_correction_s (§8)."""
    target = parse_local(f.value)
    limit = m.max_sync_correction_s
    if limit and abs(target - m.clock_s(m._now_s)) > limit:
        m.sync_refused += 1
        return None
    set_clock(m, f, target, "00000000")
    return None


def _freeze(m, f, broadcast):
    if f.value == "99999999":
        m.ledger.freeze_now(m.local_minute())
    else:
        m.freeze_spec = f.value     # timed freeze schedule: kept, not acted on
    return None if broadcast else ok(m, f)


def write(m, f):
    """14H / 04H write data: password, then the writable DIs; others bit 0/1 (§8, §10)."""
    if not m.authorized(f.password):
        return err(m, f, 0x04)
    di = f.di
    value = f.value
    operator = f.operator or "00000000"
    if value is None or f.di_name is None:
        return err(m, f, 0x02 if f.di_name is None else 0x01)
    if di == 0x04000101 or di == 0xC010:
        set_clock(m, f, parse_local(value) + m.local_s() % 86400, operator)
        return ok(m, f)
    if di == 0x04000102 or di == 0xC011:
        day = m.local_s() // 86400 * 86400
        set_clock(m, f, day + parse_time_of_day(value), operator)
        return ok(m, f)
    if di == 0x04000402 or di == 0xC032:
        m.meter_number = value
    elif di == 0x04000403:
        m.asset_number = value
    elif di == 0xC033:
        m.user_number = value
    elif di == 0xC034:
        m.device_code = value
    elif di == 0x04000B01 or di == 0xC117:
        day = int(value[3:5])
        if day > 28:
            return err(m, f, 0x01)
        m.ledger.settlement_day = day
        m.ledger.settlement_hour = int(value[6:8])
    elif di == 0x04000703:
        if value not in m.bauds:
            return err(m, f, 0x08)
        m.baud = value
    else:
        return err(m, f, 0x01 if m.std == "2007" else 0x02)
    m.record_event("programming", (dt6_text(m.local_s()), operator,
                                   struct.pack("<I", di) + b"\xff" * 36))
    return ok(m, f)


def write_address(m, f):
    new = f.value
    if not m.programming or not new.isdigit() or new == "999999999999":
        return None
    m.address = new
    return ok(m, f, b"", new)


def change_rate(m, f):
    if f.value not in m.bauds:
        return err(m, f, 0x08 if m.std == "2007" else 0x01)
    reply = ok(m, f, bytes((_RATE_Z[f.value],)))
    m.baud = f.value    # the caller switches after sending the reply (§8)
    return reply


def change_password(m, f):
    old = f.password
    new = f.new_password
    if not m.authorized(old):
        return err(m, f, 0x04)
    if m.std == "2007":
        if f.di - 0x04000C01 != new[0]:
            return err(m, f, 0x01)
    if new[0] < old[0]:
        return err(m, f, 0x04)     # cannot create a higher privilege than one holds
    m.passwords[new[0]] = new[1]
    data = f.data[8:12] if m.std == "2007" else f.data[4:8]
    return ok(m, f, data)


def demand_reset(m, f, before=b"\xff" * 192):
    """19H / 10H: reset the current maximum demand (10H may carry no password, §9)."""
    if m.std == "2007" or f.password is not None:
        if not m.authorized(f.password):
            return err(m, f, 0x04)
    m.ledger.reset_demand()
    m.record_event("demand_reset", (dt6_text(m.local_s()), f.operator or "00000000", before))
    return ok(m, f)


def dispatch(m, f, broadcast):
    """Act on a parsed request; return the reply bytes or None (silence)."""
    fn = f.function
    if fn == 0x08:
        _time_sync(m, f)
        return None
    if fn == 0x16:
        return _freeze(m, f, broadcast)
    if broadcast:
        return None
    if fn == 0x13:
        return ok(m, f, encode_address(m.address))
    handler = m.handlers.get(fn)
    if handler is None:
        return None
    return handler(m, f)
