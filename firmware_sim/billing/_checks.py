"""Checks of request fields shared by the back office and the providers.

Every check raises ``RequestError`` (HTTP 400 or 422) naming the field, what
was expected and what was got, so a bad request changes nothing (promise 6).
Money is always an integer number of fen; a float, a bool or a text is
refused rather than rounded. Account numbers appear in messages only masked.
"""

import datetime
import json
import re

from ._errors import RequestError

KEY_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")      # same alphabet as a payment record's intent
ACCOUNT_RE = re.compile(r"[0-9]{6,20}\Z")
TERMINAL_RE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
DAY_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")
MAX_FEN = 10 ** 11                                    # the payment record's bound: 1 billion yuan
METHODS = ("cash", "card", "qr", "bank", "manual")    # the payment record's methods
# The hall's business day is its local day; China keeps UTC+8 all year (no DST).
HALL_UTC_OFFSET_MS = 8 * 3600 * 1000


def mask(number):
    """``"3100012345"`` -> ``"******2345"``: stars and the last 4 characters (all stars if 4 or fewer)."""
    text = str(number)
    if len(text) <= 4:
        return "*" * max(len(text), 4)
    return "*" * (len(text) - 4) + text[-4:]


def parse_object(raw):
    """Parse a request body that must be one JSON object.

    Raises:
        RequestError: 400 bad-json (not UTF-8, not JSON, or not an object).
    """
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, "bad-json", "request body is not valid JSON: %s" % exc) from exc
    if not isinstance(value, dict):
        raise RequestError(400, "bad-json", "request body must be a JSON object, got %s" % type(value).__name__)
    return value


def only_keys(body, allowed, where="request"):
    """Refuse keys the endpoint does not know (a typo must not be silently ignored)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise RequestError(422, "unknown-field", "%s has unknown field(s) %s; allowed: %s"
                           % (where, ", ".join(unknown), ", ".join(sorted(allowed))), field=unknown[0])


def required(body, name, where="request"):
    if name not in body or body[name] is None:
        raise RequestError(422, "missing-field", "%s needs field %r" % (where, name), field=name)
    return body[name]


def check_key(value, name="key"):
    if not isinstance(value, str) or not KEY_RE.match(value):
        raise RequestError(422, "bad-field", "%s must be 1-64 characters of A-Z a-z 0-9 . _ : -, got %s"
                           % (name, _show(value)), field=name)
    return value


def check_account(value, name="account"):
    if not isinstance(value, str) or not ACCOUNT_RE.match(value):
        shown = mask(value) if isinstance(value, str) else type(value).__name__
        raise RequestError(422, "bad-field", "%s must be a text of 6-20 digits, got %s" % (name, shown), field=name)
    return value


def check_amount(value, name="amount_fen"):
    if type(value) is not int:
        raise RequestError(422, "bad-field", "%s must be an integer number of fen, got %s"
                           % (name, _show(value)), field=name)
    if not 1 <= value <= MAX_FEN:
        raise RequestError(422, "bad-field", "%s must be 1-%d fen, got %d" % (name, MAX_FEN, value), field=name)
    return value


def check_choice(value, name, choices):
    if value not in choices:
        raise RequestError(422, "bad-field", "%s must be one of %s, got %s" % (name, ", ".join(choices),
                                                                               _show(value)), field=name)
    return value


def check_terminal(value, name="terminal"):
    if not isinstance(value, str) or not TERMINAL_RE.match(value):
        raise RequestError(422, "bad-field", "%s must be 1-32 characters of A-Z a-z 0-9 . _ -, got %s"
                           % (name, _show(value)), field=name)
    return value


def check_day(value, name="day"):
    if not isinstance(value, str) or not DAY_RE.match(value):
        raise RequestError(422, "bad-field", "%s must be a date YYYY-MM-DD, got %s" % (name, _show(value)),
                           field=name)
    return value


def check_t_ms(value, name):
    if type(value) is not int or not 0 <= value < 2 ** 53:
        raise RequestError(422, "bad-field", "%s must be UTC milliseconds (an integer), got %s"
                           % (name, _show(value)), field=name)
    return value


def hall_day(t_ms):
    """The hall's business day (UTC+8) of a UTC time in ms, as ``YYYY-MM-DD``."""
    seconds = (t_ms + HALL_UTC_OFFSET_MS) // 1000
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d")


def _show(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
