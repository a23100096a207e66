"""Configuration of simulated Modbus meters and of the server that hosts them.

A meter config is a plain dict (one ``[[meter]]`` table of a TOML file).
``check_meter`` validates it before anything is built and returns a full
copy with defaults filled in; every error names the file, the entry, the
unit id and the key, and says what was expected and what was found.

Meter keys (``unit`` and ``model`` are required):

=================== ============ ================================================
key                 default      meaning
=================== ============ ================================================
unit                (required)   Modbus unit id (slave address) 1-247, unique
model               (required)   a model id from ``protocols.modbus_maps``
base_kw             1.2 / 6.0    average load in kW (single / three phase)
export_kw           0.0          average generation (PV) in kW, solar-shaped
profile             residential  24 hourly load factors (default averages 1.0)
load_variation      0.1          0-0.9: each hour's load x (1 +- v)
seed                from unit    deterministic per-hour variation
power_factor        0.95         0.1-1.0
voltage_v           220.0        nominal phase voltage
frequency_hz        50.0         grid frequency
start_kwh           0.0          forward active energy at the start
start_export_kwh    0.0          reverse active energy at the start
utc_offset_s        28800        local time (Beijing) for the profile's hours
phase_shares        equal        3 numbers: how P splits over phases A, B, C
reply_delay_ms      20           0-5000: time before the meter answers
ct_ratio            1            1-9999, shown in the DTSU666 IrAt register
pt_ratio            1.0          0.1-999.9, shown in the DTSU666 UrAt register
software_version    100          shown in the DTSU666 REV. register
=================== ============ ================================================
"""

import datetime
import tomllib

from protocols.modbus_maps import ModbusMapError, get_model, model_names

from ._errors import ModbusSimConfigError

# A working household: low at night, peaks in the morning and evening;
# averages 1.0 so that base_kw is the mean load.
RESIDENTIAL = (0.45, 0.4, 0.38, 0.36, 0.36, 0.42, 0.7, 1.1, 1.05, 0.85, 0.8, 0.9,
               1.0, 0.9, 0.85, 0.9, 1.05, 1.45, 1.9, 2.0, 1.85, 1.55, 1.1, 0.69)
# Generation of a rooftop PV system by local hour, averaging 1.0.
SOLAR = (0, 0, 0, 0, 0, 0.1, 0.6, 1.4, 2.3, 3.0, 3.5, 3.7,
         3.6, 3.3, 2.7, 1.9, 1.0, 0.35, 0.05, 0, 0, 0, 0, 0)

TRANSPORTS = ("tcp", "rtu-pty")
SERVER_DEFAULTS = {"transport": "tcp", "host": "127.0.0.1", "port": 0, "time_scale": 1.0, "start_utc": None}

_NUMBER_KEYS = {
    # key: (default or None for per-model, low, high)
    "base_kw": (None, 0.0, 1000.0),
    "export_kw": (0.0, 0.0, 1000.0),
    "load_variation": (0.1, 0.0, 0.9),
    "power_factor": (0.95, 0.1, 1.0),
    "voltage_v": (220.0, 50.0, 500.0),
    "frequency_hz": (50.0, 45.0, 65.0),
    "start_kwh": (0.0, 0.0, 999999.99),
    "start_export_kwh": (0.0, 0.0, 999999.99),
    "pt_ratio": (1.0, 0.1, 999.9),
}
_INT_KEYS = {
    "seed": (None, 0, 2 ** 32 - 1),
    "utc_offset_s": (28800, -43200, 50400),
    "reply_delay_ms": (20, 0, 5000),
    "ct_ratio": (1, 1, 9999),
    "software_version": (100, 0, 32767),
}
KEYS = ("unit", "model", "profile", "phase_shares") + tuple(_NUMBER_KEYS) + tuple(_INT_KEYS)


def _where(path, index, unit):
    parts = []
    if path:
        parts.append("%s:" % path)
    text = "meter %d" % index if index is not None else "meter"
    if unit is not None:
        text += " (unit %s)" % unit
    parts.append(text)
    return " ".join(parts)


