# MicroPython-compatible: see STYLE.md
"""Checking a meter config dict and filling in defaults.

A config is a plain dict (a TOML ``[[meter]]`` table or JSON). Every key but
``address`` is optional; unknown keys are rejected so a typo cannot silently
fall back to a default. ``check_config`` validates everything before the
meter changes any state and returns a new dict with every key present. The
keys, defaults and meanings are listed in the package docstring.

The rules are one table (``_RULES``) checked by one loop: small on a meter
board, and every message has the same shape, naming the meter, the key,
what was expected and what was given.
"""

from ._errors import MeterConfigError

# A residential day (hour 0..23), averaging exactly 1.0: low at night, a
# morning step, the evening peak at 19:00.
RESIDENTIAL_PROFILE = (0.50, 0.45, 0.42, 0.40, 0.42, 0.50, 0.75, 1.10, 1.05, 0.90, 0.85, 0.90,
                       1.05, 1.00, 0.90, 0.90, 1.00, 1.35, 1.80, 2.00, 1.95, 1.70, 1.30, 0.81)
# Rooftop PV over a day, averaging 1.0: nothing at night, noon maximum.
SOLAR_PROFILE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.10, 0.55, 1.35, 2.25, 3.00, 3.45,
                 3.60, 3.35, 2.80, 2.00, 1.10, 0.35, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0)
# A typical Chinese time-of-use day: 1 sharp, 2 peak, 3 flat, 4 valley.
# Valley 23:00-08:00, peak 08-11, 17-19 and 21-23, sharp 19-21, flat otherwise.
TOU_HOURS = (4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 2, 2, 4)
BAUDS = (600, 1200, 2400, 4800, 9600, 19200)

# Rule kinds: "i" whole number lo..hi, "f" number lo..hi (stored as float),
# "l" list of n numbers lo..hi, "d" string of n digits, "c" one of a tuple,
# "b" true/false, "a" ASCII text up to n characters, "s" a list from a tuple.
# key: (default, kind, a, b, c)
_RULES = {
    "address": (None, "d", 12, 0, 0),
    "std": ("2007", "c", ("2007", "1997"), 0, 0),
    "reply_delay_ms": (50, "i", 20, 500, 0),
    "preamble": (4, "c", (0, 4), 0, 0),
    "password": ("000000", "d", 6, 0, 0),
    "password_level": (2, "i", 0, 9, 0),
    "programming": (False, "b", 0, 0, 0),
    "phases": (3, "c", (1, 3), 0, 0),
    "phase_shares": (None, "l", 3, 0.0, 1e6),
    "base_kw": (1.2, "f", 0.0, 30.0, 0),
    "export_kw": (0.0, "f", 0.0, 30.0, 0),
    "profile": (RESIDENTIAL_PROFILE, "l", 24, 0.0, 10.0),
    "export_profile": (SOLAR_PROFILE, "l", 24, 0.0, 10.0),
    "load_variation": (0.1, "f", 0.0, 0.9, 0),
    "seed": (None, "i", 0, 0x7FFFFFFF, 0),
    "tariff_hours": (TOU_HOURS, "l", 24, 1, 4),
    "start_kwh": (0.0, "f", 0.0, 700000.0, 0),
    "history_days": (400, "i", 0, 3660, 0),
    "daily_freezes_kept": (62, "i", 1, 62, 0),
    "settlement_day": (1, "i", 1, 28, 0),
    "settlement_hour": (0, "i", 0, 23, 0),
    "utc_offset_s": (28800, "i", -43200, 50400, 0),
    "clock_drift_ppm": (0.0, "f", -1000.0, 1000.0, 0),
    "clock_offset_s": (0.0, "f", -1e8, 1e8, 0),
    "max_sync_correction_s": (0.0, "f", 0.0, 1e8, 0),
    "voltage_v": (220.0, "f", 50.0, 500.0, 0),
    "frequency_hz": (50.0, "f", 40.0, 70.0, 0),
    "power_factor": (0.95, "f", 0.1, 1.0, 0),
    "temperature_c": (25.0, "f", -40.0, 85.0, 0),
    "meter_number": (None, "d", 12, 0, 0),
    "asset_number": (None, "a", 32, 0, 0),
    "rated_current_a": (5, "i", 1, 99, 0),
    "max_current_a": (60, "i", 1, 999, 0),
    "meter_constant": (1200, "i", 1, 999999, 0),
    "baud": (None, "c", BAUDS, 0, 0),
    "bauds": ((1200, 2400, 4800, 9600), "s", BAUDS, 0, 0),
}
DEFAULTS = {}
for _key in _RULES:
    DEFAULTS[_key] = _RULES[_key][0]


