"""A device's runtime configuration: where its data lives, how it reaches the hall,
and the bounds of its outbox.

The device tables of a kiosk's or concentrator's TOML file (the application's
own tables, such as a concentrator's lines, sit beside them and are its
business)::

    [device]
    data_dir = "data"                 # identity files and outbox.db (0700)
    kind = "concentrator"             # optional: checked against the identity

    [hall]
    broker = "hall.local:8883"        # HOST:PORT of the hall's Mosquitto (TLS)
    ca = "tls/ca.crt"                 # the hall CA
    cert = "tls/conc-a1.crt"          # this device's client certificate
    key = "tls/conc-a1.key"           # and its key

    [outbox]                          # optional, every key optional
    max_records = 2000000
    max_bytes = 1073741824
    alarm_at = 0.9
    window = 1000

    [publisher]                       # optional, every key optional
    max_inflight = 20
    ack_timeout_s = 30
    backoff_min_s = 0.5
    backoff_max_s = 60
    keepalive_s = 30

Relative paths are relative to the file's directory. Validation happens
before anything is opened; each error names the file, the table and key, what
was expected and what was found.
"""

import os
import tomllib
from pathlib import Path

from ._errors import ConfigError

# An outbox bound that a Raspberry Pi's SD card holds easily, and a day of
# 15-minute readings of 2,000 meters with ten items each (1.9 M records) fits.
DEFAULT_MAX_RECORDS = 2_000_000
DEFAULT_MAX_BYTES = 1 << 30

_DEVICE_KINDS = ("concentrator", "kiosk")


class _Num:
    def __init__(self, kind, low, high, default):
        self.kind, self.low, self.high, self.default = kind, low, high, default

    def check(self, value):
        if self.kind is int and (type(value) is not int):
            return "an integer"
        if self.kind is float and (type(value) not in (int, float)):
            return "a number"
        if not self.low <= value <= self.high:
            return "a value from %s to %s" % (self.low, self.high)
        return None


_OUTBOX_KEYS = {
    "max_records": _Num(int, 1, 2 ** 62, DEFAULT_MAX_RECORDS),
    "max_bytes": _Num(int, 1, 2 ** 62, DEFAULT_MAX_BYTES),
    "alarm_at": _Num(float, 0.01, 1.0, 0.9),
    "window": _Num(int, 1, 100_000, 1000),
}
_PUBLISHER_KEYS = {
    "max_inflight": _Num(int, 1, 65535, 20),
    "ack_timeout_s": _Num(float, 0.1, 86400, 30.0),
    "backoff_min_s": _Num(float, 0.01, 3600, 0.5),
    "backoff_max_s": _Num(float, 0.01, 86400, 60.0),
    "keepalive_s": _Num(int, 5, 3600, 30),
}


class DeviceConfig:
    """The validated device tables.

    Attributes:
        source: the file it came from (or None).
        data_dir: Path of the identity and outbox.
        kind: the expected device kind, or None.
        broker: (host, port).
        tls: (ca, cert, key) paths.
        outbox: dict of ``edge.outbox.Limits`` arguments.
        publisher: dict of ``edge.publisher.Publisher`` keyword arguments.
    """

    def __init__(self, source, data_dir, kind, broker, tls, outbox, publisher):
        self.source = source
        self.data_dir = data_dir
        self.kind = kind
        self.broker = broker
        self.tls = tls
        self.outbox = outbox
        self.publisher = publisher

    @property
    def outbox_path(self):
        return self.data_dir / "outbox.db"

    def __repr__(self):
        return "DeviceConfig(data_dir=%s, broker=%s:%d)" % (self.data_dir, self.broker[0], self.broker[1])


def _fail(source, where, message):
    raise ConfigError("%s: %s: %s" % (source or "<config>", where, message), path=source, key=where)


