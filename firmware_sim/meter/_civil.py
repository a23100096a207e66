# MicroPython-compatible: see STYLE.md
"""Calendar arithmetic for the meter clock, without ``datetime``.

The meter keeps its local clock as epoch-style seconds (or ms, or minutes):
local civil time counted as if it were UTC since 1970-01-01. Day boundaries
are then multiples of 86400 s, so midnight freezes and hourly tariffs are
plain integer arithmetic. Conversions use H. Hinnant's days-from-civil
algorithm (integer only, identical on CPython and MicroPython).

Texts are the ISO forms the DL/T 645 codec uses for time formats (§5):
``2026-11-23T08:30:00`` (YYMMDDhhmmss), ``2026-11-23T08:30`` (YYMMDDhhmm),
``2026-11-23`` (YYMMDDWW), ``08:30:00`` (hhmmss), ``--11-23T08:30`` (MMDDhhmm).
"""

DAY_S = 86400


def days_to_civil(z):
    """Days since 1970-01-01 -> (year, month, day)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (yoe + era * 400 + (1 if m <= 2 else 0), m, d)


def civil_to_days(y, m, d):
    """(year, month, day) -> days since 1970-01-01."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def fields(local_s):
    """Local epoch seconds (int or float) -> (Y, M, D, h, m, s), s truncated."""
    t = int(local_s // 1)
    days = t // DAY_S
    sec = t - days * DAY_S
    y, mo, d = days_to_civil(days)
    return (y, mo, d, sec // 3600, (sec // 60) % 60, sec % 60)


def dt6_text(local_s):
    """YYMMDDhhmmss text of a local time in seconds."""
    return "%04d-%02d-%02dT%02d:%02d:%02d" % fields(local_s)


def dt5_text(local_min):
    """YYMMDDhhmm text of a local time in minutes; None stays None (no data)."""
    if local_min is None:
        return None
    return dt6_text(local_min * 60)[:16]


def date_text(local_s):
    """YYMMDD text (the codec adds the weekday)."""
    return dt6_text(local_s)[:10]


def time_text(local_s):
    """hhmmss text."""
    return dt6_text(local_s)[11:]


def mdhm_text(local_min):
    """MMDDhhmm text (DL/T 645-1997 demand and event times); None stays None."""
    if local_min is None:
        return None
    return "--" + dt6_text(local_min * 60)[5:16]


def parse_local(text):
    """ISO text (``YYYY-MM-DD``, ``...Thh:mm`` or ``...Thh:mm:ss``) -> local seconds.

    Raises:
        ValueError: not one of those shapes.
    """
    if not isinstance(text, str) or len(text) not in (10, 16, 19):
        raise ValueError("expected YYYY-MM-DD[Thh:mm[:ss]], got %r" % (text,))
    days = civil_to_days(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    s = 0
    if len(text) > 10:
        s = int(text[11:13]) * 3600 + int(text[14:16]) * 60
        if len(text) == 19:
            s += int(text[17:19])
    return days * DAY_S + s


def parse_time_of_day(text):
    """``hh:mm:ss`` -> seconds since midnight."""
    return int(text[0:2]) * 3600 + int(text[3:5]) * 60 + int(text[6:8])