def _fail(address, key, expected, got):
    raise MeterConfigError("meter %s: config key %r must be %s, got %r" % (address, key, expected, got),
                           address=address, key=key, expected=expected, got=got)


def _is_num(x, lo, hi):
    return not isinstance(x, bool) and isinstance(x, (int, float)) and lo <= x <= hi


def _check(key, v, address):
    """Check one value by its rule; return it normalised (floats, tuples)."""
    kind, a, b = _RULES[key][1:4]
    if kind == "i":
        if isinstance(v, int) and _is_num(v, a, b):
            return v
        _fail(address, key, "a whole number from %d to %d" % (a, b), v)
    if kind == "f":
        if _is_num(v, a, b):
            return float(v)
        _fail(address, key, "a number from %r to %r" % (a, b), v)
    if kind == "l":
        hi = _RULES[key][4]
        ints = key == "tariff_hours"
        if isinstance(v, (list, tuple)) and len(v) == a:
            for x in v:
                if not _is_num(x, b, hi) or (ints and not isinstance(x, int)):
                    break
            else:
                return tuple(v) if ints else tuple([float(x) for x in v])
        what = "tariff numbers 1-4" if ints else "numbers from %r to %r" % (b, hi)
        _fail(address, key, "a list of %d %s" % (a, what), v)
    if kind == "d":
        if isinstance(v, str) and len(v) == a and v.isdigit():
            return v
        _fail(address, key, "a string of %d digits" % a, v)
    if kind == "c":
        if not isinstance(v, bool) and v in a:
            return v
        _fail(address, key, " or ".join([repr(x) for x in a]), v)
    if kind == "b":
        if isinstance(v, bool):
            return v
        _fail(address, key, "true or false", v)
    if kind == "a":
        if isinstance(v, str) and len(v) <= a and len(v.encode()) == len(v):
            return v
        _fail(address, key, "ASCII text of at most %d characters" % a, v)
    if isinstance(v, (list, tuple)) and v:
        for x in v:
            if isinstance(x, bool) or x not in a:
                break
        else:
            return tuple(v)
    _fail(address, key, "a non-empty list of rates from %r" % (a,), v)


def check_config(config):
    """Validate a meter config and return it complete (defaults filled in).

    Args:
        config: dict of the keys listed in the package docstring.

    Returns:
        a new dict with every key of ``DEFAULTS``.

    Raises:
        MeterConfigError: naming the key, the meter address and what was expected.
    """
    if not isinstance(config, dict):
        raise MeterConfigError("meter config must be a dict, got %r" % (config,), expected="dict", got=config)
    address = config.get("address")
    if not isinstance(address, str) or len(address) != 12 or not address.isdigit() \
            or address == "999999999999":
        raise MeterConfigError("meter %r: config key 'address' must be a string of 12 digits "
                               "(not the broadcast 999999999999), got %r" % (address, address),
                               key="address", expected="12 digits", got=address)
    for key in config:
        if key not in _RULES:
            _fail(address, key, "one of the meter keys (%s)" % ", ".join(sorted(_RULES)), key)
    cfg = {}
    for key in _RULES:
        v = config.get(key, DEFAULTS[key])
        if key == "std" and v in (2007, 1997):
            v = str(v)
        cfg[key] = v if v is None else _check(key, v, address)
    if cfg["phases"] == 1:
        cfg["phase_shares"] = (1.0,)
    elif cfg["phase_shares"] is None:
        cfg["phase_shares"] = (1.0 / 3, 1.0 / 3, 1.0 / 3)
    else:
        total = sum(cfg["phase_shares"])
        if total <= 0:
            _fail(address, "phase_shares", "3 numbers with a positive sum", config["phase_shares"])
        cfg["phase_shares"] = tuple([x / total for x in cfg["phase_shares"]])
    for key, profile in (("base_kw", "profile"), ("export_kw", "export_profile")):
        # §5: signed power fields reach 79.9999 kW; keep the peak hour inside.
        if cfg[key] * max(cfg[profile]) * (1.0 + cfg["load_variation"]) >= 79.0:
            _fail(address, key, "small enough that %s x max(%s) x (1 + load_variation) stays below 79 kW, "
                  "the limit of the signed power format XX.XXXX (DL/T 645 §5)" % (key, profile), cfg[key])
    if cfg["utc_offset_s"] % 900:
        _fail(address, "utc_offset_s", "a multiple of 900 s", cfg["utc_offset_s"])
    if cfg["seed"] is None:
        cfg["seed"] = int(address) % 2147483647
    for key in ("meter_number", "asset_number"):
        if cfg[key] is None:
            cfg[key] = address
    if cfg["baud"] is None:
        cfg["baud"] = 2400 if cfg["std"] == "2007" else 1200
    return cfg