def parse_broker_address(text, source=None, where="hall.broker"):
    """``HOST:PORT`` (an IPv6 host in brackets) -> (host, port). Raises ConfigError."""
    if not isinstance(text, str):
        _fail(source, where, "expected HOST:PORT text, got %r" % (text,))
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        _fail(source, where, "expected HOST:PORT such as \"hall.local:8883\", got %r" % text)
    return host, int(port)


def _table(doc, name, source, required):
    table = doc.get(name)
    if table is None:
        if required:
            _fail(source, "[%s]" % name, "the table is missing")
        return {}
    if not isinstance(table, dict):
        _fail(source, name, "expected a table [%s], got %s" % (name, type(table).__name__))
    return table


def _unknown(table, name, allowed, source):
    for key in table:
        if key not in allowed:
            _fail(source, "%s.%s" % (name, key), "unknown key; the keys are %s" % ", ".join(sorted(allowed)))


def _numbers(table, name, spec, source):
    _unknown(table, name, spec, source)
    out = {}
    for key, rule in spec.items():
        value = table.get(key, rule.default)
        complaint = rule.check(value) if not isinstance(value, bool) else "a number, not true/false"
        if complaint:
            _fail(source, "%s.%s" % (name, key), "expected %s, got %r" % (complaint, value))
        out[key] = rule.kind(value)
    return out


def _path(base, table, name, key, source):
    value = table.get(key)
    if value is None:
        _fail(source, "%s.%s" % (name, key), "missing (a file path)")
    if not isinstance(value, str) or not value:
        _fail(source, "%s.%s" % (name, key), "expected a path, got %r" % (value,))
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def parse_device_config(doc, source=None, base=None):
    """The device tables of a parsed TOML document.

    Args:
        doc: the document (a dict); tables other than device, hall, outbox and
            publisher are ignored here.
        source: the file name for messages.
        base: the directory relative paths start from (default: the file's).

    Returns:
        A ``DeviceConfig``. Files are not opened; a missing TLS file is found
        when the publisher connects, with its name.

    Raises:
        ConfigError: what is wrong and where.
    """
    if base is None:
        base = Path(source).resolve().parent if source else Path.cwd()
    base = Path(base)
    device = _table(doc, "device", source, True)
    _unknown(device, "device", ("data_dir", "kind"), source)
    data_dir = _path(base, device, "device", "data_dir", source)
    kind = device.get("kind")
    if kind is not None and kind not in _DEVICE_KINDS:
        _fail(source, "device.kind", "expected one of %s, got %r" % (", ".join(_DEVICE_KINDS), kind))
    hall = _table(doc, "hall", source, True)
    _unknown(hall, "hall", ("broker", "ca", "cert", "key"), source)
    if "broker" not in hall:
        _fail(source, "hall.broker", "missing (HOST:PORT of the hall's broker)")
    broker = parse_broker_address(hall["broker"], source)
    tls = tuple(_path(base, hall, "hall", key, source) for key in ("ca", "cert", "key"))
    outbox = _numbers(_table(doc, "outbox", source, False), "outbox", _OUTBOX_KEYS, source)
    publisher = _numbers(_table(doc, "publisher", source, False), "publisher", _PUBLISHER_KEYS, source)
    if publisher["backoff_max_s"] < publisher["backoff_min_s"]:
        _fail(source, "publisher.backoff_max_s", "must not be below backoff_min_s (%s), got %s"
              % (publisher["backoff_min_s"], publisher["backoff_max_s"]))
    return DeviceConfig(source, data_dir, kind, broker, tls, outbox, publisher)


def read_toml(path):
    """A TOML file as a dict. Raises ConfigError naming the file (and the line of a syntax error)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("%s: no such file" % path, path=str(path)) from None
    except OSError as exc:
        raise ConfigError("%s: cannot read: %s" % (path, exc.strerror or exc), path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("%s: not valid TOML: %s" % (path, exc), path=str(path)) from exc


def load_device_config(path):
    """``parse_device_config`` of a TOML file. Raises ConfigError."""
    return parse_device_config(read_toml(path), source=str(path))