def check_meter(config, path=None, index=None):
    """Validate one meter config and fill in the defaults.

    Args:
        config: dict of meter keys (see the module docstring).
        path, index: where it came from, for messages.

    Returns:
        a new dict with every key.

    Raises:
        ModbusSimConfigError: a missing, unknown or bad key.
    """
    if not isinstance(config, dict):
        raise ModbusSimConfigError("%s: must be a table of keys, got %r" % (_where(path, index, None), config),
                                   path=path, index=index)
    unit = config.get("unit")

    def fail(key, text):
        raise ModbusSimConfigError("%s: key %r %s" % (_where(path, index, unit), key, text),
                                   path=path, index=index, unit=unit, key=key)

    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        fail(unknown[0], "is not a meter key; keys are: %s" % ", ".join(KEYS))
    if type(unit) is not int or not 1 <= unit <= 247:
        fail("unit", "must be a whole number from 1 to 247 (the Modbus unit id), got %r" % (unit,))
    try:
        model = get_model(config.get("model"))
    except ModbusMapError:
        fail("model", "must be one of %s, got %r" % (", ".join(model_names()), config.get("model")))
    out = {"unit": unit, "model": model.name}
    for key, (default, low, high) in _NUMBER_KEYS.items():
        if default is None:
            default = 1.2 if model.phases == 1 else 6.0
        value = config.get(key, default)
        if type(value) not in (int, float) or not low <= value <= high:
            fail(key, "must be a number from %g to %g, got %r" % (low, high, value))
        out[key] = float(value)
    for key, (default, low, high) in _INT_KEYS.items():
        if default is None:
            default = (unit * 2654435761) & 0xFFFFFFFF
        value = config.get(key, default)
        if type(value) is not int or not low <= value <= high:
            fail(key, "must be a whole number from %d to %d, got %r" % (low, high, value))
        out[key] = value
    profile = config.get("profile", RESIDENTIAL)
    if (not isinstance(profile, (list, tuple)) or len(profile) != 24
            or any(type(x) not in (int, float) or x < 0 for x in profile)):
        fail("profile", "must be 24 numbers >= 0 (one per local hour), got %r" % (profile,))
    out["profile"] = tuple(float(x) for x in profile)
    shares = config.get("phase_shares", (1 / 3, 1 / 3, 1 / 3) if model.phases == 3 else (1.0,))
    if (not isinstance(shares, (list, tuple)) or len(shares) != model.phases
            or any(type(x) not in (int, float) or x < 0 for x in shares) or abs(sum(shares) - 1.0) > 1e-6):
        fail("phase_shares", "must be %d number(s) >= 0 summing to 1 for a %d-phase %s, got %r"
             % (model.phases, model.phases, model.name, shares))
    out["phase_shares"] = tuple(float(x) for x in shares)
    return out


def check_meters(configs, path=None):
    """Validate a list of meter configs; unit ids must be unique. Returns the filled-in copies."""
    if not isinstance(configs, (list, tuple)) or not configs:
        raise ModbusSimConfigError("%sat least one meter is needed" % ("%s: " % path if path else ""), path=path)
    out = []
    seen = {}
    for i, config in enumerate(configs):
        meter = check_meter(config, path, i)
        if meter["unit"] in seen:
            raise ModbusSimConfigError("%s: unit %d is already used by meter %d"
                                       % (_where(path, i, meter["unit"]), meter["unit"], seen[meter["unit"]]),
                                       path=path, index=i, unit=meter["unit"], key="unit")
        seen[meter["unit"]] = i
        out.append(meter)
    return out


def load_modbus_config(path):
    """Read a Modbus meters TOML file: ``[server]``, ``[[meter]]`` and ``[[fault]]`` tables.

    Returns:
        (meters, settings, faults): checked meter dicts, the server settings
        (``SERVER_DEFAULTS`` keys; ``start_utc`` epoch seconds or None) and
        fault dicts (``unit``, ``kind`` and parameters, checked when the
        server applies them).

    Raises:
        ModbusSimConfigError: unreadable file, bad TOML, or a bad table or key.
    """
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ModbusSimConfigError("cannot read %s: %s" % (path, exc.strerror or exc), path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModbusSimConfigError("%s is not valid TOML: %s" % (path, exc), path=path) from exc
    unknown = sorted(set(doc) - {"server", "meter", "fault"})
    if unknown:
        raise ModbusSimConfigError("%s: unknown table %r; tables are [server], [[meter]], [[fault]]"
                                   % (path, unknown[0]), path=path, key=unknown[0])
    settings = dict(SERVER_DEFAULTS)
    server = doc.get("server", {})
    if not isinstance(server, dict):
        raise ModbusSimConfigError("%s: [server] must be a table" % path, path=path, key="server")
    for key, value in server.items():
        if key not in SERVER_DEFAULTS:
            raise ModbusSimConfigError("%s: [server] key %r is unknown; keys are: %s"
                                       % (path, key, ", ".join(SERVER_DEFAULTS)), path=path, key=key)
        settings[key] = value
    check_settings(settings, path)
    faults = doc.get("fault", [])
    if not isinstance(faults, list) or not all(isinstance(f, dict) for f in faults):
        raise ModbusSimConfigError("%s: faults must be [[fault]] tables" % path, path=path, key="fault")
    return check_meters(doc.get("meter", []), path), settings, [dict(f) for f in faults]


def check_settings(settings, path=None):
    """Validate server settings in place (``start_utc`` becomes epoch seconds or None).

    Raises:
        ModbusSimConfigError: a bad value.
    """
    where = "%s: [server]" % path if path else "server"

    def fail(key, text):
        raise ModbusSimConfigError("%s key %r %s" % (where, key, text), path=path, key=key)

    if settings["transport"] not in TRANSPORTS:
        fail("transport", "must be \"tcp\" or \"rtu-pty\", got %r" % (settings["transport"],))
    if type(settings["port"]) is not int or not 0 <= settings["port"] <= 65535:
        fail("port", "must be a whole number from 0 to 65535, got %r" % (settings["port"],))
    if not isinstance(settings["host"], str) or not settings["host"]:
        fail("host", "must be an address text, got %r" % (settings["host"],))
    scale = settings["time_scale"]
    if type(scale) not in (int, float) or not 0 <= scale <= 1e6:
        fail("time_scale", "must be a number from 0 (frozen) to 1000000, got %r" % (scale,))
    settings["time_scale"] = float(scale)
    start = settings["start_utc"]
    if isinstance(start, datetime.datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=datetime.timezone.utc)
        settings["start_utc"] = start.timestamp()
    elif start is not None and type(start) not in (int, float):
        fail("start_utc", "must be a TOML date-time such as 2024-06-01T00:00:00Z, got %r" % (start,))
    return settings
